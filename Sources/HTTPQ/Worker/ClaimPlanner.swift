/// Decides when to claim and how many: the claim size is min(batch, free slots), and a claim is
/// due when something may have become claimable.
///
/// The worker is busy or idle. Busy, it claims on its own every `busyPollInterval` while
/// requests keep coming, and enqueues send no NOTIFY (a NOTIFY serializes the commits of the
/// transactions that send it). After `idleAfter` without finding anything it marks itself idle
/// in the database (`httpq.idle`): enqueues then notify it, and it claims on a NOTIFY, a report
/// that finished requests (it may unblock the next in an ordering key or free channel
/// concurrency), the poll interval (a NOTIFY can be missed), and the next scheduled `run_at`.
/// Two claims that find requests within `idleAfter` of each other make it busy again
/// (`httpq.busy`). Either way a claim that comes back full claims again at once.
///
/// `httpq.idle` also answers whether an enqueue that looked for idle workers before the mark is
/// still running (its request would not be seen and it will not notify): then the worker claims
/// again after a short delay, doubling up to the poll interval, and asks again.
struct ClaimPlanner {
    /// The most transfers in flight at once.
    let concurrency: Int
    /// The most requests one claim asks for.
    let batch: Int
    /// The longest the worker goes without claiming while it has free slots.
    let pollInterval: Duration

    /// How often a busy worker claims. Measured: 2 ms keeps latency near a millisecond at a
    /// steady 1,000 requests a second while costing the database about 500 claims a second.
    static let busyPollInterval: Duration = .milliseconds(2)
    /// How long a busy worker claims without finding anything before it marks itself idle.
    static let idleAfter: Duration = .milliseconds(20)

    /// The idle mark of the worker's session in the database.
    enum Mark: Equatable {
        /// Busy: claims on its own, enqueues do not notify.
        case busy
        /// `httpq.idle` was sent and has not answered yet, or `httpq.busy` was.
        case changing
        /// Idle: enqueues notify.
        case idle
    }

    /// Whether something happened that may have made requests claimable.
    private(set) var wanted = true
    private(set) var mark = Mark.busy
    /// When a claim was last sent.
    private(set) var lastSentAt: Instant
    /// When a claim last found requests.
    private(set) var lastFoundAt: Instant?
    /// When the poll interval next forces a claim while idle.
    private(set) var nextPollAt: Instant
    /// The next scheduled `run_at` learned from the database, if any.
    private(set) var wakeAt: Instant?
    /// Whether to ask the database for the next `run_at` (after an idle claim that was not full).
    private(set) var wantsSchedule = false
    /// Whether `httpq.idle` (mark or ask again) or `httpq.busy` is to be sent.
    private(set) var markWanted: Mark?
    /// While idle with enqueues possibly unseen: when to claim and ask again.
    private(set) var recheckAt: Instant?
    private var recheckDelay = ClaimPlanner.busyPollInterval

    init(concurrency: Int, batch: Int, pollInterval: Duration, now: Instant) {
        self.concurrency = concurrency
        self.batch = batch
        self.pollInterval = pollInterval
        self.lastSentAt = now
        self.nextPollAt = now + pollInterval
    }

    /// How many to claim now, or nil when no claim is due or no slot is free.
    /// `inFlight` counts every claimed request not yet finished.
    func size(inFlight: Int, now: Instant) -> Int? {
        let free = concurrency - inFlight
        guard free > 0, markWanted == nil, isDue(now) else { return nil }
        return min(batch, free)
    }

    /// When a claim or a mark falls due by time alone; nil when one is due already or no timer applies.
    var deadline: Instant? {
        guard !wanted, markWanted == nil else { return nil }
        switch mark {
        case .busy: return lastSentAt + Self.busyPollInterval
        case .changing: return nil
        case .idle: return [nextPollAt, wakeAt, recheckAt].compactMap { $0 }.min()
        }
    }

    private func isDue(_ now: Instant) -> Bool {
        switch mark {
        case .busy: return wanted || now >= lastSentAt + Self.busyPollInterval
        case .changing: return false
        case .idle: return wanted || now >= nextPollAt || wakeAt.map { now >= $0 } == true
        }
    }

    /// The mark to send now, if one is due: `.idle` for `httpq.idle`, `.busy` for `httpq.busy`.
    mutating func markDue(now: Instant) -> Mark? {
        if markWanted == nil, let recheckAt, now >= recheckAt {
            self.recheckAt = nil
            markWanted = .idle
        }
        guard let wanted = markWanted else { return nil }
        markWanted = nil
        mark = .changing
        return wanted
    }

    /// A NOTIFY arrived (a new connection is `connected()`).
    mutating func wake() {
        wanted = true
    }

    /// A channel's requests in flight fell to half its `--channel-share`: claims that found
    /// nothing while it had all of it may have left its requests waiting. An idle worker
    /// claims only when woken; a busy one claims soon anyway (more claims, each smaller,
    /// would cost the database more per request).
    mutating func roomFreed() {
        if mark == .idle { wanted = true }
    }

    /// A report applied outcomes: they may have unblocked requests. A busy worker claims
    /// soon anyway.
    mutating func reported() {
        if mark == .idle { wanted = true }
    }

    /// A new connection: its session has no mark, and NOTIFYs may have been missed.
    mutating func connected() {
        mark = .busy
        markWanted = nil
        recheckAt = nil
        recheckDelay = Self.busyPollInterval
        lastFoundAt = nil
        wanted = true
    }

    /// A claim was sent at `now`: what woke it is used up, and the poll interval starts over.
    mutating func sent(at now: Instant) {
        wanted = false
        lastSentAt = now
        nextPollAt = now + pollInterval
        if let wakeAt, wakeAt <= now {
            self.wakeAt = nil
        }
    }

    /// A claim returned `received` of the `asked` requests.
    mutating func received(_ received: Int, of asked: Int, now: Instant) {
        if received >= asked {
            wanted = true  // a full claim: more is probably waiting
        }
        let recent = lastFoundAt.map { now - $0 < Self.idleAfter } ?? false
        if received > 0 {
            if mark == .idle, recent { markWanted = .busy }  // requests keep coming
            lastFoundAt = now
        } else if mark == .busy, !recent {
            markWanted = .idle
        }
        if mark == .idle, received < asked { wantsSchedule = true }
    }

    /// `httpq.idle` answered: the worker is idle, and `everythingSeen` says whether a claim
    /// made now sees every request. Claims once more either way.
    mutating func markedIdle(everythingSeen: Bool, now: Instant) {
        mark = .idle
        wanted = true
        if everythingSeen {
            recheckAt = nil
            recheckDelay = Self.busyPollInterval
        } else {
            recheckAt = now + recheckDelay
            recheckDelay = min(recheckDelay * 2, pollInterval)
        }
    }

    /// `httpq.busy` answered.
    mutating func markedBusy() {
        mark = .busy
        recheckAt = nil
        wanted = true
    }

    /// The mark could not be sent or answered: as if nothing had been asked (a busy worker
    /// asks again when its claims keep finding nothing; an idle one stays idle).
    mutating func markFailed(_ sent: Mark) {
        mark = sent == .idle ? .busy : .idle
    }

    /// The query for the next `run_at` was sent.
    mutating func scheduleSent() {
        wantsSchedule = false
    }

    /// The database answered that the next `run_at` is `delay` from now (nil: nothing scheduled).
    mutating func scheduled(in delay: Duration?, now: Instant) {
        guard let delay else {
            wakeAt = nil
            return
        }
        // Due already: scheduled requests whose time has come and that no claim has made
        // claimable yet (a claim wakes at most ten batches of them, oldest first). Claim again
        // at once: each such claim wakes more of them, so this cannot spin, and a large due
        // backlog in one channel does not hold the others' due requests for a poll interval.
        wakeAt = now + max(delay, .zero)
    }
}
