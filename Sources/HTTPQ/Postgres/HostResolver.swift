/// Resolves the host names of a connection's servers on a thread of its own, for connection
/// attempts made from the worker loop (see `ConnectionParameters.connectionsToTry`).
///
/// Keeps at most one lookup running. A stuck DNS query cannot be cancelled, so an attempt that
/// gave up waiting leaves its lookup for the next attempt to join, rather than start another.
/// Not thread-safe: used only by the worker loop.
final class HostResolver {
    typealias LookUp = @Sendable (String) -> Result<[String], HostLookupError>
    typealias Resolution = BackgroundJob<Result<ConnectionPlan, PostgresError>>

    private let parameters: ConnectionParameters
    /// How long to wait for each server, and for the lookup (nil: no limit).
    let connectTimeout: Duration?
    private let lookUp: LookUp
    private var running: Resolution?

    init(parameters: ConnectionParameters, lookUp: @escaping LookUp = HostAddresses.lookUp) {
        self.parameters = parameters
        self.lookUp = lookUp
        self.connectTimeout = parameters.connectTimeout
    }

    /// The resolution for a new attempt: the one still running from an earlier attempt, else a new one.
    func begin() throws(SystemError) -> Resolution {
        if let running, running.value == nil {
            return running
        }
        let parameters = parameters
        let lookUp = lookUp
        // libpq's defaults are read there too: reading them may consult the password database.
        let resolution = try Resolution(name: "httpq-resolve") {
            parameters.connectionsToTry(lookUp: lookUp)
        }
        running = resolution
        return resolution
    }
}

@available(*, unavailable)
extension HostResolver: Sendable {}
