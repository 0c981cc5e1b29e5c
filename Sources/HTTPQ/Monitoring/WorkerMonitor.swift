import CoreMetrics
import Prometheus
import Synchronization

/// What `httpq work --listen` serves: `/metrics` from a Prometheus registry of its own, and
/// `/healthz` and `/readyz` from the worker's `WorkerHealth`. Answers come from memory only:
/// a scrape or probe never causes a database query.
///
/// Thread-safe: requests may be answered on several threads at once.
public final class WorkerMonitor: Sendable {
    /// What the worker records into (`Worker.start(metrics:)`), with buckets chosen per timer.
    public let factory: PrometheusMetricsFactory
    /// What the worker publishes its liveness and readiness to (`Worker.start(health:)`).
    public let health = WorkerHealth()
    private let registry: PrometheusCollectorRegistry
    private let droppedLines: (@Sendable () -> Int)?
    private let droppedCounter: CoreMetrics.Counter?
    /// The dropped lines already added to `droppedCounter`.
    private let droppedCounted = Mutex(0)

    /// The Prometheus text format, version 0.0.4.
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `droppedLines` reads how many log lines were dropped so far (`LogWriter.droppedLines`);
    /// nil when the logs are not the worker's to write (an application embedding it).
    public init(droppedLines: (@Sendable () -> Int)?) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // HTTP latencies: from a few milliseconds on a fast network to the timeouts, 30 s by default.
        factory.durationHistogramBuckets[WorkerMetrics.attemptDuration] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            .seconds(30), .seconds(60),
        ]
        // Database round trips: well under a millisecond on a quiet local server, seconds when it struggles.
        let statementBuckets: [Duration] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5),
        ]
        factory.durationHistogramBuckets[WorkerMetrics.claimDuration] = statementBuckets
        factory.durationHistogramBuckets[WorkerMetrics.reportDuration] = statementBuckets
        self.registry = registry
        self.factory = factory
        self.droppedLines = droppedLines
        droppedCounter =
            droppedLines == nil ? nil : CoreMetrics.Counter(label: "httpq_log_lines_dropped_total", factory: factory)
    }

    /// The answer to a GET or HEAD (`HTTPServer` refuses other methods).
    @Sendable public func respond(to request: ServedRequest) -> ServedResponse {
        switch request.path {
        case "/metrics":
            countDroppedLines()
            return ServedResponse(status: 200, contentType: Self.metricsContentType, body: registry.emitToBuffer())
        case "/healthz":
            let (alive, reason) = health.liveness()
            return .text(alive ? 200 : 503, reason)
        case "/readyz":
            let state = health.readinessState
            return .text(state == .ready ? 200 : 503, state.reason)
        default:
            return .text(404, "not found: /metrics, /healthz and /readyz are served")
        }
    }

    /// Brings the counter up to the writer's count: the writer counts on its own, in memory.
    private func countDroppedLines() {
        guard let droppedLines, let droppedCounter else { return }
        let added = droppedCounted.withLock { counted in
            let total = droppedLines()
            defer { counted = max(counted, total) }
            return max(0, total - counted)
        }
        if added > 0 { droppedCounter.increment(by: added) }
    }
}
