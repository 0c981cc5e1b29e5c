/// The phases of stopping: drain, then finish, then exit.
///
/// The first signal stops claiming and lets transfers in flight finish within the grace
/// period (draining). When they are done, or the grace period ends, what is left is aborted
/// and its claims released, and every outcome is reported (finishing), for at most
/// `finishTimeout`. A second signal skips to finishing at once; a third exits at once.
struct ShutdownPlan {
    enum Phase: Equatable {
        case running
        case draining(until: Instant)
        case finishing(until: Instant)
        case exiting
    }

    /// What the loop must do after an event.
    enum Action: Equatable {
        case none
        /// Stop claiming; transfers in flight go on.
        case stopClaiming
        /// Abort every transfer in flight and release its claim.
        case abortTransfers
        /// Leave the loop.
        case exit
    }

    /// How long transfers in flight may take to finish after the first signal.
    let grace: Duration
    /// How long releasing and reporting may take before the worker exits regardless.
    let finishTimeout: Duration = .seconds(5)
    private(set) var phase = Phase.running

    init(grace: Duration) {
        self.grace = grace
    }

    /// Whether new claims may be made.
    var isClaiming: Bool { phase == .running }

    /// A SIGTERM, SIGINT or stop request arrived.
    mutating func signal(now: Instant) -> Action {
        switch phase {
        case .running:
            phase = .draining(until: now + grace)
            return .stopClaiming
        case .draining:
            phase = .finishing(until: now + finishTimeout)
            return .abortTransfers
        case .finishing, .exiting:
            phase = .exiting
            return .exit
        }
    }

    /// Moves on when the current phase's work is done or its time is up.
    /// `transfers` counts transfers in flight; `databaseWorkLeft` is true while releases,
    /// reports or a statement are outstanding.
    mutating func advance(now: Instant, transfers: Int, databaseWorkLeft: Bool) -> Action {
        switch phase {
        case .running:
            return .none
        case .draining(let until):
            guard transfers == 0 || now >= until else { return .none }
            phase = .finishing(until: now + finishTimeout)
            guard transfers == 0 else { return .abortTransfers }
            return advance(now: now, transfers: 0, databaseWorkLeft: databaseWorkLeft)
        case .finishing(let until):
            guard !databaseWorkLeft || now >= until else { return .none }
            phase = .exiting
            return .exit
        case .exiting:
            return .exit
        }
    }

    /// When the current phase times out, nil while running.
    var deadline: Instant? {
        switch phase {
        case .running, .exiting: return nil
        case .draining(let until), .finishing(let until): return until
        }
    }
}
