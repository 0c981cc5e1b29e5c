/// While reports fail for a reason that is not their own: when to send the batch again, and
/// where the episode starts and ends, so the log says so once each way instead of per retry.
///
/// The delay grows from `initial` to at most `maximum` with decorrelated jitter (each delay is
/// drawn between `initial` and three times the last), so workers that failed together do not
/// come back together, and no retry comes sooner than `initial`.
struct ReportRetry {
    let initial: Duration = .milliseconds(100)
    let maximum: Duration = .seconds(5)

    /// When the first failure of the current episode happened; nil while reports go through.
    private(set) var failingSince: Instant?
    /// How many reports failed in the current episode.
    private(set) var failures = 0
    /// No report goes before this.
    private(set) var retryAt: Instant?
    private var lastDelay: Duration?

    /// An episode that ended: how long reports failed, and how many times.
    struct Episode: Equatable {
        var duration: Duration
        var failures: Int
    }

    var isFailing: Bool { failingSince != nil }

    /// Whether a report may be sent now.
    func allowsReport(now: Instant) -> Bool {
        retryAt.map { now >= $0 } ?? true
    }

    /// A report failed at `now`; `random` is uniform in 0..<1. Returns how long to wait.
    mutating func failed(now: Instant, random: Double) -> Duration {
        let last = lastDelay ?? initial
        let spread = (last * 3 - initial) * min(max(random, 0), 1)
        let delay = min(maximum, initial + spread)
        lastDelay = delay
        failingSince = failingSince ?? now
        failures += 1
        retryAt = now + delay
        return delay
    }

    /// A report reached the database and was judged on its data. Returns the episode this
    /// ends, nil when reports were not failing.
    mutating func succeeded(now: Instant) -> Episode? {
        defer {
            failingSince = nil
            failures = 0
            retryAt = nil
            lastDelay = nil
        }
        return failingSince.map { Episode(duration: now - $0, failures: failures) }
    }
}
