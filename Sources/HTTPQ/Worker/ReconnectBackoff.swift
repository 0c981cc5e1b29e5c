/// How long to wait before the next connection attempt: a step of 0.1 s after the first
/// failure, doubling to at most 5 s, back to the start once a connection succeeds.
///
/// Each wait is half its step plus a random part of the other half ("equal jitter"), so
/// workers cut off together by a database restart do not all reconnect at the same moment,
/// and no wait is ever shorter than half the first step.
struct ReconnectBackoff {
    var initial: Duration = .milliseconds(100)
    var maximum: Duration = .seconds(5)
    /// A number in 0..<1 for each wait; replaced by tests to make the waits known.
    var randomFraction: () -> Double = { Double.random(in: 0..<1) }
    private var step: Duration?

    /// An attempt failed (or the connection broke) at `now`: when to try again.
    mutating func failed(now: Instant) -> Instant {
        let current = step ?? initial
        step = min(current * 2, maximum)
        let half = current / 2
        let fraction = min(max(randomFraction(), 0), 1)
        return now + half + half * fraction
    }

    /// A connection was made; the next failure starts from `initial` again.
    mutating func succeeded() {
        step = nil
    }
}
