import Synchronization

/// What `/healthz` and `/readyz` answer, published by the worker loop and read by the
/// threads that serve them. The loop stores two atomics a turn; a probe only loads them.
public final class WorkerHealth: Sendable {
    /// Why the worker is not ready, or that it is.
    public enum Readiness: UInt8, Sendable {
        case ready
        /// Not started yet, or stopped.
        case notRunning
        /// A connection to the database is down (being made again).
        case disconnected
        /// Connected, but `LISTEN httpq` has not answered yet on the claims connection.
        case notListening
        /// Stopping: nothing new is claimed.
        case draining

        /// The one-line reason a probe gives.
        public var reason: String {
            switch self {
            case .ready: return "ready"
            case .notRunning: return "the worker is not running"
            case .disconnected: return "not connected to the database"
            case .notListening: return "not listening for notifications yet"
            case .draining: return "draining: stopping, nothing new is claimed"
            }
        }
    }

    /// The loop's longest wait without a turn (`Worker.longestWait`) times ten: a loop that
    /// has not turned for this long is stuck, not waiting.
    public static let stallLimit: Duration = Worker.longestWait * 10

    private let origin = ContinuousClock.now
    /// When the loop last turned, in nanoseconds since `origin`; `Int64.min` before its first turn.
    private let lastTurn = Atomic<Int64>(.min)
    private let readiness = Atomic<UInt8>(Readiness.notRunning.rawValue)

    public init() {}

    /// The loop turned at `now`.
    func turned(at now: ContinuousClock.Instant) {
        lastTurn.store(Self.nanoseconds(now - origin), ordering: .relaxed)
    }

    func set(_ state: Readiness) {
        readiness.store(state.rawValue, ordering: .relaxed)
    }

    /// Whether the loop turned within `stallLimit` of `now`, and if not, why not.
    public func liveness(now: ContinuousClock.Instant = .now) -> (alive: Bool, reason: String) {
        let last = lastTurn.load(ordering: .relaxed)
        guard last != .min else { return (false, "the worker loop has not started") }
        let since = Self.nanoseconds(now - origin) - last
        guard since <= Self.nanoseconds(Self.stallLimit) else {
            return (false, "the worker loop has not turned for \(since / 1_000_000) ms (limit \(Self.nanoseconds(Self.stallLimit) / 1_000_000) ms)")
        }
        return (true, "the worker loop turned \(since / 1_000_000) ms ago")
    }

    public var readinessState: Readiness {
        Readiness(rawValue: readiness.load(ordering: .relaxed)) ?? .notRunning
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
