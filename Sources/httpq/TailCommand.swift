import ArgumentParser
import Glibc
import HTTPQ

/// `httpq tail`: each attempt outcome as it is recorded, one line each, until interrupted.
struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Stream attempt outcomes as they are recorded, until interrupted.",
        discussion: """
            One line per attempt outcome: when, the request's id and channel, the attempt, \
            what became of it (delivered, retry at a time, dead, canceled), the status or error, \
            and how long the attempt took. --json prints one JSON object a line. Runs until \
            Ctrl-C or SIGTERM. Needs an ops or admin role (httpq.grant_role): the tail \
            registers itself with httpq.tail_renew, and while it runs, reports announce \
            their outcomes on channel httpq_outcomes; it reads them through the httpq.requests \
            and httpq.attempts views.
            """
    )

    @OptionGroup var connection: DatabaseOptions

    @Option(help: ArgumentHelp("Show only this channel's outcomes.", valueName: "channel"))
    var channel: String?

    @Flag(help: "Print one JSON object per outcome, one a line.")
    var json = false

    /// How long a registration lasts is the database's (httpq.tail_renew: 30 s); renewing
    /// at a third of it rides out a slow renewal or two.
    static let renewEvery: Duration = .seconds(10)

    /// How long one wait for notifications lasts before the interrupt is checked again.
    static let waitMilliseconds: Int32 = 250

    func run() throws {
        // Blocked before connecting: the interrupt is taken by sigtimedwait between waits,
        // never in the middle of a query or a half-printed line (as `status --watch`).
        var interrupt = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        sigaddset(&interrupt, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &interrupt, nil)

        let database = try Database.open(connection)
        _ = try database.rows("SET TimeZone = 'UTC'")
        // Listening before registering: nothing announced once registered is missed.
        _ = try database.rows("LISTEN httpq_outcomes")
        guard let tail = try database.value("SELECT gen_random_uuid()") else { return }
        _ = try database.rows("SELECT httpq.tail_renew($1)", [tail])
        defer { _ = try? database.query("SELECT httpq.tail_end($1)", [tail]) }

        let clock = ContinuousClock()
        var renewed = clock.now
        var seen = SeenOutcomes()
        while true {
            let payloads: [String]
            do {
                payloads = try database.notifications(waitingUpTo: Self.waitMilliseconds)
            } catch {
                throw Failure.exit(error)
            }
            let announced = seen.new(in: payloads)
            if !announced.isEmpty {
                try show(announced, database)
            }
            var now = timespec(tv_sec: 0, tv_nsec: 0)
            if sigtimedwait(&interrupt, nil, &now) > 0 {
                return
            }
            if clock.now - renewed >= Self.renewEvery {
                _ = try database.rows("SELECT httpq.tail_renew($1)", [tail])
                renewed = clock.now
            }
        }
    }

    /// Prints the outcomes of `announced` (id, attempt; no attempt for an ending without
    /// one, such as a cancel) that the caller may see, oldest first.
    private func show(_ announced: [(id: Int64, attempt: Int?)], _ database: Database) throws {
        let ids = "{" + announced.map { String($0.id) }.joined(separator: ",") + "}"
        let attempts = "{" + announced.map { $0.attempt.map { String($0) } ?? "NULL" }.joined(separator: ",") + "}"
        // The views apply tenancy; each reads its tables by primary key (id = ANY).
        let rows = try database.rows("""
            WITH r AS (SELECT r.id, r.channel, r.state, r.attempts, r.run_at, r.finished_at, r.reason
                       FROM httpq.requests r
                       WHERE r.id = ANY ($1::bigint[]) AND ($3::text IS NULL OR r.channel = $3)),
                 a AS (SELECT a.id, a.attempt, a.at, a.status, a.error, a.duration_ms
                       FROM httpq.attempts a WHERE a.id = ANY ($1::bigint[]))
            SELECT to_char(o.at, 'YYYY-MM-DD HH24:MI:SS.MS"Z"'), o.id, o.channel, o.attempt, o.outcome,
                   to_char(o.retry_at, 'YYYY-MM-DD HH24:MI:SS.MS"Z"'), o.status, o.error, o.duration_ms, o.reason,
                   json_build_object('at', o.at, 'id', o.id, 'channel', o.channel, 'attempt', o.attempt,
                                     'outcome', o.outcome, 'retry_at', o.retry_at, 'status', o.status,
                                     'error', o.error, 'duration_ms', o.duration_ms, 'reason', o.reason)
            FROM (SELECT coalesce(a.at, r.finished_at) AS at, r.id, r.channel, w.attempt,
                         -- An earlier attempt than the last, or the last of a request still
                         -- queued, was retried; the last of a finished request ended it.
                         CASE WHEN w.attempt IS NOT NULL AND (a.attempt < r.attempts OR r.finished_at IS NULL)
                              THEN 'retry' ELSE r.state END AS outcome,
                         CASE WHEN r.finished_at IS NULL AND a.attempt = r.attempts AND r.state = 'waiting'
                              THEN r.run_at END AS retry_at,
                         a.status, a.error, a.duration_ms,
                         CASE WHEN w.attempt IS NULL OR a.attempt = r.attempts THEN r.reason END AS reason
                  FROM unnest($1::bigint[], $2::integer[]) AS w(id, attempt)
                  JOIN r ON r.id = w.id
                  LEFT JOIN a ON a.id = w.id AND a.attempt = w.attempt
                  -- An outcome that was not applied (its claim had passed to another worker)
                  -- has no attempt to show.
                  WHERE w.attempt IS NULL OR a.attempt IS NOT NULL) AS o
            ORDER BY o.at, o.id, o.attempt
            """, [ids, attempts, channel])
        for row in rows {
            if json {
                sayJSON(row[10] ?? "{}")
            } else {
                say(line(row))
            }
        }
        fflush(nil)
    }

    /// One outcome as a line: time, id, channel, attempt, outcome, status or error, duration.
    private func line(_ row: [String?]) -> String {
        var fields = [row[0] ?? "", row[1] ?? "", row[2] ?? ""]
        fields.append(row[3].map { "attempt \($0)" } ?? "no attempt")
        fields.append((row[4] ?? "") + (row[5].map { " at \($0)" } ?? ""))
        if let status = row[6] {
            fields.append("HTTP \(status)")
        }
        if let error = row[7] {
            fields.append("error: \(error)")
        }
        if let duration = row[8] {
            fields.append("\(duration) ms")
        }
        if let reason = row[9], reason != row[7] {
            fields.append("(\(reason))")
        }
        return fields.joined(separator: "  ")
    }
}

/// The outcomes already shown: each is announced by the report that records it and again
/// by the finishing of its request when that is its last, and is shown once. Remembers the
/// last `capacity` only, far more than can arrive twice apart.
private struct SeenOutcomes {
    static let capacity = 100_000
    private var keys: Set<String> = []
    private var order: [String] = []
    private var oldest = 0

    /// The new (id, attempt) items of the payloads ('id:attempt,...'; 'id:' for an ending
    /// without an attempt), in order; malformed items are skipped.
    mutating func new(in payloads: [String]) -> [(id: Int64, attempt: Int?)] {
        var found: [(id: Int64, attempt: Int?)] = []
        for payload in payloads {
            for item in payload.split(separator: ",") {
                let parts = item.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, let id = Int64(parts[0]) else { continue }
                let attempt = Int(parts[1])
                guard attempt != nil || parts[1].isEmpty else { continue }
                let key = String(item)
                guard keys.insert(key).inserted else { continue }
                order.append(key)
                found.append((id, attempt))
            }
        }
        while order.count - oldest > Self.capacity {
            keys.remove(order[oldest])
            oldest += 1
        }
        if oldest > Self.capacity {
            order.removeFirst(oldest)
            oldest = 0
        }
        return found
    }
}
