import Foundation
import Glibc
import Testing

@testable import HTTPQ

/// The real `httpq work` process stopped by SIGTERM or killed outright, and a second worker
/// finishing what it left.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct StopTests {
    @Test("SIGTERM mid-flight releases the claims, exits 0, and a second worker delivers the rest")
    func sigtermReleases() throws {
        // The first attempt at /slow/* outlasts the grace period; every later one is quick.
        let server = try TestHTTPServer { request in
            request.path.hasPrefix("/slow/") && request.index == 0
                ? TestHTTPServer.Reply(delay: .seconds(5)) : .status(200)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("sigterm")
        try database.fastRetries(channel)
        let fast = try (0..<3).map { try database.enqueue(url: server.url("/fast/\($0)"), channel: channel) }
        let slow = try (0..<4).map { try database.enqueue(url: server.url("/slow/\($0)"), channel: channel) }

        let process = try WorkerProcess(["--channels", channel, "--grace", "0.5", "--poll-interval", "0.2"])
        #expect(try database.waitFinished(fast))
        #expect(eventually(timeout: .seconds(10)) { server.requests.filter { $0.path.hasPrefix("/slow/") }.count == 4 })
        process.send(SIGTERM)
        let status = process.waitExit(timeout: .seconds(10))
        #expect(status == 0, "worker log:\n\(process.log)")
        #expect(process.log.contains("released count=4"))
        // Lifecycle at info, one line per attempt at debug with its keys, and never a body.
        let log = process.log
        #expect(log.contains(" info started ") && log.contains(" info draining") && log.contains(" info exited "))
        let response = log.split(separator: "\n").first { $0.contains(" debug response ") }
        for key in ["request_id=", "channel=\(channel)", "attempt=1", "status=200", "duration_ms=", "worker="] {
            #expect(response?.contains(key) == true, "\(key) missing from \(response ?? "")")
        }
        #expect(!log.contains("world"))

        // Handed back, not left running until the lease expires. The released attempt keeps
        // its number (never reused) but does not count against max_attempts.
        for id in slow {
            let row = try database.request(id)
            #expect(row.state == "waiting")
            #expect(row.attempts == 1)
        }
        let second = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished(slow))
        #expect(second.stop() == .clean)
        for (index, id) in slow.enumerated() {
            let row = try database.request(id)
            #expect(row.state == "delivered")
            #expect(row.attempts == 2)
            let keys = server.requests("/slow/\(index)").map { $0.headers["idempotency-key"] }
            #expect(keys.count == 2)
            #expect(Set(keys) == [row.idempotencyKey])
        }
        for index in fast.indices {
            #expect(server.requests("/fast/\(index)").count == 1)
        }
    }

    @Test("A second SIGTERM releases at once instead of waiting out the grace period, and still exits 0")
    func secondSignal() throws {
        let server = try TestHTTPServer { _ in TestHTTPServer.Reply(delay: .seconds(20)) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("twice")
        let ids = try (0..<2).map { try database.enqueue(url: server.url("/wait/\($0)"), channel: channel) }

        let process = try WorkerProcess(["--channels", channel, "--grace", "30"])
        #expect(eventually(timeout: .seconds(10)) { server.requests.count == 2 })
        process.send(SIGTERM)
        // Two signals pending at once are one: the second goes once the first was read.
        #expect(eventually(timeout: .seconds(10)) { process.log.contains("draining: no new claims") })
        let signalled = ContinuousClock.now
        process.send(SIGTERM)
        #expect(process.waitExit(timeout: .seconds(10)) == 0, "worker log:\n\(process.log)")
        // Far less than the 30 s grace period the first signal alone would wait out.
        #expect(ContinuousClock.now - signalled < .seconds(10))
        #expect(process.log.contains("released count=2"))
        #expect(try database.states(ids).values.allSatisfy { $0 == "waiting" })
        _ = try database.execute(
            "SELECT httpq.cancel(id) FROM unnest($1::bigint[]) AS id", [DatabaseQuery.bigintArray(ids)])
    }

    @Test(
        "kill -9 mid-flight: after the lease a new worker delivers everything; only requests in flight at the kill are sent twice, with the same Idempotency-Key"
    )
    func killedWorker() throws {
        let server = try TestHTTPServer { request in
            request.path.hasPrefix("/slow/") && request.index == 0
                ? TestHTTPServer.Reply(delay: .seconds(3)) : .status(200)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("kill")
        try database.fastRetries(channel)
        let fast = try (0..<3).map { try database.enqueue(url: server.url("/fast/\($0)"), channel: channel) }
        let slow = try (0..<3).map { try database.enqueue(url: server.url("/slow/\($0)"), channel: channel) }

        let process = try WorkerProcess(["--channels", channel, "--lease", "3", "--poll-interval", "0.2"])
        #expect(try database.waitFinished(fast))
        #expect(eventually(timeout: .seconds(10)) { server.requests.filter { $0.path.hasPrefix("/slow/") }.count == 3 })
        process.send(SIGKILL)
        #expect(process.waitExit(timeout: .seconds(5)) != nil)
        let inFlightAtKill = Set(server.requests.filter { $0.path.hasPrefix("/slow/") }.map(\.path))

        let second = try InProcessWorker(channels: [channel], flags: [Setting.lease.flag: "3"])
        #expect(try database.waitFinished(fast + slow))
        #expect(second.stop() == .clean)

        var duplicated: Set<String> = []
        for (path, id) in zip((0..<3).map { "/fast/\($0)" } + (0..<3).map { "/slow/\($0)" }, fast + slow) {
            let row = try database.request(id)
            #expect(row.state == "delivered", "request \(id)")
            let received = server.requests(path)
            #expect(Set(received.map { $0.headers["idempotency-key"] }) == [row.idempotencyKey])
            if received.count > 1 { duplicated.insert(path) }
        }
        #expect(duplicated == inFlightAtKill)
    }
}
