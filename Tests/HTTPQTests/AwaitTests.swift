import Foundation
import Synchronization
import Testing

@testable import HTTPQ

/// Awaiting a request's outcome with a real worker and HTTP server: httpq.wait returns it as the
/// worker records it, and LISTEN httpq_finished hears the requests that asked, by id.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct AwaitTests {
    @Test("httpq.wait, called before the worker sends the request, returns its outcome once it is recorded")
    func waitReturnsTheOutcome() throws {
        let server = try TestHTTPServer { _ in .status(201, body: #"{"rendered": true}"#) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("await")
        let id = try database.enqueue(url: server.url("/render"), channel: channel)

        // The wait runs on a connection of its own, on its own thread, before any worker runs.
        let outcome = Mutex<[[String?]]?>(nil)
        let waited = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { waited.signal() }
            guard let waiter = try? TestDatabase.connect() else { return }
            let rows = try? waiter.execute(
                "SELECT state, status, convert_from(body, 'UTF8') FROM httpq.wait($1, '20 seconds')", [String(id)]
            ).rows
            outcome.withLock { $0 = rows }
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(outcome.withLock { $0 } == nil, "the wait returned before any worker ran")

        let worker = try InProcessWorker(channels: [channel])
        #expect(waited.wait(timeout: .now() + 25) == .success)
        #expect(worker.stop() == .clean)
        #expect(outcome.withLock { $0 } == [["delivered", "201", #"{"rendered": true}"#]])
    }

    @Test("LISTEN httpq_finished hears, by id, each request enqueued with notify as it finishes, and no other")
    func listenHearsTheRequestsThatAsked() throws {
        let server = try TestHTTPServer { request in request.path == "/missing" ? .status(404) : .status(200) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("announce")
        let listener = try TestDatabase.connect()
        _ = try listener.execute("LISTEN httpq_finished")

        func enqueue(_ path: String, notify: Bool) throws -> Int64 {
            let id = try database.execute(
                "SELECT httpq.enqueue(url => $1, channel => $2, notify => $3::boolean)",
                [server.url(path), channel, notify ? "true" : "false"]
            ).scalar.flatMap { Int64($0) }
            return try #require(id)
        }
        let delivered = try enqueue("/ok", notify: true)
        let dead = try enqueue("/missing", notify: true)
        let silent = try enqueue("/ok", notify: false)

        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([delivered, dead, silent]))
        #expect(worker.stop() == .clean)

        _ = try listener.execute("SELECT 1")
        let notifications = listener.notifications()
        #expect(notifications.allSatisfy { $0.channel == "httpq_finished" })
        let announced = notifications.flatMap { $0.payload.split(separator: ",").compactMap { Int64($0) } }
        #expect(announced.sorted() == [delivered, dead])
        let states = try database.execute(
            "SELECT state FROM httpq.outcome($1) UNION ALL SELECT state FROM httpq.outcome($2)",
            [String(delivered), String(dead)]
        ).rows
        #expect(states == [["delivered"], ["dead"]])
    }
}
