/// One NOTIFY received on a LISTENing connection.
struct Notification: Equatable, Sendable {
    /// The channel named in NOTIFY (for httpq: `httpq`).
    var channel: String
    /// The payload; httpq sends a constant empty one.
    var payload: String
}
