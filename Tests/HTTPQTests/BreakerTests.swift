import Foundation
import Testing

@testable import HTTPQ

/// The circuit breaker end to end: a worker serving a failing channel and a healthy one.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct BreakerTests {
    @Test("A failing endpoint stops receiving traffic once its breaker opens; a healthy channel beside it is delivered as before")
    func failingChannelStopsHealthyGoesOn() throws {
        let server = try TestHTTPServer { received in
            received.path.hasPrefix("/down/") ? .status(503) : .status(200)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let down = try TestDatabase.channel("down")
        let up = try TestDatabase.channel("up")
        try database.fastRetries(down)
        // One attempt at a time: each failure is reported before the next attempt goes, so the
        // breaker opens after exactly breaker_failures attempts.
        let failures = 5
        let cooldown = 2.0
        _ = try database.execute(
            """
            SELECT httpq.set_channel($1, max_concurrency => 1, breaker_failures => $2::int,
                                     breaker_cooldown => $3::interval, breaker_cooldown_max => $3::interval)
            """, [down, String(failures), "\(cooldown) seconds"])
        let worker = try InProcessWorker(channels: [down, up])
        defer { worker.stop() }

        // The healthy channel alone first: its latency without a failing neighbour.
        let before = try deliver(40, to: up, as: "before", server: server, database: database)

        let downIDs = try (0..<10).map { try database.enqueue(url: server.url("/down/\($0)"), channel: down) }
        #expect(try eventually(timeout: .seconds(20)) { try breaker(down, database).state == "open" })
        let opened = ContinuousClock.now

        // While it is open, the healthy channel's requests go on: each one delivered, once.
        let during = try deliver(40, to: up, as: "during", server: server, database: database)

        // Open for two cool-downs at least; then paused, so that no probe is left in flight
        // when the worker stops.
        #expect(eventually(timeout: .seconds(20)) { ContinuousClock.now - opened > .seconds(cooldown * 2) })
        _ = try database.execute("SELECT httpq.pause($1)", [down])
        #expect(try eventually(timeout: .seconds(20)) {
            try database.states(downIDs).values.allSatisfy { $0 != "running" }
        })
        #expect(worker.stop() == .clean)
        let elapsed = ContinuousClock.now - opened
        let final = try breaker(down, database)
        let downHits = server.requests.filter { $0.path.hasPrefix("/down/") }
        // What the endpoint received after the breaker opened: probes only, one per cool-down
        // at most, each a failure that opened it again.
        let probes = downHits.count - failures
        print("breaker: \(failures) failures opened it; \(probes) probes in \(elapsed) (cool-down \(cooldown) s), opened \(final.opened) times")
        #expect(final.state == "open")
        #expect(probes == final.opened - 1)
        #expect(probes >= 1, "two cool-downs passed without a probe")
        #expect(probes <= Int(elapsed / .seconds(cooldown)) + 1)
        // Per request id: every attempt the endpoint received is in its request's log, and
        // none of the failing channel's requests is lost or finished.
        let logged = try database.execute(
            "SELECT count(*) FROM httpq.attempts WHERE id = ANY ($1::bigint[])", [DatabaseQuery.bigintArray(downIDs)]
        ).scalar
        #expect(logged == String(downHits.count))
        #expect(try database.states(downIDs).values.allSatisfy { $0 == "waiting" })

        print("healthy channel, enqueue to arrival: alone p50 \(before.p50) max \(before.max); beside the open breaker p50 \(during.p50) max \(during.max)")
    }

    @Test("httpq status shows an open breaker with the time to its probe and why it opened")
    func statusShowsOpenBreaker() throws {
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("status-breaker")
        _ = try database.execute(
            "SELECT httpq.set_channel($1, breaker_failures => 1, breaker_cooldown => '1 minute')", [channel])
        let id = try database.enqueue(url: "http://127.0.0.1:1/", channel: channel)
        // One failure, claimed and reported as a worker would: the breaker opens.
        let worker = "status-breaker-\(UUID().uuidString.prefix(8))"
        _ = try database.execute("SELECT count(*) FROM httpq.claim($1, 1, ARRAY[$2])", [worker, channel])
        let applied = try database.execute(
            "SELECT httpq.report($1, jsonb_build_array(jsonb_build_object('id', $2::bigint, 'attempt', 1, 'status', 503)))",
            [worker, String(id)]
        ).scalar
        #expect(applied == "1")
        let table = try CLI.run(["status"])
        #expect(table.status == 0)
        #expect(table.stdout.hasPrefix("CHANNEL"))
        let line = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix(channel + " ") })
        // A minute's cool-down, less the time this took to get here.
        let probeIn = line.firstMatch(of: /open, probe in (\d+)s/).flatMap { Int($0.1) }
        #expect(probeIn.map { (45...60).contains($0) } == true, "\(line)")
        #expect(line.contains("1 consecutive failure, last: HTTP 503 from request \(id)"), "\(line)")
        let rows = try #require(try CLI.run(["status", "--json"]).json() as? [[String: Any]])
        let row = try #require(rows.first { $0["channel"] as? String == channel })
        #expect(row["breaker_state"] as? String == "open")
        #expect(row["breaker_probe_at"] is String)
    }

    /// The breaker of a channel as the database has it; probeIn: seconds to breaker_probe_at.
    private func breaker(_ channel: String, _ database: Connection) throws -> (state: String, opened: Int, probeIn: Double) {
        let row = try database.execute(
            """
            SELECT breaker_state, breaker_opened, coalesce(extract(epoch FROM breaker_probe_at - now()), 0)
            FROM httpq.channel WHERE name = $1
            """, [channel]
        ).rows.first
        return (row?[0] ?? "", Int(row?[1] ?? "") ?? -1, Double(row?[2] ?? "") ?? 0)
    }

    /// Enqueues count requests to channel one after another (20 ms apart), waits for them to be
    /// delivered, checks each arrived exactly once, and returns the times from the enqueue call
    /// to the arrival.
    private func deliver(
        _ count: Int, to channel: String, as tag: String, server: TestHTTPServer, database: Connection
    ) throws -> (p50: Duration, max: Duration) {
        var enqueued: [String: ContinuousClock.Instant] = [:]
        var ids: [Int64] = []
        for n in 0..<count {
            let path = "/up/\(tag)/\(n)"
            enqueued[path] = ContinuousClock.now
            ids.append(try database.enqueue(url: server.url(path), channel: channel))
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(try database.waitFinished(ids))
        #expect(try database.states(ids).values.allSatisfy { $0 == "delivered" })
        let arrivals = server.requests.filter { $0.path.hasPrefix("/up/\(tag)/") }
        #expect(arrivals.count == count)
        #expect(Set(arrivals.map(\.path)) == Set(enqueued.keys))
        let latencies = arrivals.compactMap { arrival in enqueued[arrival.path].map { arrival.at - $0 } }.sorted()
        guard !latencies.isEmpty else { return (.zero, .zero) }
        return (latencies[latencies.count / 2], latencies[latencies.count - 1])
    }
}
