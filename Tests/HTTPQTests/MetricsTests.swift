import Foundation
import Glibc
import Testing

@testable import HTTPQ

/// `httpq work --listen`: the real worker process, real deliveries to a loopback server, and
/// /metrics, /healthz and /readyz read over real HTTP on loopback.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct MetricsTests {
    @Test("/metrics counts every attempt by channel and outcome class, as each request went")
    func attemptsByOutcome() throws {
        let server = try TestHTTPServer { request in
            switch request.path.split(separator: "/").first {
            case "ok": return .status(200)
            case "flaky": return .status(request.index == 0 ? 503 : 200)
            case "gone": return .status(404)
            case "slow": return TestHTTPServer.Reply(delay: .milliseconds(3000))
            default: return .status(500)
            }
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let (a, b, paused) = (
            try TestDatabase.channel("metrics-a"), try TestDatabase.channel("metrics-b"),
            try TestDatabase.channel("metrics-paused")
        )
        try database.fastRetries(a)
        try database.fastRetries(b, maxAttempts: 2)
        _ = try database.execute("SELECT httpq.pause($1)", [paused])
        let ok = try (0..<3).map { try database.enqueue(url: server.url("/ok/\($0)"), channel: a) }
        let flaky = try (0..<2).map { try database.enqueue(url: server.url("/flaky/\($0)"), channel: a) }
        // Outlasts half the lease, so its lease is extended while it runs.
        let slow = try database.enqueue(url: server.url("/slow/0"), channel: a)
        let gone = try (0..<2).map { try database.enqueue(url: server.url("/gone/\($0)"), channel: b) }
        let down = try database.enqueue(url: server.url("/down/0"), channel: b)
        let okB = try database.enqueue(url: server.url("/ok/b"), channel: b)
        let held = try (0..<2).map { try database.enqueue(url: server.url("/ok/held\($0)"), channel: paused) }

        let process = try WorkerProcess([
            "--channels", [a, b, paused].joined(separator: ","), "--listen", "127.0.0.1:0", "--lease", "4",
        ])
        defer { process.send(SIGKILL) }
        let port = try listeningPort(process)
        let all = ok + flaky + [slow] + gone + [down, okB]
        #expect(try database.waitFinished(all), "worker log:\n\(process.log)")

        // Each request as it went: its final state and how many attempts it took.
        var expected: [String: [String: Double]] = [a: [:], b: [:]]
        func account(_ ids: [Int64], _ channel: String, state: String, attempts: [String]) throws {
            for id in ids {
                let row = try database.request(id)
                #expect(row.state == state, "request \(id)")
                #expect(row.attempts == attempts.count, "request \(id)")
                for outcome in attempts { expected[channel]![outcome, default: 0] += 1 }
            }
        }
        try account(ok + [slow], a, state: "delivered", attempts: ["2xx"])
        try account(flaky, a, state: "delivered", attempts: ["retryable", "2xx"])
        try account(gone, b, state: "dead", attempts: ["dead"])
        try account([down], b, state: "dead", attempts: ["retryable", "retryable"])
        try account([okB], b, state: "delivered", attempts: ["2xx"])

        // Counted when each transfer ends, before its report: all are in by now.
        let scrape = try LoopbackGet(port: port, path: "/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let metrics = try Exposition(scrape.body)
        for channel in [a, b] {
            for outcome in ["2xx", "retryable", "dead", "blocked"] {
                #expect(
                    metrics.value("httpq_attempts_total", ["channel": channel, "outcome": outcome])
                        ?? 0 == expected[channel]![outcome, default: 0],
                    "\(channel) \(outcome)")
            }
            let attempts = expected[channel]!.values.reduce(0, +)
            #expect(metrics.value("httpq_attempt_duration_seconds_count", ["channel": channel]) == attempts)
        }
        #expect(metrics.all("httpq_attempts_total").allSatisfy { [a, b].contains($0.labels["channel"]) })
        #expect(metrics.value("httpq_attempts_in_flight") == 0)
        #expect(metrics.value("httpq_claimed_requests_total") == 13)
        #expect(metrics.value("httpq_lease_renewals_total") ?? 0 >= 1)
        #expect(metrics.value("httpq_lease_expiries_total") != nil)
        #expect(metrics.value("httpq_database_round_trips_total", ["statement": "claim"]) ?? 0 >= 1)
        #expect(metrics.value("httpq_claims_total") ?? 0 >= 1)
        #expect(metrics.value("httpq_claim_duration_seconds_count") == metrics.value("httpq_claims_total"))
        #expect(metrics.value("httpq_log_lines_dropped_total") == 0)
        // A report's outcomes are counted once it answers, just after its rows show finished.
        #expect(
            try eventually(timeout: .seconds(5)) {
                try Exposition(LoopbackGet(port: port, path: "/metrics").body).value("httpq_reported_outcomes_total")
                    == 13
            })
        // The paused channel's requests wait, as httpq.stats says, read when the worker started.
        #expect(metrics.value("httpq_queue_waiting_requests", ["channel": paused]) == 2)
        #expect(metrics.value("httpq_queue_running_requests", ["channel": paused]) == 0)
        #expect(metrics.value("httpq_channel_paused", ["channel": paused]) == 1)
        #expect(metrics.value("httpq_channel_paused", ["channel": a]) == 0)
        #expect(metrics.value("httpq_queue_oldest_waiting_age_seconds", ["channel": paused]) ?? -1 >= 0)
        #expect(try database.states(held).values.allSatisfy { $0 == "waiting" })

        // Names as Prometheus asks: prefixed, counters in _total, durations in _seconds.
        for (name, type) in metrics.types {
            #expect(name.hasPrefix("httpq_"), "\(name)")
            if type == "counter" { #expect(name.hasSuffix("_total"), "\(name)") }
            if type == "histogram" { #expect(name.hasSuffix("_seconds"), "\(name)") }
        }
    }

    @Test("A real breaker's opening, probe and closing are logged and counted; a pause on 410 is logged as a notice")
    func breakerNotices() throws {
        let server = try TestHTTPServer.failingOnce()
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("notices")
        try database.breakOnFirstFailure(channel)
        let flaky = try database.enqueue(url: server.url("/flaky/0"), channel: channel)

        let process = try WorkerProcess(["--channels", channel, "--listen", "127.0.0.1:0"])
        defer { process.send(SIGKILL) }
        let port = try listeningPort(process)
        // 503 opens the breaker; a second later the probe, the same request, is delivered.
        #expect(try database.waitFinished([flaky]))
        #expect(try database.states([flaky]) == [flaky: "delivered"])
        // Then 410 Gone pauses the channel, and the database says so in a notice of its own.
        let gone = try database.enqueue(url: server.url("/gone/0"), channel: channel)
        #expect(try eventually(timeout: .seconds(20)) {
            try database.execute("SELECT paused FROM httpq.channel WHERE name = $1", [channel]).scalar == "t"
        })
        #expect(
            try eventually(timeout: .seconds(5)) {
                let metrics = try Exposition(LoopbackGet(port: port, path: "/metrics").body)
                return ["open", "half_open", "closed"].allSatisfy {
                    metrics.value("httpq_breaker_transitions_total", ["channel": channel, "to": $0]) == 1
                }
            }, "worker log:\n\(process.log)")
        // The pause's notice is logged after the report that committed it, on the log's thread.
        let paused = " notice httpq channel paused: channel \"\(channel)\""
        #expect(eventually(timeout: .seconds(10)) { process.log.contains(paused) }, "worker log:\n\(process.log)")
        let lines = process.log.split(separator: "\n")
        func logged(_ text: String) -> [Substring] { lines.filter { $0.contains(text) } }
        let opened = logged(" warning httpq breaker opened: channel \"\(channel)\"")
        #expect(opened.count == 1, "worker log:\n\(process.log)")
        #expect(opened.first?.contains("channel=\(channel)") == true)
        #expect(logged(" info httpq breaker half-open: channel \"\(channel)\": probing with request \(flaky)").count == 1)
        #expect(logged(" info httpq breaker closed: channel \"\(channel)\": request \(flaky) delivered").count == 1)
        #expect(logged(paused).count == 1, "worker log:\n\(process.log)")
        #expect(try database.states([gone]) == [gone: "waiting"])
    }

    @Test("/healthz answers while the loop turns; /readyz turns 503 while draining a transfer in flight")
    func probesWhileDraining() throws {
        // The transfer is held until the test has seen the draining state.
        let release = DispatchSemaphore(value: 0)
        let server = try TestHTTPServer { _ in
            _ = release.wait(timeout: .now() + 30)
            return .status(200)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("drain-probe")
        let process = try WorkerProcess(["--channels", channel, "--listen", "127.0.0.1:0", "--grace", "20"])
        defer { process.send(SIGKILL) }
        let port = try listeningPort(process)
        #expect(try eventually(timeout: .seconds(5)) { try LoopbackGet(port: port, path: "/readyz").status == 200 })
        let health = try LoopbackGet(port: port, path: "/healthz")
        #expect(health.status == 200)
        #expect(health.body.hasPrefix("the worker loop turned "))
        #expect(try LoopbackGet(port: port, path: "/nothing").status == 404)

        let id = try database.enqueue(url: server.url("/slow"), channel: channel)
        #expect(eventually(timeout: .seconds(5)) { server.requests.count == 1 })
        process.send(SIGTERM)
        #expect(
            try eventually(timeout: .seconds(10)) {
                let ready = try LoopbackGet(port: port, path: "/readyz")
                return ready.status == 503 && ready.body == "draining: stopping, nothing new is claimed\n"
            })
        #expect(try LoopbackGet(port: port, path: "/healthz").status == 200)
        release.signal()
        #expect(process.waitExit(timeout: .seconds(10)) == 0, "worker log:\n\(process.log)")
        #expect(try database.request(id).state == "delivered")
    }

    @Test("/readyz is 503 while the database is unreachable, and 200 again once it is back")
    func readyWithoutDatabase() throws {
        let cluster = try PrivateCluster()
        defer { cluster.remove() }
        let url = try cluster.createDatabase()
        let process = try WorkerProcess(["--listen", "127.0.0.1:0"], environment: ["DATABASE_URL": url])
        defer { process.send(SIGKILL) }
        let port = try listeningPort(process)
        #expect(try eventually(timeout: .seconds(5)) { try LoopbackGet(port: port, path: "/readyz").status == 200 })

        try cluster.stop()
        #expect(
            try eventually(timeout: .seconds(10)) {
                let ready = try LoopbackGet(port: port, path: "/readyz")
                return ready.status == 503 && ready.body == "not connected to the database\n"
            }, "worker log:\n\(process.log)")
        // Alive all the while: the loop turns, it only cannot reach the database.
        #expect(try LoopbackGet(port: port, path: "/healthz").status == 200)

        try cluster.start()
        #expect(
            try eventually(timeout: .seconds(20)) { try LoopbackGet(port: port, path: "/readyz").status == 200 },
            "worker log:\n\(process.log)")
        let metrics = try Exposition(LoopbackGet(port: port, path: "/metrics").body)
        #expect(metrics.value("httpq_database_reconnects_total", ["connection": "claims"]) ?? 0 >= 1)
        #expect(metrics.value("httpq_database_reconnects_total", ["connection": "reports"]) ?? 0 >= 1)
    }

    @Test("A bad --listen or HTTPQ_LISTEN stops the worker before it starts, naming the setting and the rule")
    func badListen() throws {
        for (arguments, environment, message) in [
            (["--listen", "localhost"], [:], #"invalid --listen "localhost": must be HOST:PORT"#),
            (["--listen", "127.0.0.1:70000"], [:], #"invalid --listen "127.0.0.1:70000": the port must be a number from 0 to 65535"#),
            (["--listen", "example.com:80"], [:], #"invalid --listen "example.com:80": the host must be a numeric"#),
            ([], ["HTTPQ_LISTEN": "9090"], #"invalid HTTPQ_LISTEN "9090": must be HOST:PORT"#),
        ] as [([String], [String: String], String)] {
            let process = try WorkerProcess(arguments, environment: environment)
            #expect(process.waitExit(timeout: .seconds(10)) == 2)
            #expect(process.log.contains(message), "\(process.log)")
        }
    }

    /// The port the worker serves on, from its log line.
    private func listeningPort(_ process: WorkerProcess) throws -> Int {
        var port: Int?
        _ = eventually(timeout: .seconds(10)) {
            guard let line = process.log.split(separator: "\n").first(where: { $0.contains(" listen=127.0.0.1:") })
            else { return false }
            let after = line.split(separator: " ").first { $0.hasPrefix("listen=127.0.0.1:") }
            port = after.flatMap { Int($0.dropFirst("listen=127.0.0.1:".count)) }
            return port != nil
        }
        guard let port else { throw TestFailure("the worker never said where it listens:\n\(process.log)") }
        return port
    }
}
