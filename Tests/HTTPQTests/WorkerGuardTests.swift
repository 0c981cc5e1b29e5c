import Foundation
import Glibc
import Testing

@testable import HTTPQ

/// The address checks, the proxy and the low-speed rule as a running worker applies them,
/// with the channel settings `httpq.claim` hands over.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct WorkerGuardTests {
    /// A fresh channel that may reach public addresses only, with quick retries.
    func publicOnlyChannel(_ database: Connection, _ name: String) throws -> String {
        let channel = "t-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        try database.fastRetries(channel)
        return channel
    }

    @Test("Refuses a loopback destination at once, dead after one attempt, and delivers once the channel allows it")
    func refusedThenAllowed() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try publicOnlyChannel(database, "guard")
        let worker = try InProcessWorker(channels: [channel])
        let refused = try database.enqueue(url: server.url("/refused"), channel: channel)
        #expect(try database.waitFinished([refused]))
        let row = try database.request(refused)
        #expect(row.state == "dead")
        #expect(row.attempts == 1)
        #expect(
            row.lastError
                == "refused to connect to 127.0.0.1 port \(server.port): loopback address (127.0.0.0/8); allow it with "
                + "SELECT httpq.set_channel('\(channel)', allowed_networks => '{127.0.0.0/8}')")
        #expect(server.connections == 0)

        _ = try database.execute(
            "SELECT httpq.set_channel($1, allowed_networks => '{127.0.0.0/8}')", [channel])
        let allowed = try database.enqueue(url: server.url("/allowed"), channel: channel)
        #expect(try database.waitFinished([allowed]))
        #expect(worker.stop() == .clean)
        #expect(try database.request(allowed).state == "delivered")
        #expect(server.requests.map(\.path) == ["/allowed"])
    }

    @Test("Ignores http_proxy, HTTP_PROXY, https_proxy and ALL_PROXY in the worker's environment")
    func environmentProxyIgnored() throws {
        let trap = try TestHTTPServer { _ in .status(502) }
        defer { trap.stop() }
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("env-proxy")
        let id = try database.enqueue(url: server.url("/direct"), channel: channel)
        let proxy = "http://127.0.0.1:\(trap.port)"
        let process = try WorkerProcess(
            ["--channels", channel, "--poll-interval", "0.2"],
            environment: [
                "http_proxy": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "HTTPS_PROXY": proxy,
                "ALL_PROXY": proxy, "all_proxy": proxy,
            ])
        #expect(try database.waitFinished([id]))
        process.send(SIGTERM)
        #expect(process.waitExit(timeout: .seconds(10)) == 0, "worker log:\n\(process.log)")
        #expect(try database.request(id).state == "delivered")
        #expect(server.requests.map(\.path) == ["/direct"])
        #expect(trap.connections == 0)
    }

    @Test("With --proxy, requests go through the proxy, which judges the destination")
    func configuredProxy() throws {
        let proxy = try TestHTTPServer { _ in .status(202) }
        defer { proxy.stop() }
        let destination = try ClosedPort()
        let database = try TestDatabase.connect()
        let channel = try publicOnlyChannel(database, "proxy")
        let url = "http://127.0.0.1:\(destination.port)/hook"
        let id = try database.enqueue(url: url, channel: channel)
        let worker = try InProcessWorker(
            channels: [channel], flags: [Setting.proxy.flag: "http://127.0.0.1:\(proxy.port)"])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)
        let row = try database.request(id)
        #expect(row.state == "delivered")
        #expect(row.lastStatus == 202)
        #expect(proxy.requests.map(\.path) == [url])
    }

    @Test("Ends an attempt whose response stalls after the status line, well before its timeout")
    func lowSpeed() throws {
        let server = try TestHTTPServer { _ in
            TestHTTPServer.Reply(raw: Array("HTTP/1.1 200 OK\r\n".utf8), holdOpen: true)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("stall")
        try database.fastRetries(channel)
        let id = try database.enqueue(
            url: server.url("/stall"), channel: channel, maxAttempts: 1, timeoutMilliseconds: 30_000)
        let worker = try InProcessWorker(channels: [channel], flags: [Setting.lowSpeedTime.flag: "1"])
        #expect(try database.waitFinished([id], timeout: .seconds(15)))
        #expect(worker.stop() == .clean)
        let row = try database.request(id)
        #expect(row.state == "dead")
        #expect(
            row.lastError
                == "the transfer stalled: less than 1 byte per second for 1 seconds (--low-speed-limit, --low-speed-time)"
        )
    }
}
