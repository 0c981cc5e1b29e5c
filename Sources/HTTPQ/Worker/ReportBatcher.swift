/// Buffers outcomes and decides when to report them: when the oldest has waited `maxDelay`, or
/// `flushCount` are waiting, whichever comes first. One report carries at most `maxPerReport`
/// outcomes and at most `maxBytesPerReport` of JSON, but always at least one outcome.
struct ReportBatcher {
    let maxDelay: Duration = .milliseconds(5)
    let flushCount = 100
    let maxPerReport = 1000
    /// Far below what the server refuses whatever the rows (a jsonb over 256 MB, a message over
    /// 1 GB), and small enough to be parsed well within a statement timeout. Bodies go as
    /// base64, so two 100 MiB responses alone would pass the jsonb limit.
    var maxBytesPerReport = 64 << 20
    /// A batch that failed this many times in a row for a reason not its own goes again in
    /// halves: if its size is the cause (a statement timeout, a message the server drops the
    /// connection over), a smaller batch passes; if not, halves cost a few more reports.
    static let failuresBeforeHalving = 3

    /// Outcomes not yet sent, oldest first.
    private(set) var pending: [Outcome] = []
    /// Sizes of the next reports, when batches are being sent again: as they were after a
    /// failure that was not theirs, or in halves after the database rejected one outcome's
    /// data, so the good outcomes are applied and the bad one ends up by itself.
    private var nextSizes: [Int] = []
    /// How many times in a row the batch at the head has failed for a reason not its own.
    private(set) var headFailures = 0
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

    /// Removes and returns the next batch: the next size when batches are sent again, else up
    /// to `maxPerReport`, cut short before the outcome that would take its JSON past
    /// `maxBytesPerReport`. What stays behind keeps its age, so it is due at once.
    mutating func take() -> [Outcome] {
        let most = nextSizes.first ?? maxPerReport
        var count = 0
        var bytes = 2  // the array's brackets
        for outcome in pending.prefix(most) {
            let added = outcome.jsonLength + (count > 0 ? 1 : 0)  // and a comma
            if count > 0 && bytes + added > maxBytesPerReport { break }
            bytes += added
            count += 1
        }
        if !nextSizes.isEmpty {
            // A batch sent again fitted once, so it fits again; should it not, the rest goes next.
            nextSizes[0] -= count
            if nextSizes[0] <= 0 { nextSizes.removeFirst() }
        }
        let batch = Array(pending.prefix(count))
        pending.removeFirst(count)
        if pending.isEmpty { oldestAt = nil }
        return batch
    }

    /// The batch in flight went through, or the database judged its data: the next batch
    /// starts with no failures.
    mutating func reported() {
        headFailures = 0
    }

    /// Puts back a batch whose report failed for a reason that was not its own data (the
    /// connection, the function, a timeout), ahead of newer outcomes. It has waited its turn
    /// already, so it is due at once. It goes again exactly as it was until it has failed
    /// `failuresBeforeHalving` times in a row, then in halves, each alone; a lone outcome is
    /// never halved, only sent again. Returns whether it was halved.
    @discardableResult
    mutating func putBack(_ batch: [Outcome], now: Instant) -> Bool {
        guard !batch.isEmpty else { return false }
        headFailures += 1
        if batch.count > 1 && headFailures >= Self.failuresBeforeHalving {
            split(batch, now: now)
            return true
        }
        requeue(batch, now: now)
        return false
    }

    /// Puts back a batch of two or more in which the database rejected an outcome's data or
    /// found the whole too large, to be sent again in two halves, each alone. It is due at once.
    mutating func split(_ batch: [Outcome], now: Instant) {
        precondition(batch.count > 1, "a single outcome cannot be split")
        requeue(batch, now: now)
        nextSizes[0] = batch.count / 2
        nextSizes.insert(batch.count - batch.count / 2, at: 1)
        headFailures = 0
    }

    private mutating func requeue(_ batch: [Outcome], now: Instant) {
        pending.insert(contentsOf: batch, at: 0)
        nextSizes.insert(batch.count, at: 0)
        oldestAt = min(oldestAt ?? now, now - maxDelay)
    }
}
