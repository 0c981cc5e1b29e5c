/// `httpq.maintain` (partitions ahead, expired history) on a second connection, never on the
/// one that claims, reports and extends leases, so a long step delays none of them.
///
/// The connection is opened when a step is due and closed when the steps are done, rather
/// than kept open: of N workers only one maintains at a time (the others are told `ran: false`
/// at once), so N connections kept open would hold N idle backends for a few milliseconds of
/// work a minute, while opening one costs a few milliseconds once a minute.
///
/// Nothing here blocks: connecting (host names resolved off the loop) and the statement go
/// through the loop's wait like the main connection. `MaintenancePlan` decides when; this
/// class only does it.
/// Not thread-safe: used only by the worker loop.
final class Maintenance {
    /// What happened, for the log.
    enum Event {
        /// A step answered; `recovered` when the steps before it had failed.
        case answered(MaintenanceStep, recovered: Bool)
        /// A step failed; `firstOfEpisode` when the step before it had not.
        case failed(String, firstOfEpisode: Bool)
    }

    private enum Link {
        case closed
        case connecting(ConnectAttempt)
        /// Open, with a step in flight.
        case open(DatabaseLink)
    }

    private let parameters: ConnectionParameters
    private let resolver: HostResolver
    private let identity: WorkerIdentity
    private(set) var plan: MaintenancePlan
    private var link = Link.closed
    private var stopped = false

    init(parameters: ConnectionParameters, identity: WorkerIdentity, plan: MaintenancePlan) {
        self.parameters = parameters
        self.resolver = HostResolver(parameters: parameters)
        self.identity = identity
        self.plan = plan
    }

    /// What to wait for on the maintenance socket this turn, nil when there is none.
    var waitDescriptor: WaitDescriptor? {
        switch link {
        case .closed:
            return nil
        case .connecting(let attempt):
            return attempt.waitDescriptor
        case .open(let database):
            return database.waitDescriptor
        }
    }

    /// When the loop must give maintenance a turn without socket activity; nil once stopped.
    var deadline: Instant? {
        guard !stopped else { return nil }
        if case .connecting(let attempt) = link {
            return min(plan.deadline, attempt.deadline)
        }
        return plan.deadline
    }

    /// Abandons whatever is under way and runs no more steps (the worker is stopping; a step
    /// is its own transaction, so nothing is left half done).
    func stop() {
        stopped = true
        link = .closed
    }

    /// Begins a due step, or moves the one under way forward; `ready` is the socket's readiness.
    func service(now: Instant, ready: Bool) -> [Event] {
        guard !stopped else { return [] }
        if plan.isOverdue(now: now) {
            return [fail("no answer within \(Int(plan.stepTimeout.seconds)) s", now: now)]
        }
        switch link {
        case .closed:
            guard plan.isDue(now: now) else { return [] }
            plan.began(now: now)
            do {
                let attempt = try ConnectAttempt(resolver: resolver, now: now)
                link = .connecting(attempt)
                return advance(attempt, now: now, ready: false)
            } catch {
                return [fail(error.description, now: now)]
            }
        case .connecting(let attempt):
            return advance(attempt, now: now, ready: ready)
        case .open(let database):
            return handle(database.service(now: now, ready: ready), from: database, now: now)
        }
    }

    private func advance(_ attempt: ConnectAttempt, now: Instant, ready: Bool) -> [Event] {
        switch attempt.advance(now: now, ready: ready) {
        case .waiting:
            return []
        case .failed(let error):
            return [fail(error.description, now: now)]
        case .connected(let connection):
            let database: DatabaseLink
            do {
                database = try DatabaseLink(connection: connection, parameters: parameters)
            } catch {
                return [fail(error.description, now: now)]
            }
            link = .open(database)
            // A session setting, not a connection parameter, so `options` in the user's
            // connection string are kept as they are.
            return handle(database.send(plan.sessionSetup, identity: identity, now: now), from: database, now: now)
        }
    }

    /// Turns the link's events into steps answered or failed. The link is dropped rather than
    /// left to reconnect: the next step opens a new one when it is due.
    private func handle(_ events: [DatabaseLink.Event], from database: DatabaseLink, now: Instant) -> [Event] {
        var results: [Event] = []
        for event in events {
            // After the step is closed or failed, what the old connection says no longer matters.
            guard case .open(let current) = link, current === database else { break }
            switch event {
            case .completed(.statementTimeout, _, .success):
                results += handle(database.send(.maintain, identity: identity, now: now), from: database, now: now)
            case .completed(_, _, .success(let result)):
                guard let row = result.rows.first, let step = MaintenanceStep(row: row) else {
                    results.append(fail("httpq.maintain answered in an unexpected shape", now: now))
                    break
                }
                let recovered = plan.isFailing
                if plan.answered(step, now: now) == .again {
                    results.append(.answered(step, recovered: recovered))
                    results += handle(database.send(.maintain, identity: identity, now: now), from: database, now: now)
                } else {
                    link = .closed
                    results.append(.answered(step, recovered: recovered))
                }
            case .completed(_, _, .failure(let error)), .lost(let error, _, _):
                results.append(fail(error.description, now: now))
            case .connected, .connectFailed, .notified, .notice:
                break  // no LISTEN here, and a lost link is dropped before it could reconnect
            }
        }
        return results
    }

    private func fail(_ message: String, now: Instant) -> Event {
        link = .closed
        return .failed(message, firstOfEpisode: plan.failed(now: now))
    }
}

@available(*, unavailable)
extension Maintenance: Sendable {}
