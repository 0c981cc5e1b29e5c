/// Decides when to claim and how many: the claim size is min(batch, free slots), and a claim is
/// due when something may have become claimable.
///
/// Reasons to claim: the start, a NOTIFY, a report that finished requests (it may unblock the
/// next in an ordering key or free channel concurrency), a claim that came back full (more is
/// waiting), the poll interval (a NOTIFY can be missed), and the next scheduled `run_at`.
struct ClaimPlanner {
    /// The most transfers in flight at once.
    let concurrency: Int
    /// The most requests one claim asks for.
    let batch: Int
    /// The longest the worker goes without claiming while it has free slots.
    let pollInterval: Duration

    /// Whether something happened that may have made requests claimable.
    private(set) var wanted = true
    /// When the poll interval next forces a claim.
    private(set) var nextPollAt: Instant
    /// The next scheduled `run_at` learned from the database, if any.
    private(set) var wakeAt: Instant?
    /// Whether to ask the database for the next `run_at` (after a claim that was not full).
    private(set) var wantsSchedule = false

    init(concurrency: Int, batch: Int, pollInterval: Duration, now: Instant) {
        self.concurrency = concurrency
        self.batch = batch
        self.pollInterval = pollInterval
        self.nextPollAt = now + pollInterval
    }

    /// How many to claim now, or nil when no claim is due or no slot is free.
    /// `inFlight` counts every claimed request not yet finished.
    func size(inFlight: Int, now: Instant) -> Int? {
        let free = concurrency - inFlight
        guard free > 0, isDue(now) else { return nil }
        return min(batch, free)
    }

    /// When a claim falls due by time alone; nil when one is due already or no timer applies.
    var deadline: Instant? {
        guard !wanted else { return nil }
        return min(nextPollAt, wakeAt ?? nextPollAt)
    }

    private func isDue(_ now: Instant) -> Bool {
        wanted || now >= nextPollAt || wakeAt.map { now >= $0 } == true
    }

    /// A NOTIFY arrived, a report applied outcomes, or the connection came back.
    mutating func wake() {
        wanted = true
    }

    /// A claim was sent at `now`: what woke it is used up, and the poll interval starts over.
    mutating func sent(at now: Instant) {
        wanted = false
        nextPollAt = now + pollInterval
        if let wakeAt, wakeAt <= now {
            self.wakeAt = nil
        }
    }

    /// A claim returned `received` of the `asked` requests.
    mutating func received(_ received: Int, of asked: Int) {
        if received >= asked {
            wanted = true  // a full claim: more is probably waiting
        } else {
            wantsSchedule = true
        }
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
