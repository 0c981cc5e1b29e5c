import Foundation
import Glibc
import Synchronization
import Testing

@testable import HTTPQ

/// What `WorkerMonitor` answers, read in process from a worker delivering to a real loopback
/// server against the real database; MetricsTests reads the same over HTTP from `httpq work`.
@Suite struct WorkerMonitorTests {
    @Test("Breaker notices name their channel and state; other messages are not breaker notices")
    func breakerNotices() {
        #expect(
            BreakerNotice(message: #"httpq breaker opened: channel "orders": 5 failures in a row"#)
                == BreakerNotice(message: #"httpq breaker opened: channel "orders": x"#))
        let opened = BreakerNotice(message: #"httpq breaker opened: channel "orders": 5 failures in a row"#)
        #expect(opened?.channel == "orders" && opened?.state == .open)
        #expect(BreakerNotice(message: #"httpq breaker half-open: channel "a b": probing"#)?.state == .halfOpen)
        let closed = BreakerNotice(message: #"httpq breaker closed: channel "say ""hi""": a success"#)
        #expect(closed?.channel == #"say "hi""# && closed?.state == .closed)
        #expect(BreakerNotice(message: "httpq breaker opened: no channel") == nil)
        #expect(BreakerNotice(message: #"httpq breaker opened: channel "unterminated"#) == nil)
        #expect(BreakerNotice(message: "relation created") == nil)
    }

    @Test("An attempt's outcome class follows the retry rule of httpq._retryable")
    func attemptClasses() {
        func result(_ status: Int?, refused: Bool = false, unsent: Bool = false) -> HTTPResult {
            var result = HTTPResult(
                status: status, headers: ResponseHeaders(), body: [], error: status == nil ? "timeout" : nil,
                durationMilliseconds: 1)
            result.refused = refused
            result.unsent = unsent
            return result
        }
        #expect([200, 204, 299].allSatisfy { AttemptClass(result($0)) == .success })
        #expect([nil, 408, 425, 429, 500, 503, 599].allSatisfy { AttemptClass(result($0)) == .retryable })
        #expect([199, 301, 400, 404, 410, 600].allSatisfy { AttemptClass(result($0)) == .dead })
        #expect(AttemptClass(result(nil, refused: true)) == .blocked)
        #expect(AttemptClass(result(nil, unsent: true)) == .blocked)
        #expect(AttemptClass.allCases.map(\.label) == ["2xx", "retryable", "dead", "blocked"])
    }

    @Test("Queue rows read the breaker state as 0, 1, 2, and none from a database without it")
    func queueRows() {
        let row = QueueStatsRow(row: ["a", "t", "3", "1", "2.5", "half_open"])
        #expect(row == QueueStatsRow(channel: "a", paused: true, waiting: 3, running: 1, oldestWaitingAge: 2.5, breakerState: 2))
        #expect(QueueStatsRow(row: ["a", "f", "0", "0", "0", nil])?.breakerState == nil)
        #expect(QueueStatsRow(row: ["a", "f", "0", "0", "0", "open"])?.breakerState == 1)
        #expect(QueueStatsRow(row: ["a", "f", "x", "0", "0", nil]) == nil)
    }

    @Test("The probes say why before the worker runs; unknown paths and methods are refused")
    func probesBeforeStart() {
        let monitor = WorkerMonitor(droppedLines: { 0 })
        let health = get(monitor, "/healthz")
        #expect(health.status == 503 && String(decoding: health.body, as: UTF8.self) == "the worker loop has not started\n")
        let ready = get(monitor, "/readyz")
        #expect(ready.status == 503 && String(decoding: ready.body, as: UTF8.self) == "the worker is not running\n")
        #expect(get(monitor, "/other").status == 404)
        monitor.health.turned(at: .now - .seconds(11))
        let stalled = get(monitor, "/healthz")
        #expect(stalled.status == 503)
        #expect(String(decoding: stalled.body, as: UTF8.self).hasPrefix("the worker loop has not turned for "))
        monitor.health.turned(at: .now)
        #expect(get(monitor, "/healthz").status == 200)
    }

    @Test("Dropped log lines are counted up to the writer's count, once each")
    func droppedLines() throws {
        let dropped = Atomic(0)
        let monitor = WorkerMonitor(droppedLines: { dropped.load(ordering: .relaxed) })
        dropped.store(3, ordering: .relaxed)
        _ = get(monitor, "/metrics")
        dropped.store(5, ordering: .relaxed)
        let metrics = try Exposition(String(decoding: get(monitor, "/metrics").body, as: UTF8.self))
        #expect(metrics.value("httpq_log_lines_dropped_total") == 5)
    }

    @Test(
        "Attempts are counted by channel and outcome class, request by request",
        .enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
    func attemptsInProcess() throws {
        let server = try TestHTTPServer { request in
            switch request.path.split(separator: "/").first {
            case "ok": return .status(200)
            case "flaky": return .status(request.index == 0 ? 503 : 200)
            case "gone": return .status(404)
            default: return .status(500)
            }
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let (a, b, paused) = (
            try TestDatabase.channel("monitor-a"), try TestDatabase.channel("monitor-b"),
            try TestDatabase.channel("monitor-paused")
        )
        try database.fastRetries(a)
        try database.fastRetries(b, maxAttempts: 2)
        _ = try database.execute("SELECT httpq.pause($1)", [paused])
        let ok = try (0..<3).map { try database.enqueue(url: server.url("/ok/\($0)"), channel: a) }
        let flaky = try (0..<2).map { try database.enqueue(url: server.url("/flaky/\($0)"), channel: a) }
        let gone = try (0..<2).map { try database.enqueue(url: server.url("/gone/\($0)"), channel: b) }
        let down = try database.enqueue(url: server.url("/down/0"), channel: b)
        _ = try (0..<2).map { try database.enqueue(url: server.url("/ok/held\($0)"), channel: paused) }

        let monitor = WorkerMonitor(droppedLines: { 0 })
        let worker = try InProcessWorker(channels: [a, b, paused], monitor: monitor)
        defer { worker.stop() }
        #expect(try database.waitFinished(ok + flaky + gone + [down]))
        var expected: [String: [String: Double]] = [a: [:], b: [:]]
        func account(_ ids: [Int64], _ channel: String, state: String, attempts: [String]) throws {
            for id in ids {
                let row = try database.request(id)
                #expect(row.state == state && row.attempts == attempts.count, "request \(id)")
                for outcome in attempts { expected[channel]![outcome, default: 0] += 1 }
            }
        }
        try account(ok, a, state: "delivered", attempts: ["2xx"])
        try account(flaky, a, state: "delivered", attempts: ["retryable", "2xx"])
        try account(gone, b, state: "dead", attempts: ["dead"])
        try account([down], b, state: "dead", attempts: ["retryable", "retryable"])

        func scrape() throws -> Exposition {
            try Exposition(String(decoding: get(monitor, "/metrics").body, as: UTF8.self))
        }
        #expect(try eventually(timeout: .seconds(5)) { try scrape().value("httpq_reported_outcomes_total") == 11 })
        let metrics = try scrape()
        for channel in [a, b] {
            for outcome in ["2xx", "retryable", "dead", "blocked"] {
                let counted = metrics.value("httpq_attempts_total", ["channel": channel, "outcome": outcome]) ?? 0
                #expect(counted == expected[channel]![outcome, default: 0], "\(channel) \(outcome)")
            }
            let attempts = expected[channel]!.values.reduce(0, +)
            #expect(metrics.value("httpq_attempt_duration_seconds_count", ["channel": channel]) == attempts)
        }
        #expect(metrics.value("httpq_claimed_requests_total") == 11)
        #expect(metrics.value("httpq_attempts_in_flight") == 0)
        #expect(metrics.value("httpq_claim_duration_seconds_count") == metrics.value("httpq_claims_total"))
        #expect(metrics.value("httpq_report_duration_seconds_count") == metrics.value("httpq_reports_total"))
        #expect(metrics.value("httpq_database_round_trips_total", ["statement": "listen"]) == 1)
        #expect(metrics.value("httpq_queue_waiting_requests", ["channel": paused]) == 2)
        #expect(metrics.value("httpq_channel_paused", ["channel": paused]) == 1)
        #expect(metrics.value("httpq_channel_paused", ["channel": a]) == 0)
        for (name, type) in metrics.types {
            #expect(name.hasPrefix("httpq_"), "\(name)")
            if type == "counter" { #expect(name.hasSuffix("_total"), "\(name)") }
            if type == "histogram" { #expect(name.hasSuffix("_seconds"), "\(name)") }
        }
        #expect(get(monitor, "/readyz").status == 200)
        #expect(get(monitor, "/healthz").status == 200)
    }

    @Test(
        "A real breaker's opening, probe and closing, raised as notices to the worker's statements, are counted by channel and state",
        .enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
    func breakerTransitionsInProcess() throws {
        let server = try TestHTTPServer.failingOnce()
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("monitor-notices")
        try database.breakOnFirstFailure(channel)
        let flaky = try database.enqueue(url: server.url("/flaky/0"), channel: channel)
        let monitor = WorkerMonitor(droppedLines: { 0 })
        let worker = try InProcessWorker(channels: [channel], monitor: monitor)
        defer { worker.stop() }
        #expect(try database.waitFinished([flaky]))
        #expect(try database.states([flaky]) == [flaky: "delivered"])
        #expect(
            try eventually(timeout: .seconds(5)) {
                let metrics = try Exposition(
                    String(decoding: get(monitor, "/metrics").body, as: UTF8.self))
                return ["open", "half_open", "closed"].allSatisfy {
                    metrics.value("httpq_breaker_transitions_total", ["channel": channel, "to": $0]) == 1
                }
            })
    }

    @Test(
        "Readiness is draining while a transfer finishes after the stop",
        .enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
    func drainingInProcess() throws {
        // The transfer is held until the test has seen the draining state.
        let release = DispatchSemaphore(value: 0)
        let server = try TestHTTPServer { _ in
            _ = release.wait(timeout: .now() + 30)
            return .status(200)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("monitor-drain")
        let monitor = WorkerMonitor(droppedLines: { 0 })
        let worker = try InProcessWorker(channels: [channel], monitor: monitor)
        #expect(eventually(timeout: .seconds(5)) { monitor.health.readinessState == .ready })
        let id = try database.enqueue(url: server.url("/slow"), channel: channel)
        #expect(eventually(timeout: .seconds(5)) { server.requests.count == 1 })
        // One stop only: a second would hand the transfer back at once.
        let exit = Mutex<WorkerExit?>(nil)
        Thread.detachNewThread { exit.withLock { $0 = worker.stop() } }
        #expect(eventually(timeout: .seconds(10)) { monitor.health.readinessState == .draining })
        #expect(get(monitor, "/readyz").status == 503)
        #expect(get(monitor, "/healthz").status == 200)
        release.signal()
        #expect(eventually(timeout: .seconds(15)) { exit.withLock { $0 } != nil })
        #expect(exit.withLock { $0 } == .clean)
        #expect(monitor.health.readinessState == .notRunning)
        #expect(try database.request(id).state == "delivered")
    }

    private func get(_ monitor: WorkerMonitor, _ path: String) -> ServedResponse {
        monitor.respond(to: ServedRequest(method: "GET", target: path))
    }
}
