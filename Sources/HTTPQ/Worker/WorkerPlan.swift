/// Every decision of the worker loop, as a value: fed events with the time, it says which
/// statement to send next and when the loop must wake. It does no I/O, so it is tested as
/// event-and-action transcripts.
struct WorkerPlan {
    var claims: ClaimPlanner
    var reports = ReportBatcher()
    var reportRetry = ReportRetry()
    var leases: LeaseTracker
    var shutdown: ShutdownPlan
    /// When to read `httpq.queue_stats` for the queue gauges; nil when no metrics are kept.
    var queueStats: QueueStatsSchedule?
    /// Claims to hand back: transfers aborted at shutdown, and requests claimed while stopping.
    private(set) var releases: [ClaimKey] = []
    /// Whether the connection still needs its LISTEN (true for every new connection).
    private(set) var needsListen = true
    /// After a statement other than a report failed for a reason that will not pass by
    /// itself, nothing is sent until then, so a broken function is not hammered in a tight loop.
    private(set) var quietUntil: Instant?
    /// Uniform in 0..<1, for the jitter of report retries.
    private let random: () -> Double

    static let quietAfterError: Duration = .seconds(1)

    init(
        concurrency: Int, batch: Int, pollInterval: Duration, lease: Duration, grace: Duration, now: Instant,
        random: @escaping () -> Double = { Double.random(in: 0..<1) }
    ) {
        claims = ClaimPlanner(concurrency: concurrency, batch: batch, pollInterval: pollInterval, now: now)
        leases = LeaseTracker(lease: lease)
        shutdown = ShutdownPlan(grace: grace)
        self.random = random
    }

    // MARK: - Choosing the next statement

    /// The worker's two connections: claims, with their wake-ups (LISTEN, the idle mark, the
    /// next run_at), on one; what it reports of its claims (reports, heartbeats, releases) on
    /// the other. A claim then never waits behind a report, nor a report behind a claim, and
    /// the two commits share the WAL flush instead of taking turns.
    enum Lane: CaseIterable {
        case claims, reports
    }

    /// The statement to send on an idle connection of `lane` (nil: one connection for both),
    /// most urgent first, or nil when none is due. Sending is part of the decision: the batch
    /// is taken, the claim timer restarts. `inFlight` counts claimed requests not yet finished
    /// (transfers).
    mutating func nextQuery(now: Instant, inFlight: Int, lane: Lane? = nil) -> DatabaseQuery? {
        if let quietUntil, now < quietUntil { return nil }
        quietUntil = nil
        if lane != .reports, needsListen {
            needsListen = false
            return .listen
        }
        if lane != .reports, shutdown.isClaiming, let schedule = queueStats, schedule.isDue(now: now) {
            queueStats?.sent(now: now)
            return .queueStats(current: schedule.readsCurrent)
        }
        if lane != .claims {
            if !releases.isEmpty {
                defer { releases = [] }
                return .release(releases)
            }
            // Heartbeats before reports: they are small, and while reports take longer than the
            // batching delay a new one is always due, which would let leases of long transfers lapse.
            // They go on while reports fail, so the transfers still running keep their claims.
            let due = leases.due(now: now)
            if !due.isEmpty {
                return .heartbeat(due)
            }
            // With nothing else in flight no outcome is coming to batch with: waiting adds latency.
            if reportRetry.allowsReport(now: now),
                reports.isDue(now: now, urgent: !shutdown.isClaiming || inFlight == 0)
            {
                return .report(reports.take())
            }
        }
        guard lane != .reports, shutdown.isClaiming, !waitsForReports else { return nil }
        switch claims.markDue(now: now) {
        case .idle: return .idle
        case .busy: return .busy
        case .changing, nil: break
        }
        if let count = claims.size(inFlight: inFlight, now: now) {
            claims.sent(at: now)
            return .claim(count: count)
        }
        if claims.wantsSchedule {
            claims.scheduleSent()
            return .schedule
        }
        return nil
    }

    /// When the next statement falls due on an idle connection, for the loop's wait; nil when
    /// only an event can make one. The loop uses it only while the connection is idle: with a
    /// statement in flight or no connection, a due time that cannot be acted on would spin it.
    func queryDeadline(inFlight: Int, lane: Lane? = nil) -> Instant? {
        if let quietUntil { return quietUntil }
        var times: [Instant?] = []
        if lane != .claims {
            times.append(leases.deadline)
            if let reportsDue = reports.deadline {
                times.append(max(reportsDue, reportRetry.retryAt ?? reportsDue))
            }
        }
        if lane != .reports, shutdown.isClaiming, !waitsForReports, inFlight < claims.concurrency {
            times.append(claims.deadline)
        }
        if lane != .reports, shutdown.isClaiming {
            times.append(queueStats?.nextAt)
        }
        return times.compactMap { $0 }.min()
    }

    /// While reports fail and outcomes wait for them, nothing is claimed: what is sent now
    /// could not be recorded either.
    private var waitsForReports: Bool {
        reportRetry.isFailing && !reports.isEmpty
    }

    /// Whether anything remains for the database before the worker may exit.
    var hasDatabaseWork: Bool {
        !releases.isEmpty || !reports.isEmpty
    }

    // MARK: - Events

    /// A new connection of `lane` (nil: the only one) is ready. The claims connection LISTENs
    /// again and claims, since NOTIFYs may have been missed; its idle mark went with the old one.
    mutating func connected(lane: Lane? = nil) {
        guard lane != .reports else { return }
        needsListen = true
        claims.connected()
    }

    /// A NOTIFY arrived on the connection.
    mutating func notified() {
        claims.wake()
    }

    /// A transfer finished.
    mutating func finished(_ outcome: Outcome, now: Instant) {
        reports.add(outcome, now: now)
    }

    /// Transfers were abandoned unattempted (shutdown): their claims go back.
    mutating func release(_ claims: [ClaimKey]) {
        releases += claims
    }

    /// Transfers were dropped because their requests were claimed again (a newer attempt):
    /// no outcome will come for these claims, so their leases are no longer extended.
    mutating func superseded(_ claims: [ClaimKey]) {
        leases.forget(claims)
    }

    /// A claim sent at `sentAt` returned `claimed` of `asked`. While stopping they are handed
    /// back, not started; returns whether to start them.
    mutating func claimed(_ claimed: [ClaimKey], asked: Int, sentAt: Instant) -> Bool {
        claims.received(claimed.count, of: asked, now: sentAt)
        leases.renewed(claimed, sentAt: sentAt)
        guard shutdown.isClaiming else {
            releases += claimed
            return false
        }
        return true
    }

    /// A statement succeeded. `delay` is the schedule's answer. Returns the episode of failing
    /// reports that a report going through ends, if one does.
    @discardableResult
    mutating func succeeded(
        _ query: DatabaseQuery, sentAt: Instant, now: Instant, delay: Duration? = nil
    ) -> ReportRetry.Episode? {
        switch query {
        case .report(let outcomes):
            // Exactly the claims reported: a newer attempt of the same request keeps its lease.
            leases.forget(outcomes.map(\.key))
            reports.reported()
            claims.reported()  // finished requests may unblock others (ordering keys, channel limits)
            return reportRetry.succeeded(now: now)
        case .heartbeat(let claims):
            leases.extended(claims, sentAt: sentAt)
        case .release(let claims):
            leases.forget(claims)
        case .schedule:
            claims.scheduled(in: delay, now: now)
        case .busy:
            claims.markedBusy()
        case .listen, .claim, .idle, .maintain, .statementTimeout, .queueStats:
            break
        }
        return nil
    }

    /// `httpq.idle` answered whether a claim made now sees every request.
    mutating func markedIdle(everythingSeen: Bool, now: Instant) {
        claims.markedIdle(everythingSeen: everythingSeen, now: now)
    }

    /// What a failed statement did to the plan, for the log.
    enum Failure: Equatable {
        /// Reports stopped going through: the first failure of an episode. The batch is kept
        /// and sent again after `retryIn`; nothing is claimed until a report goes through.
        case reportsFailing(retryIn: Duration)
        /// Reports still fail; the batch is kept and sent again after `retryIn`.
        case reportsStillFailing(retryIn: Duration)
        /// Reports still fail, and this batch has failed `ReportBatcher.failuresBeforeHalving`
        /// times in a row: it goes again in two halves, the first after `retryIn`.
        case reportHalved(retryIn: Duration)
        /// The database refused an outcome's data, or the batch as too large; the batch goes
        /// again in two halves.
        case reportSplit
        /// The database refused this lone outcome's data, or found it too large, so it is dropped.
        case outcomeDropped(Outcome)
        /// Any other statement. `quiet` when nothing is sent for a while (a failure that will
        /// not pass by itself).
        case statement(quiet: Bool)
        /// Reading `httpq.queue_stats` failed; it is read again at its next interval, or at once
        /// through httpq.stats when the database lacks it. Claims go on regardless.
        case queueStats(firstOfEpisode: Bool)
    }

    /// A statement failed with `error`, or the connection broke with it in flight.
    mutating func failed(_ query: DatabaseQuery, error: PostgresError, now: Instant) -> Failure {
        if case .report(let outcomes) = query {
            return reportFailed(outcomes, ReportFailure(error), now: now)
        }
        if case .queueStats = query {
            return .queueStats(firstOfEpisode: queueStats?.failed(error, now: now) ?? false)
        }
        let transient = error.isTransient
        switch query {
        case .release(let claims) where transient:
            releases = claims + releases
        case .release(let claims):
            // Their leases expire and the requests are attempted again.
            leases.forget(claims)
        case .listen:
            needsListen = true
        case .schedule:
            claims.scheduled(in: nil, now: now)
        case .idle:
            claims.markFailed(.idle)
        case .busy:
            claims.markFailed(.busy)
        case .claim, .heartbeat, .report, .maintain, .statementTimeout, .queueStats:
            break
        }
        if !transient {
            quietUntil = now + Self.quietAfterError
        }
        return .statement(quiet: !transient)
    }

    /// No outcome that reached the worker is dropped while it lives, with one exception: a
    /// lone outcome whose own data the database refuses (or finds too large). Sending it again
    /// would fail again, so it is dropped; its lease expires and the request is attempted
    /// again, which records a fresh outcome. A lone outcome failing for any other reason is
    /// kept and sent again, however long that takes.
    ///
    /// A failure that depends on the batch's size must not stall the worker: a batch is halved
    /// when the database says it is too large, and after a few failures in a row whatever the
    /// reason, so a batch too slow or too big to go through whole still goes through in parts.
    private mutating func reportFailed(_ outcomes: [Outcome], _ failure: ReportFailure, now: Instant) -> Failure {
        switch failure {
        case .notTheBatch:
            let halved = reports.putBack(outcomes, now: now)
            let first = !reportRetry.isFailing
            // Halves wait too: the cause may be the database, not the size.
            let delay = reportRetry.failed(now: now, random: random())
            if first { return .reportsFailing(retryIn: delay) }
            return halved ? .reportHalved(retryIn: delay) : .reportsStillFailing(retryIn: delay)
        case .rejectedData, .tooLarge:
            guard outcomes.count > 1 else {
                leases.forget(outcomes.map(\.key))
                reports.reported()
                return .outcomeDropped(outcomes[0])
            }
            // The halves are smaller each time: no need to wait.
            reports.split(outcomes, now: now)
            return .reportSplit
        }
    }
}
