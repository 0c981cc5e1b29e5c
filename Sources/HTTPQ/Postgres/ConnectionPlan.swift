/// The connections one attempt makes, one after another until one is made: each to one
/// server, so that each gets its own timeout (see `ConnectAttempt`).
struct ConnectionPlan: Sendable {
    /// In the order to try them.
    var connections: [ConnectionParameters]
    /// Why the names left out did not resolve, worded as libpq words it, for the message when
    /// every connection fails.
    var lookupFailures: [String] = []
}
