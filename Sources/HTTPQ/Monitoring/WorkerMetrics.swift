import CoreMetrics

/// The worker's own metrics, recorded through the swift-metrics `factory` it is given (never
/// the process-wide `MetricsSystem`, which belongs to the application embedding the worker).
/// README-metrics.md lists each with its type, labels and meaning.
///
/// Every handle is made once and kept: per channel on the channel's first attempt, per
/// statement on its first answer, so recording an attempt is a dictionary lookup and the
/// handles' own atomic increments, with no allocation.
///
/// Not thread-safe: the worker loop records; the handles are read by whoever scrapes them.
final class WorkerMetrics {
    /// Timer labels whose buckets are chosen for HTTP latencies, for factories that take
    /// buckets per label (see `WorkerMonitor.prometheusFactory`).
    static let attemptDuration = "httpq_attempt_duration_seconds"
    static let claimDuration = "httpq_claim_duration_seconds"
    static let reportDuration = "httpq_report_duration_seconds"

    private let factory: any MetricsFactory
    private let inFlight: Gauge
    private var inFlightValue = -1
    private let claims: Counter
    private let claimedRequests: Counter
    private let claimDuration: Timer
    private let reports: Counter
    private let reportedOutcomes: Counter
    private let reportDuration: Timer
    private let leaseRenewals: Counter
    private let leaseExpiries: Counter
    private let reconnects: [WorkerPlan.Lane: Counter]
    private var attempts: [String: ChannelAttempts] = [:]
    private var roundTrips: [String: Counter] = [:]
    private var statementErrors: [String: Counter] = [:]
    private var breakerTransitions: [BreakerNotice: Counter] = [:]
    private var queue: [String: QueueGauges] = [:]

    /// An attempt counter per outcome class (indexed by `AttemptClass.rawValue`) and the
    /// duration histogram, of one channel.
    private struct ChannelAttempts {
        var counts: [Counter]
        var duration: Timer
    }

    init(factory: any MetricsFactory) {
        self.factory = factory
        inFlight = Gauge(label: "httpq_attempts_in_flight", factory: factory)
        claims = Counter(label: "httpq_claims_total", factory: factory)
        claimedRequests = Counter(label: "httpq_claimed_requests_total", factory: factory)
        claimDuration = Timer(label: Self.claimDuration, factory: factory)
        reports = Counter(label: "httpq_reports_total", factory: factory)
        reportedOutcomes = Counter(label: "httpq_reported_outcomes_total", factory: factory)
        reportDuration = Timer(label: Self.reportDuration, factory: factory)
        leaseRenewals = Counter(label: "httpq_lease_renewals_total", factory: factory)
        leaseExpiries = Counter(label: "httpq_lease_expiries_total", factory: factory)
        reconnects = Dictionary(
            uniqueKeysWithValues: WorkerPlan.Lane.allCases.map { lane in
                (
                    lane,
                    Counter(
                        label: "httpq_database_reconnects_total", dimensions: [("connection", "\(lane)")],
                        factory: factory)
                )
            })
    }

    /// An attempt of a request of `channel` finished with `result`.
    func attempted(channel: String, _ result: HTTPResult) {
        let handles = attempts[channel] ?? makeAttempts(channel)
        handles.counts[AttemptClass(result).rawValue].increment()
        if !result.refused && !result.unsent {
            handles.duration.recordMilliseconds(result.durationMilliseconds)
        }
    }

    private func makeAttempts(_ channel: String) -> ChannelAttempts {
        let handles = ChannelAttempts(
            counts: AttemptClass.allCases.map { outcome in
                Counter(
                    label: "httpq_attempts_total", dimensions: [("channel", channel), ("outcome", outcome.label)],
                    factory: factory)
            },
            duration: Timer(label: Self.attemptDuration, dimensions: [("channel", channel)], factory: factory))
        attempts[channel] = handles
        return handles
    }

    /// The transfers in flight now; recorded only when the number changed.
    func inFlight(_ count: Int) {
        guard count != inFlightValue else { return }
        inFlightValue = count
        inFlight.record(count)
    }

    /// A statement answered, successfully or not, `duration` after it was sent.
    func answered(_ query: DatabaseQuery, after duration: Duration, failed: Bool) {
        let name = query.name
        counter(&roundTrips, name, "httpq_database_round_trips_total").increment()
        if failed {
            counter(&statementErrors, name, "httpq_database_errors_total").increment()
            return
        }
        switch query {
        case .report(let outcomes):
            reports.increment()
            reportedOutcomes.increment(by: outcomes.count)
            reportDuration.record(duration)
        case .claim:
            claims.increment()
            claimDuration.record(duration)
        default:
            break
        }
    }

    /// A claim took `count` requests.
    func claimed(_ count: Int) {
        claimedRequests.increment(by: count)
    }

    /// The connection of `lane` was made again after it was lost.
    func reconnected(_ lane: WorkerPlan.Lane) {
        reconnects[lane]?.increment()
    }

    /// A heartbeat extended `extended` leases and found `lapsed` no longer held.
    func heartbeat(extended: Int, lapsed: Int) {
        leaseRenewals.increment(by: extended)
        if lapsed > 0 { leaseExpiries.increment(by: lapsed) }
    }

    /// Transfers were dropped because their requests were claimed again: their leases lapsed.
    func superseded(_ count: Int) {
        leaseExpiries.increment(by: count)
    }

    /// The database said a channel's breaker moved.
    func breakerMoved(_ notice: BreakerNotice) {
        if breakerTransitions[notice] == nil {
            breakerTransitions[notice] = Counter(
                label: "httpq_breaker_transitions_total",
                dimensions: [("channel", notice.channel), ("to", notice.state.label)], factory: factory)
        }
        breakerTransitions[notice]!.increment()
    }

    /// The queue's own figures, one row per channel: channels no longer listed lose their gauges.
    func queue(_ rows: [QueueStatsRow]) {
        var seen: Set<String> = []
        for row in rows {
            seen.insert(row.channel)
            if queue[row.channel] == nil {
                queue[row.channel] = QueueGauges(channel: row.channel, factory: factory)
            }
            queue[row.channel]!.record(row)
        }
        for (channel, gauges) in queue where !seen.contains(channel) {
            gauges.destroy()
            queue[channel] = nil
        }
    }

    private func counter(_ counters: inout [String: Counter], _ name: String, _ label: String) -> Counter {
        if let counter = counters[name] { return counter }
        let counter = Counter(label: label, dimensions: [("statement", name)], factory: factory)
        counters[name] = counter
        return counter
    }
}

extension Timer {
    fileprivate func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

@available(*, unavailable)
extension WorkerMetrics: Sendable {}
