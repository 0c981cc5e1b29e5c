/// What one attempt came to, for the `outcome` label of `httpq_attempts_total`. The same rule
/// as `httpq._retryable` in sql/40_backoff.sql, seen from the attempt alone: whether the
/// request is then delivered, retried or dead is the database's decision, which also counts
/// the attempts left (a retryable attempt that was the last one ends the request dead).
enum AttemptClass: Int, CaseIterable {
    /// A 2xx response: the request is delivered.
    case success
    /// No response, 408, 425, 429 or 5xx: tried again while attempts and the deadline allow.
    case retryable
    /// Any other response (redirects, other 4xx and the rest): the request is dead at once.
    case dead
    /// Nothing was sent: the destination's address is not allowed (the request is dead at
    /// once), or a secret it needs cannot be opened (it is tried again without counting).
    case blocked

    init(_ result: HTTPResult) {
        if result.refused || result.unsent {
            self = .blocked
        } else if let status = result.status, (200...299).contains(status) {
            self = .success
        } else if result.status.map({ [408, 425, 429].contains($0) || (500...599).contains($0) }) ?? true {
            self = .retryable
        } else {
            self = .dead
        }
    }

    /// The label value.
    var label: String {
        switch self {
        case .success: return "2xx"
        case .retryable: return "retryable"
        case .dead: return "dead"
        case .blocked: return "blocked"
        }
    }
}
