/// Every decision of the worker loop, as a value: fed events with the time, it says which
/// statement to send next and when the loop must wake. It does no I/O, so it is tested as
/// event-and-action transcripts.
struct WorkerPlan {
    var claims: ClaimPlanner
    var reports = ReportBatcher()
    var leases: LeaseTracker
    var shutdown: ShutdownPlan
    /// Claims to hand back: transfers aborted at shutdown, and requests claimed while stopping.
    private(set) var releases: [Int64] = []
    /// Whether the connection still needs its LISTEN (true for every new connection).
    private(set) var needsListen = true
    /// When to next run `httpq.purge` (about once a minute; any worker may do it).
    private(set) var nextPurgeAt: Instant
    /// After a statement failed for a reason that will not pass by itself, nothing is sent
    /// until then, so a broken function is not hammered in a tight loop.
    private(set) var quietUntil: Instant?

    static let purgeInterval: Duration = .seconds(60)
    static let quietAfterError: Duration = .seconds(1)

    init(concurrency: Int, batch: Int, pollInterval: Duration, lease: Duration, grace: Duration, now: Instant) {
        claims = ClaimPlanner(concurrency: concurrency, batch: batch, pollInterval: pollInterval, now: now)
        leases = LeaseTracker(lease: lease)
        shutdown = ShutdownPlan(grace: grace)
        nextPurgeAt = now + Self.purgeInterval
    }

    // MARK: - Choosing the next statement

    /// The statement to send on an idle connection, most urgent first, or nil when none is due.
    /// Sending is part of the decision: the batch is taken, the claim timer restarts.
    /// `inFlight` counts claimed requests not yet finished (transfers).
    mutating func nextQuery(now: Instant, inFlight: Int) -> DatabaseQuery? {
        if let quietUntil, now < quietUntil { return nil }
        quietUntil = nil
        if needsListen {
            needsListen = false
            return .listen
        }
        if !releases.isEmpty {
            defer { releases = [] }
            return .release(releases)
        }
        // Heartbeats before reports: they are small, and while reports take longer than the
        // batching delay a new one is always due, which would let leases of long transfers lapse.
        let due = leases.due(now: now)
        if !due.isEmpty {
            return .heartbeat(due)
        }
        // With nothing else in flight no outcome is coming to batch with: waiting adds latency.
        if reports.isDue(now: now, urgent: !shutdown.isClaiming || inFlight == 0) {
            return .report(reports.take())
        }
        guard shutdown.isClaiming else { return nil }
        if let count = claims.size(inFlight: inFlight, now: now) {
            claims.sent(at: now)
            return .claim(count: count)
        }
        if claims.wantsSchedule {
            claims.scheduleSent()
            return .schedule
        }
        if now >= nextPurgeAt {
            nextPurgeAt = now + Self.purgeInterval
            return .purge
        }
        return nil
    }

    /// When the next statement falls due on an idle connection, for the loop's wait; nil when
    /// only an event can make one. The loop uses it only while the connection is idle: with a
    /// statement in flight or no connection, a due time that cannot be acted on would spin it.
    func queryDeadline(inFlight: Int) -> Instant? {
        if let quietUntil { return quietUntil }
        var times = [reports.deadline, leases.deadline]
        if shutdown.isClaiming {
            if inFlight < claims.concurrency { times.append(claims.deadline) }
            times.append(nextPurgeAt)
        }
        return times.compactMap { $0 }.min()
    }

    /// Whether anything remains for the database before the worker may exit.
    var hasDatabaseWork: Bool {
        !releases.isEmpty || !reports.isEmpty
    }

    // MARK: - Events

    /// A new connection is ready: LISTEN again, and claim, since NOTIFYs may have been missed.
    mutating func connected() {
        needsListen = true
        claims.wake()
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
    mutating func release(_ ids: [Int64]) {
        releases += ids
    }

    /// A claim sent at `sentAt` returned `ids` of `asked`. While stopping they are handed back,
    /// not started; returns whether to start them.
    mutating func claimed(_ ids: [Int64], asked: Int, sentAt: Instant) -> Bool {
        claims.received(ids.count, of: asked)
        leases.renewed(ids, sentAt: sentAt)
        guard shutdown.isClaiming else {
            releases += ids
            return false
        }
        return true
    }

    /// A statement succeeded. `value` is its scalar result where it has one.
    mutating func succeeded(_ query: DatabaseQuery, sentAt: Instant, now: Instant, delay: Duration? = nil) {
        switch query {
        case .report(let outcomes):
            leases.forget(outcomes.map(\.id))
            claims.wake()  // finished requests may unblock others (ordering keys, channel limits)
        case .heartbeat(let ids):
            leases.renewed(ids, sentAt: sentAt)
        case .release(let ids):
            leases.forget(ids)
        case .schedule:
            claims.scheduled(in: delay, now: now)
        case .listen, .claim, .purge:
            break
        }
    }

    /// A statement failed, or the connection broke with it in flight (`transient`).
    /// Outcomes and releases come back to be sent again when the failure may pass. A report
    /// the database rejected is sent again in halves until the outcome it refuses is alone;
    /// that one, and releases, are dropped (their leases expire and the requests are
    /// attempted again).
    mutating func failed(_ query: DatabaseQuery, transient: Bool, now: Instant) {
        switch query {
        case .report(let outcomes) where transient:
            reports.putBack(outcomes, now: now)
        case .report(let outcomes) where outcomes.count > 1:
            reports.split(outcomes, now: now)
            return  // the halves are smaller each time: no need to go quiet
        case .release(let ids) where transient:
            releases = ids + releases
        case .release(let ids):
            leases.forget(ids)
        case .report(let outcomes):
            leases.forget(outcomes.map(\.id))
        case .listen:
            needsListen = true
        case .schedule:
            claims.scheduled(in: nil, now: now)
        case .claim, .heartbeat, .purge:
            break
        }
        if !transient {
            quietUntil = now + Self.quietAfterError
        }
    }
}
