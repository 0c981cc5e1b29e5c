/// When the worker runs `httpq.maintain`: every `interval` and up to half of one more, jittered
/// so that workers started together drift apart, and again at once while a step says there is
/// more. A step that did not run (another session holds the lock) or failed waits as long.
///
/// A step counts from when it is begun (connecting included) to its answer; one that takes
/// longer than `stepTimeout` is abandoned as failed, so a connection that hangs without
/// breaking cannot stop maintenance for good.
struct MaintenancePlan {
    enum Phase: Equatable {
        case waiting(until: Instant)
        case running(since: Instant)
    }

    /// What follows a step.
    enum Next: Equatable {
        /// Keep the connection and send another step now.
        case again
        /// Close the connection; the next step is due at the plan's `deadline`.
        case wait
    }

    let interval: Duration
    let stepTimeout: Duration = .seconds(300)
    /// The server's own limit on each statement of the maintenance session, below `stepTimeout`.
    /// Abandoning a step (overdue, or the worker stopping) only closes the socket, and a server
    /// busy in `httpq.maintain` does not notice that until it next talks to the client: without
    /// this, the step would go on holding its locks (maintenance's advisory lock, partition
    /// DDL's) long after the worker gave up on it. With it, the server ends the step itself
    /// first, and the worker hears why.
    let statementTimeout: Duration = .seconds(240)
    private(set) var phase: Phase
    /// Whether the last step failed: failures are logged once per episode, recovery once.
    private(set) var isFailing = false
    /// Uniform in 0..<1, for the jitter.
    private let random: () -> Double

    /// The first step falls anywhere within the first interval, so workers deployed together
    /// do not all ask at once.
    init(interval: Duration = .seconds(60), now: Instant, random: @escaping () -> Double = { .random(in: 0..<1) }) {
        self.interval = interval
        self.random = random
        phase = .waiting(until: now + interval * random())
    }

    /// The first statement on each maintenance connection, before any step.
    var sessionSetup: DatabaseQuery {
        .statementTimeout(statementTimeout)
    }

    /// Whether a step should begin now.
    func isDue(now: Instant) -> Bool {
        if case .waiting(let until) = phase { return now >= until }
        return false
    }

    /// When the loop must wake for the plan: the next step, or the running step's timeout.
    var deadline: Instant {
        switch phase {
        case .waiting(let until): return until
        case .running(let since): return since + stepTimeout
        }
    }

    /// Whether the running step has taken too long and is to be abandoned (then `failed`).
    func isOverdue(now: Instant) -> Bool {
        if case .running(let since) = phase { return now >= since + stepTimeout }
        return false
    }

    /// A step begins at `now`.
    mutating func began(now: Instant) {
        phase = .running(since: now)
    }

    /// A step answered. Returns whether to go on at once (`more`) or wait about an interval
    /// (done, or `ran: false`: another session is maintaining, and asking sooner is pointless).
    mutating func answered(_ step: MaintenanceStep, now: Instant) -> Next {
        isFailing = false
        if step.ran && step.more {
            phase = .running(since: now)
            return .again
        }
        wait(now: now)
        return .wait
    }

    /// A step failed (connecting, the statement, or the timeout). Returns whether this starts
    /// an episode of failures, to be logged; the next step is due about an interval later.
    mutating func failed(now: Instant) -> Bool {
        defer { isFailing = true }
        wait(now: now)
        return !isFailing
    }

    /// Waits a whole interval and up to half of one more, so workers never stay in step.
    private mutating func wait(now: Instant) {
        phase = .waiting(until: now + interval * (1 + 0.5 * random()))
    }
}
