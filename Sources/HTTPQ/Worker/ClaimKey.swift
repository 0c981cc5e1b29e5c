/// One attempt at one request: the pair every lease, heartbeat, release and report is fenced
/// by. Attempt numbers are never reused, so a key names one claim for good; the same request
/// claimed again is a new key, and nothing said about the old one touches the new one.
struct ClaimKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    var id: Int64
    var attempt: Int

    static func < (left: ClaimKey, right: ClaimKey) -> Bool {
        (left.id, left.attempt) < (right.id, right.attempt)
    }

    /// `id/attempt`, for logs.
    var description: String { "\(id)/\(attempt)" }
}
