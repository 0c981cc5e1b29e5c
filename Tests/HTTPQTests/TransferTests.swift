import Foundation
import Testing

@testable import HTTPQ

/// What goes over the wire and what is kept of the answer, beyond the basic delivery cases.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct TransferTests {
    @Test("Records at most --max-response-bytes of a body, reading the rest so the connection is reused")
    func capsResponseBody() throws {
        let server = try TestHTTPServer { _ in .status(200, body: String(repeating: "x", count: 5000)) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("cap")
        let ids = try (0..<3).map { try database.enqueue(url: server.url("/big/\($0)"), channel: channel) }
        let worker = try InProcessWorker(
            channels: [channel],
            flags: [
                Setting.maxResponseBytes.flag: "100",
                Setting.concurrency.flag: "1",
            ])
        #expect(try database.waitFinished(ids))
        #expect(worker.stop() == .clean)
        let lengths = try database.execute(
            "SELECT length(body) FROM httpq.responses WHERE id = ANY ($1::bigint[])",
            [DatabaseQuery.bigintArray(ids)]
        ).rows
        #expect(lengths == [["100"], ["100"], ["100"]])
        // One connection served all three: keep-alive survived the discarded bytes.
        #expect(Set(server.requests.map(\.connection)).count == 1)
    }

    @Test("A transfer reused for the next request carries nothing over: method, headers, body, response")
    func reusedTransferStartsClean() throws {
        let server = try TestHTTPServer { received in
            received.method == "POST" ? .status(201, [("X-First", "1")], body: "first") : .status(204)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("reuse")
        let post = try database.execute(
            """
            SELECT httpq.enqueue(url => $1, body => '{"a":1}', headers => '{"X-Trace": "t1"}', channel => $2)
            """, [server.url("/post"), channel]
        ).scalar.flatMap { Int64($0) }!
        // One slot: the second request goes through the first one's transfer.
        let worker = try InProcessWorker(channels: [channel], flags: [Setting.concurrency.flag: "1"])
        #expect(try database.waitFinished([post]))
        let get = try database.execute(
            "SELECT httpq.enqueue(url => $1, method => 'GET', headers => '{}', channel => $2)",
            [server.url("/get"), channel]
        ).scalar.flatMap { Int64($0) }!
        #expect(try database.waitFinished([get]))
        #expect(worker.stop() == .clean)
        let received = server.requests("/get")
        try #require(received.count == 1)
        #expect(received[0].method == "GET")
        #expect(received[0].body.isEmpty)
        #expect(received[0].headers["x-trace"] == nil)
        #expect(received[0].headers["content-type"] == nil)
        let response = try database.execute(
            "SELECT status, headers ? 'x-first', coalesce(length(body), 0) FROM httpq.responses WHERE id = $1", [String(get)]
        ).rows
        #expect(response == [["204", "f", "0"]])
    }

    @Test("Sends a GET without a body, exactly as claimed")
    func getWithoutBody() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("get")
        let id = try database.execute(
            """
            SELECT httpq.enqueue(url => $1, method => 'GET', headers => '{"X-Trace": "t1"}', channel => $2)
            """, [server.url("/resource?q=1"), channel]
        ).scalar.flatMap { Int64($0) }!
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)
        #expect(try database.request(id).state == "delivered")
        let received = server.requests("/resource?q=1")
        try #require(received.count == 1)
        #expect(received[0].method == "GET")
        #expect(received[0].body.isEmpty)
        #expect(received[0].headers["content-length"] == nil)
        #expect(received[0].headers["x-trace"] == "t1")
    }

    @Test("Extends the lease of a transfer that outlasts it, so it is attempted only once")
    func heartbeatKeepsLongTransfers() throws {
        // Over two leases long: the lease is renewed at least twice. A 3 s lease renewed every
        // 1.5 s leaves 1.5 s of slack for each renewal on a loaded machine.
        let server = try TestHTTPServer { _ in TestHTTPServer.Reply(delay: .milliseconds(7000)) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("long")
        try database.fastRetries(channel)
        let id = try database.enqueue(url: server.url("/long"), channel: channel, timeoutMilliseconds: 20_000)
        let worker = try InProcessWorker(channels: [channel], flags: [Setting.lease.flag: "3"])
        // A second worker would take the request over if its lease lapsed.
        let rival = try InProcessWorker(channels: [channel], flags: [Setting.lease.flag: "3"])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)
        #expect(rival.stop() == .clean)
        let row = try database.request(id)
        #expect(row.state == "delivered")
        #expect(row.attempts == 1)
        #expect(server.requests("/long").count == 1)
    }
}
