import Foundation
import Testing

@testable import HTTPQ

/// A worker against the real database and a real HTTP server: what is sent, what is recorded,
/// and which outcomes the extension retries.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct DeliveryTests {
    @Test("Delivers a request answered 200 and records the response")
    func delivers200() throws {
        let delivery = try OneDelivery(body: #"{"order":42}"#) { _ in
            .status(200, [("X-Test", "yes"), ("X-Twice", "a"), ("X-Twice", "b")], body: "thanks")
        }
        #expect(delivery.row.state == "delivered")
        #expect(delivery.row.attempts == 1)
        #expect(delivery.row.lastStatus == 200)
        let response = try delivery.database.execute(
            """
            SELECT status, headers->>'x-test', headers->>'x-twice', convert_from(body, 'UTF8')
            FROM httpq.responses WHERE id = $1
            """, [String(delivery.id)]
        ).rows
        #expect(response == [["200", "yes", "a, b", "thanks"]])

        try #require(delivery.received.count == 1)
        let request = delivery.received[0]
        #expect(request.method == "POST")
        #expect(request.path == "/hook")
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"order": 42}"#)
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["idempotency-key"] == delivery.row.idempotencyKey)
        #expect(request.headers["expect"] == nil)
        #expect(request.headers["accept"] == nil)
    }

    @Test("Retries a 503 and delivers on the second attempt with the same Idempotency-Key")
    func retries503() throws {
        let delivery = try OneDelivery { request in request.index == 0 ? .status(503) : .status(200) }
        #expect(delivery.row.state == "delivered")
        #expect(delivery.row.attempts == 2)
        let keys = delivery.received.map { $0.headers["idempotency-key"] }
        #expect(keys.count == 2)
        #expect(Set(keys) == [delivery.row.idempotencyKey])
    }

    @Test("Honours Retry-After on a 429: the next attempt waits at least that long")
    func honoursRetryAfter() throws {
        let delivery = try OneDelivery { request in
            request.index == 0 ? .status(429, [("Retry-After", "1")]) : .status(200)
        }
        #expect(delivery.row.state == "delivered")
        let times = delivery.received.map(\.at)
        try #require(times.count == 2)
        #expect(times[1] - times[0] >= .seconds(1))
    }

    @Test("Times out a hanging endpoint and retries it")
    func timesOutHanging() throws {
        let delivery = try OneDelivery(timeoutMilliseconds: 2000) { request in
            request.index == 0 ? TestHTTPServer.Reply(hang: true) : .status(200)
        }
        #expect(delivery.row.state == "delivered")
        #expect(delivery.row.attempts == 2)
        let firstError = try delivery.database.execute(
            "SELECT error FROM httpq.attempts WHERE id = $1 AND attempt = 1",
            [String(delivery.id)]
        ).scalar
        #expect(firstError?.localizedCaseInsensitiveContains("timed out") == true)
    }

    @Test("Retries a refused connection until its attempts run out")
    func retriesRefused() throws {
        let delivery = try OneDelivery(url: "http://127.0.0.1:\(try closedPort())/nobody", maxAttempts: 3) { _ in
            .status(200)
        }
        #expect(delivery.row.state == "dead")
        #expect(delivery.row.attempts == 3)
        #expect(delivery.row.lastStatus == nil)
        #expect(
            delivery.row.lastError?.contains("Couldn't connect") == true
                || delivery.row.lastError?.contains("refused") == true)
    }

    @Test("Sends a 400 to dead after one attempt")
    func deadOn400() throws {
        let delivery = try OneDelivery { _ in .status(400, body: "bad") }
        #expect(delivery.row.state == "dead")
        #expect(delivery.row.attempts == 1)
        #expect(delivery.row.lastStatus == 400)
        #expect(delivery.received.count == 1)
    }

    @Test("Does not follow a 301: the request is dead with status 301 and the target never asked")
    func doesNotFollowRedirects() throws {
        let delivery = try OneDelivery(path: "/old") { request in
            request.path == "/old" ? .status(301, [("Location", "/new")]) : .status(200)
        }
        #expect(delivery.row.state == "dead")
        #expect(delivery.row.lastStatus == 301)
        let location = try delivery.database.execute(
            "SELECT headers->>'location' FROM httpq.responses WHERE id = $1",
            [String(delivery.id)]
        ).scalar
        #expect(location == "/new")
        #expect(delivery.received.map(\.path) == ["/old"])
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
func closedPort() throws -> Int {
    let server = try TestHTTPServer { _ in .status(200) }
    server.stop()
    return server.port
}
