/// Buffers outcomes and decides when to report them: when the oldest has waited `maxDelay`, or
/// `flushCount` are waiting, whichever comes first. One report carries at most `maxPerReport`.
struct ReportBatcher {
    let maxDelay: Duration = .milliseconds(5)
    let flushCount = 100
    let maxPerReport = 1000

    /// Outcomes not yet sent, oldest first.
    private(set) var pending: [Outcome] = []
    /// Sizes of the next reports, when batches are being sent again: as they were after a
    /// failure that was not theirs, or in halves after the database rejected one outcome's
    /// data, so the good outcomes are applied and the bad one ends up by itself.
    private var nextSizes: [Int] = []
    private var oldestAt: Instant?

    var isEmpty: Bool { pending.isEmpty }

    mutating func add(_ outcome: Outcome, now: Instant) {
        if pending.isEmpty { oldestAt = now }
        pending.append(outcome)
    }

    /// Whether a report should be sent now. `urgent` (shutting down) sends whatever is waiting.
    func isDue(now: Instant, urgent: Bool = false) -> Bool {
        guard let oldestAt else { return false }
        return urgent || pending.count >= flushCount || now >= oldestAt + maxDelay
    }

    /// When the buffered outcomes fall due, nil when there are none.
    var deadline: Instant? {
        oldestAt.map { $0 + maxDelay }
    }

    /// Removes and returns the next batch. What stays behind keeps its age, so it is due at once.
    mutating func take() -> [Outcome] {
        let size = nextSizes.isEmpty ? maxPerReport : nextSizes.removeFirst()
        let batch = Array(pending.prefix(size))
        pending.removeFirst(batch.count)
        if pending.isEmpty { oldestAt = nil }
        return batch
    }

    /// Puts back a batch whose report failed for a reason that was not its own (the connection,
    /// the function, a timeout), ahead of newer outcomes, to be sent again exactly as it was.
    /// It has waited its turn already, so it is due at once.
    mutating func putBack(_ batch: [Outcome], now: Instant) {
        guard !batch.isEmpty else { return }
        pending.insert(contentsOf: batch, at: 0)
        nextSizes.insert(batch.count, at: 0)
        oldestAt = min(oldestAt ?? now, now - maxDelay)
    }

    /// Puts back a batch of two or more in which the database rejected an outcome's data, to
    /// be sent again in two halves, each alone. It is due at once.
    mutating func split(_ batch: [Outcome], now: Instant) {
        precondition(batch.count > 1, "a single outcome cannot be split")
        putBack(batch, now: now)
        nextSizes[0] = batch.count / 2
        nextSizes.insert(batch.count - batch.count / 2, at: 1)
    }
}
