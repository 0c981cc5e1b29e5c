import Foundation
import HTTPQClient
import PostgresNIO
import Testing

/// `HTTPQClient` against the real database, an in-process worker and a loopback server.
@Suite(.enabled(if: TestPostgres.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct ClientTests {
    @Test("An enqueue in a transaction that rolls back leaves nothing to send")
    func rollbackSendsNothing() async throws {
        try await Harness.run { harness in
            let id = try await harness.postgres.withConnection { connection in
                try await connection.query("BEGIN", logger: testLogger())
                let id = try await harness.client.enqueue(harness.request(), on: connection)
                try await connection.query("ROLLBACK", logger: testLogger())
                return id
            }
            #expect(try await harness.state(id) == nil)
            await #expect(throws: HTTPQClientError.self) {
                try await harness.client.response(for: id, timeout: .seconds(5))
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(harness.server.requests("/hook").isEmpty)
        }
    }

    @Test("Awaits a request enqueued in the app's transaction until it is delivered with 200, its trace context sent")
    func awaitsDelivered() async throws {
        let script: TestHTTPServer.Script = { _ in .status(200, [("X-Answer", "42")], body: "thanks") }
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        try await Harness.run(script: script) { harness in
            let id = try await harness.postgres.withTransaction(logger: testLogger()) { connection in
                try await harness.client.enqueue(
                    HTTPQRequest(
                        url: harness.url(), method: .put, headers: ["X-Trace": "abc"],
                        body: try .json(encoding: ["order": 42]), channel: harness.channel, notify: true,
                        traceparent: traceparent, tracestate: "congo=t61rcWkgMzE"),
                    on: connection)
            }
            let outcome = try await harness.client.response(for: id, timeout: .seconds(20))
            #expect(outcome.id == id)
            #expect(outcome.state == .delivered)
            #expect(outcome.status == 200)
            #expect(outcome.headers["x-answer"] == "42")
            #expect(outcome.body == Data("thanks".utf8))
            let received = harness.server.requests("/hook")
            try #require(received.count == 1)
            #expect(received[0].method == "PUT")
            #expect(received[0].headers["x-trace"] == "abc")
            #expect(received[0].headers["traceparent"] == traceparent)
            #expect(received[0].headers["tracestate"] == "congo=t61rcWkgMzE")
            #expect(received[0].headers["content-type"] == "application/json")
            #expect(String(decoding: received[0].body, as: UTF8.self) == #"{"order": 42}"#)
        }
    }

    @Test("Awaits a request that dies")
    func awaitsDead() async throws {
        let script: TestHTTPServer.Script = { _ in .status(500) }
        try await Harness.run(script: script) { harness in
            var request = harness.request()
            request.maxAttempts = 1
            let outcome = try await harness.client.send(request, timeout: .seconds(20))
            #expect(outcome.state == .dead)
            #expect(outcome.status == 500)
        }
    }

    @Test("send enqueues, commits and returns the outcome")
    func sendDelivers() async throws {
        try await Harness.run { harness in
            let outcome = try await harness.client.send(harness.request(), timeout: .seconds(20))
            #expect(outcome.state == .delivered)
            #expect(try await harness.state(outcome.id) == "delivered")
        }
    }

    @Test("A request that finished before the wait started is seen at once")
    func finishedBeforeWait() async throws {
        try await Harness.run { harness in
            let id = try await harness.postgres.withConnection { connection in
                try await harness.client.enqueue(harness.request(), on: connection)
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while try await harness.state(id) != "delivered", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let outcome = try await harness.client.response(for: id, timeout: .seconds(2))
            #expect(outcome.state == .delivered)
        }
    }

    @Test("Times out while the request is still queued, and says which")
    func timesOut() async throws {
        try await Harness.run(worker: false) { harness in
            let id = try await harness.postgres.withConnection { connection in
                try await harness.client.enqueue(harness.request(), on: connection)
            }
            let started = ContinuousClock.now
            await #expect {
                try await harness.client.response(for: id, timeout: .milliseconds(300))
            } throws: { error in
                guard case HTTPQClientError.timeout(let timedOut) = error else { return false }
                return timedOut == id
            }
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(try await harness.state(id) == "waiting")
        }
    }

    @Test("100 concurrent waits share one listening connection: all resolve with a pool of 3")
    func hundredWaiters() async throws {
        try await Harness.run(connections: 3) { harness in
            let requests = (0..<100).map { harness.request("/many/\($0)") }
            let ids = try await harness.postgres.withConnection { connection in
                try await harness.client.enqueueMany(requests, on: connection)
            }
            #expect(ids.count == 100)
            #expect(ids == ids.sorted())
            let states = try await withThrowingTaskGroup(of: HTTPQOutcome.State.self) { group in
                for id in ids {
                    group.addTask { try await harness.client.response(for: id, timeout: .seconds(30)).state }
                }
                return try await group.reduce(into: [HTTPQOutcome.State]()) { $0.append($1) }
            }
            #expect(states.count == 100)
            #expect(states.allSatisfy { $0 == .delivered })
            let sessions = try await harness.execute(
                "SELECT count(*)::text FROM pg_stat_activity WHERE application_name = $1", harness.channel)
            #expect((1...3).contains(Int(sessions.first.flatMap { $0 } ?? "") ?? 0))
        }
    }

    @Test("enqueueMany sends JSON and byte bodies in the order given")
    func enqueueManyMixedBodies() async throws {
        try await Harness.run { harness in
            let requests = [
                harness.request("/a", json: #"{"n":1}"#),
                HTTPQRequest(
                    url: harness.url("/b"),
                    body: .bytes(Data("a=1&b=2".utf8), contentType: "application/x-www-form-urlencoded"),
                    channel: harness.channel, notify: true),
            ]
            let ids = try await harness.postgres.withConnection { connection in
                try await harness.client.enqueueMany(requests, on: connection)
            }
            for id in ids {
                #expect(try await harness.client.response(for: id, timeout: .seconds(20)).state == .delivered)
            }
            #expect(harness.server.requests("/a").first?.headers["content-type"] == "application/json")
            let form = try #require(harness.server.requests("/b").first)
            #expect(form.headers["content-type"] == "application/x-www-form-urlencoded")
            #expect(String(decoding: form.body, as: UTF8.self) == "a=1&b=2")
        }
    }

    @Test("A bad URL is refused with invalidInput naming the field, and nothing is enqueued")
    func badURL() async throws {
        try await Harness.run(worker: false) { harness in
            var request = harness.request()
            request.url = "ftp://files.example.com/x"
            await #expect {
                try await harness.postgres.withConnection { connection in
                    try await harness.client.enqueue(request, on: connection)
                }
            } throws: { error in
                guard case HTTPQClientError.invalidInput(let message, let sqlState) = error else { return false }
                return message.hasPrefix("url must start with http:// or https://") && sqlState == "22023"
            }
            let count = try await harness.execute(
                "SELECT count(*)::text FROM httpq.requests WHERE channel = $1", harness.channel)
            #expect(count == ["0"])
        }
    }

    @Test("A wait for an id that does not exist fails with notFound")
    func notFound() async throws {
        try await Harness.run(worker: false) { harness in
            await #expect {
                try await harness.client.response(for: Int64.max, timeout: .seconds(5))
            } throws: { error in
                guard case HTTPQClientError.notFound(let id) = error else { return false }
                return id == Int64.max
            }
        }
    }

    @Test("Another tenant's channel is permissionDenied, and its requests are notFound")
    func otherTenant() async throws {
        try await Harness.run(worker: false) { harness in
            let id = try await harness.postgres.withConnection { connection in
                try await harness.client.enqueue(harness.request(), on: connection)
            }
            try await harness.execute(
                "DO $$ BEGIN CREATE ROLE httpq_client_other LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
            try await harness.execute("SELECT httpq.grant_role('app', 'httpq_client_other')")
            var configuration = TestPostgres.configuration()
            configuration.username = "httpq_client_other"
            let other = PostgresClient(configuration: configuration)
            let otherClient = HTTPQClient(postgres: other, logger: testLogger())
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await other.run() }
                group.addTask { try? await otherClient.run() }
                defer { group.cancelAll() }
                await #expect {
                    try await other.withConnection { connection in
                        try await otherClient.enqueue(harness.request(), on: connection)
                    }
                } throws: { error in
                    guard case HTTPQClientError.permissionDenied(let message) = error else { return false }
                    return message.contains("belongs to another role")
                }
                await #expect {
                    try await otherClient.response(for: id, timeout: .seconds(5))
                } throws: { error in
                    guard case HTTPQClientError.notFound(id) = error else { return false }
                    return true
                }
            }
        }
    }

    @Test("Graceful shutdown of the worker Service lets a transfer in flight finish and report")
    func workerServiceDrains() async throws {
        let script: TestHTTPServer.Script = { _ in TestHTTPServer.Reply(status: 200, delay: .seconds(1)) }
        let id = try await Harness.run(script: script) { harness in
            let id = try await harness.postgres.withConnection { connection in
                try await harness.client.enqueue(harness.request(), on: connection)
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while harness.server.requests("/hook").isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(harness.server.requests("/hook").count == 1)
            return id  // the group shuts down while the server holds the answer back
        }
        let state = try await Harness.run(worker: false) { harness in try await harness.state(id) }
        #expect(state == "delivered")
    }
}
