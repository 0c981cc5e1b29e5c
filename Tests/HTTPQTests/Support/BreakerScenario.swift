import Synchronization

@testable import HTTPQ

/// The parts of a real breaker cycle driven by one request: it fails once, the breaker opens,
/// a probe goes a second later, it succeeds and the breaker closes.
extension TestHTTPServer {
    /// Answers 503 to the first request for each path under /flaky/ and 200 after it, 410 to
    /// any path under /gone/, and 200 to the rest.
    static func failingOnce() throws -> TestHTTPServer {
        let failed = FailedPaths()
        return try TestHTTPServer { received in
            if received.path.hasPrefix("/gone/") { return .status(410) }
            guard received.path.hasPrefix("/flaky/") else { return .status(200) }
            return .status(failed.firstTime(received.path) ? 503 : 200)
        }
    }

    private final class FailedPaths: Sendable {
        private let paths = Mutex<Set<String>>([])
        func firstTime(_ path: String) -> Bool { paths.withLock { $0.insert(path).inserted } }
    }
}

extension Connection {
    /// The channel's breaker opens on one retryable failure and probes a second later;
    /// retries come fast.
    func breakOnFirstFailure(_ channel: String) throws {
        try fastRetries(channel)
        _ = try execute(
            "SELECT httpq.set_channel($1, breaker_failures => 1, breaker_cooldown => '1 second')", [channel])
    }
}
