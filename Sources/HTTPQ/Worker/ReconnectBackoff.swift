/// How long to wait before the next connection attempt: 0.1 s after the first failure,
/// doubling to at most 5 s, back to the start once a connection succeeds.
struct ReconnectBackoff {
    var initial: Duration = .milliseconds(100)
    var maximum: Duration = .seconds(5)
    private var next: Duration?

    /// An attempt failed (or the connection broke) at `now`: when to try again.
    mutating func failed(now: Instant) -> Instant {
        let delay = next ?? initial
        next = min(delay * 2, maximum)
        return now + delay
    }

    /// A connection was made; the next failure starts from `initial` again.
    mutating func succeeded() {
        next = nil
    }
}
