/// When the worker reads `httpq.queue_stats` for its queue gauges: every `interval` on the claims
/// connection, between claims, only while metrics are served (a scrape never causes a query).
/// A read that fails waits its interval like any other, and is logged once per episode.
struct QueueStatsSchedule {
    /// Modest, as the figures are for dashboards and alerts, and about the scrape interval
    /// Prometheus is usually given; one read costs an aggregate over the live requests.
    static let interval: Duration = .seconds(15)

    private(set) var nextAt: Instant
    /// Whether `httpq.queue_stats` is read; cleared for good when the database has no such
    /// function (an install from before it), which then is read through `httpq.stats`.
    private(set) var readsCurrent = true
    /// Whether the last read failed, so only the first failure of an episode is logged.
    private(set) var isFailing = false

    init(now: Instant) {
        nextAt = now
    }

    func isDue(now: Instant) -> Bool {
        now >= nextAt
    }

    /// A read is sent now.
    mutating func sent(now: Instant) {
        nextAt = now + Self.interval
    }

    /// A read answered; returns whether reads had been failing.
    mutating func answered() -> Bool {
        defer { isFailing = false }
        return isFailing
    }

    /// A read failed with `error`. A database without httpq.queue_stats is read again at once
    /// through httpq.stats. Returns whether this failure begins an episode (worth logging).
    mutating func failed(_ error: PostgresError, now: Instant) -> Bool {
        if readsCurrent, case .query(sqlState: "42883", _, _, _) = error {
            readsCurrent = false
            nextAt = now
            return false
        }
        defer { isFailing = true }
        return !isFailing
    }
}
