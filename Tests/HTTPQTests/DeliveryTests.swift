import Foundation
import Testing
@testable import HTTPQ

/// A worker against the real database and a real HTTP server: what is sent, what is recorded,
/// and which outcomes the extension retries.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct DeliveryTests {
    @Test("Delivers a request answered 200 and records the response")
    func delivers200() throws {
        let server = try TestHTTPServer { _ in .status(200, [("X-Test", "yes"), ("X-Twice", "a"), ("X-Twice", "b")], body: "thanks") }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = TestDatabase.channel("ok")
        let id = try database.enqueue(url: server.url("/ok"), body: #"{"order":42}"#, channel: channel)
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)

        let row = try database.request(id)
        #expect(row.state == "delivered")
        #expect(row.attempts == 1)
        #expect(row.lastStatus == 200)
        let response = try database.execute("""
            SELECT status, headers->>'x-test', headers->>'x-twice', convert_from(body, 'UTF8')
            FROM httpq.responses WHERE id = $1
            """, [String(id)]).rows
        #expect(response == [["200", "yes", "a, b", "thanks"]])

        let received = server.requests("/ok")
        try #require(received.count == 1)
        #expect(received[0].method == "POST")
        #expect(String(decoding: received[0].body, as: UTF8.self) == #"{"order": 42}"#)
        #expect(received[0].headers["content-type"] == "application/json")
        #expect(received[0].headers["idempotency-key"] == row.idempotencyKey)
        #expect(received[0].headers["expect"] == nil)
        #expect(received[0].headers["accept"] == nil)
    }

    @Test("Retries a 503 and delivers on the second attempt with the same Idempotency-Key")
    func retries503() throws {
        let server = try TestHTTPServer { request in request.index == 0 ? .status(503) : .status(200) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = TestDatabase.channel("503")
        try database.fastRetries(channel)
        let id = try database.enqueue(url: server.url("/flaky"), channel: channel)
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)

        let row = try database.request(id)
        #expect(row.state == "delivered")
        #expect(row.attempts == 2)
        let keys = server.requests("/flaky").map { $0.headers["idempotency-key"] }
        #expect(keys.count == 2)
        #expect(Set(keys).count == 1)
        #expect(keys.first == row.idempotencyKey)
    }

    @Test("Honours Retry-After on a 429: the next attempt waits at least that long")
    func honoursRetryAfter() throws {
        let server = try TestHTTPServer { request in
            request.index == 0 ? .status(429, [("Retry-After", "1")]) : .status(200)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = TestDatabase.channel("429")
        try database.fastRetries(channel)
        let id = try database.enqueue(url: server.url("/busy"), channel: channel)
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)

        #expect(try database.request(id).state == "delivered")
        let times = server.requests("/busy").map(\.at)
        try #require(times.count == 2)
        #expect(times[1] - times[0] >= .seconds(1))
    }

    @Test("Times out a hanging endpoint and retries it")
    func timesOutHanging() throws {
        let server = try TestHTTPServer { request in request.index == 0 ? TestHTTPServer.Reply(hang: true) : .status(200) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = TestDatabase.channel("hang")
        try database.fastRetries(channel)
        let id = try database.enqueue(url: server.url("/hang"), channel: channel, timeoutMilliseconds: 300)
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)

        #expect(try database.request(id).state == "delivered")
        #expect(try database.request(id).attempts == 2)
        let firstError = try database.execute("SELECT error FROM httpq.attempts WHERE id = $1 AND attempt = 1",
                                              [String(id)]).scalar
        #expect(firstError?.localizedCaseInsensitiveContains("timed out") == true)
    }

    @Test("Retries a refused connection until its attempts run out")
    func retriesRefused() throws {
        let port = try closedPort()
        let database = try TestDatabase.connect()
        let channel = TestDatabase.channel("refused")
        try database.fastRetries(channel)
        let id = try database.enqueue(url: "http://127.0.0.1:\(port)/nobody", channel: channel, maxAttempts: 3)
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)

        let row = try database.request(id)
        #expect(row.state == "dead")
        #expect(row.attempts == 3)
        #expect(row.lastStatus == nil)
        #expect(row.lastError?.contains("Couldn't connect") == true || row.lastError?.contains("refused") == true)
    }

    @Test("Sends a 400 to dead after one attempt")
    func deadOn400() throws {
        let server = try TestHTTPServer { _ in .status(400, body: "bad") }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = TestDatabase.channel("400")
        try database.fastRetries(channel)
        let id = try database.enqueue(url: server.url("/bad"), channel: channel)
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)

        let row = try database.request(id)
        #expect(row.state == "dead")
        #expect(row.attempts == 1)
        #expect(row.lastStatus == 400)
        #expect(server.requests("/bad").count == 1)
    }

    @Test("Does not follow a 301: the request is dead with status 301 and the target never asked")
    func doesNotFollowRedirects() throws {
        let server = try TestHTTPServer { request in
            request.path == "/old" ? .status(301, [("Location", "/new")]) : .status(200)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = TestDatabase.channel("301")
        try database.fastRetries(channel)
        let id = try database.enqueue(url: server.url("/old"), channel: channel)
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)

        let row = try database.request(id)
        #expect(row.state == "dead")
        #expect(row.lastStatus == 301)
        let location = try database.execute("SELECT headers->>'location' FROM httpq.responses WHERE id = $1",
                                            [String(id)]).scalar
        #expect(location == "/new")
        #expect(server.requests("/new").isEmpty)
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
func closedPort() throws -> Int {
    let server = try TestHTTPServer { _ in .status(200) }
    server.stop()
    return server.port
}
