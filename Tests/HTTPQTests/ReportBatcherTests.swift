import Testing

@testable import HTTPQ

func outcome(_ id: Int64, attempt: Int = 1, status: Int? = 200) -> Outcome {
    Outcome(
        id: id, attempt: attempt,
        result: HTTPResult(
            status: status, headers: ResponseHeaders(), body: [],
            error: status == nil ? "refused" : nil, durationMilliseconds: 1))
}

@Suite struct ReportBatcherTests {
    let t0 = ContinuousClock.now

    @Test("Reports once the oldest outcome has waited 5 ms")
    func flushesByAge() {
        var batcher = ReportBatcher()
        #expect(!batcher.isDue(now: t0))
        #expect(batcher.deadline == nil)
        batcher.add(outcome(1), now: t0)
        batcher.add(outcome(2), now: t0 + .milliseconds(3))
        #expect(batcher.deadline == t0 + .milliseconds(5))
        #expect(!batcher.isDue(now: t0 + .milliseconds(4)))
        #expect(batcher.isDue(now: t0 + .milliseconds(5)))
        #expect(batcher.take().map(\.id) == [1, 2])
        #expect(batcher.isEmpty)
        #expect(batcher.deadline == nil)
    }

    @Test("Reports at once when 100 outcomes wait, or when stopping")
    func flushesByCountAndUrgency() {
        var batcher = ReportBatcher()
        batcher.add(outcome(0), now: t0)
        #expect(batcher.isDue(now: t0, urgent: true))
        for id in 1..<99 { batcher.add(outcome(Int64(id)), now: t0) }
        #expect(!batcher.isDue(now: t0))
        batcher.add(outcome(99), now: t0)
        #expect(batcher.isDue(now: t0))
    }

    @Test("One report carries at most 1000; the rest stays due")
    func capsTheBatch() {
        var batcher = ReportBatcher()
        for id in 0..<1500 { batcher.add(outcome(Int64(id)), now: t0) }
        #expect(batcher.take().count == 1000)
        #expect(batcher.pending.count == 500)
        #expect(batcher.isDue(now: t0 + .milliseconds(5)))
    }

    @Test("A batch that failed for a reason not its own goes back ahead of newer outcomes, due at once, as it was")
    func putBack() {
        var batcher = ReportBatcher()
        batcher.add(outcome(1), now: t0)
        let batch = batcher.take()
        batcher.add(outcome(2), now: t0 + .milliseconds(10))
        batcher.putBack(batch, now: t0 + .milliseconds(10))
        #expect(batcher.pending.map(\.id) == [1, 2])
        #expect(batcher.isDue(now: t0 + .milliseconds(10)))
        #expect(batcher.take().map(\.id) == [1])
        #expect(batcher.take().map(\.id) == [2])
    }

    @Test("A rejected batch goes again in halves; a half that then fails for another reason is sent again whole")
    func splitThenPutBack() {
        var batcher = ReportBatcher()
        for id in 1...5 { batcher.add(outcome(Int64(id)), now: t0) }
        let batch = batcher.take()
        batcher.add(outcome(6), now: t0)
        batcher.split(batch, now: t0)
        let firstHalf = batcher.take()
        #expect(firstHalf.map(\.id) == [1, 2])
        batcher.putBack(firstHalf, now: t0)
        #expect(batcher.take().map(\.id) == [1, 2])
        #expect(batcher.take().map(\.id) == [3, 4, 5])
        #expect(batcher.take().map(\.id) == [6])
        #expect(batcher.isEmpty)
    }

    @Test("A batch is cut before the outcome that would take its JSON past the byte cap")
    func capsTheBytes() {
        var batcher = ReportBatcher()
        let length = outcome(1).jsonLength
        batcher.maxBytesPerReport = 2 + length + 1 + length  // brackets, two outcomes, a comma
        for id in 1...5 { batcher.add(outcome(Int64(id)), now: t0) }
        let first = batcher.take()
        #expect(first.map(\.id) == [1, 2])
        #expect(Outcome.jsonArray(first).utf8.count == batcher.maxBytesPerReport)
        batcher.maxBytesPerReport -= 1
        #expect(batcher.take().map(\.id) == [3])
        #expect(batcher.take().map(\.id) == [4])
    }

    @Test("An outcome larger than the byte cap goes alone, and those after it go next")
    func oversizedGoesAlone() {
        var batcher = ReportBatcher()
        batcher.maxBytesPerReport = 1000
        batcher.add(response(1, body: [UInt8](repeating: 1, count: 2000)), now: t0)
        batcher.add(outcome(2), now: t0)
        batcher.add(outcome(3), now: t0)
        #expect(batcher.take().map(\.id) == [1])
        #expect(batcher.take().map(\.id) == [2, 3])
    }

    @Test("A batch sent again after a failure keeps its size under the byte cap")
    func putBackUnderByteCap() {
        var batcher = ReportBatcher()
        batcher.maxBytesPerReport = 2 + 3 * outcome(1).jsonLength + 2
        for id in 1...7 { batcher.add(outcome(Int64(id)), now: t0) }
        let batch = batcher.take()
        #expect(batch.map(\.id) == [1, 2, 3])
        batcher.putBack(batch, now: t0)
        #expect(batcher.take().map(\.id) == [1, 2, 3])
        #expect(batcher.take().map(\.id) == [4, 5, 6])
    }

    @Test("The third failure in a row of one batch halves it; its halves start counting afresh")
    func halvesAfterThreeFailures() {
        var batcher = ReportBatcher()
        for id in 1...8 { batcher.add(outcome(Int64(id)), now: t0) }
        var batch = batcher.take()
        #expect(batcher.putBack(batch, now: t0) == false)
        batch = batcher.take()
        #expect(batcher.putBack(batch, now: t0) == false)
        batch = batcher.take()
        #expect(batch.count == 8)
        #expect(batcher.putBack(batch, now: t0) == true)
        #expect(batcher.headFailures == 0)
        let half = batcher.take()
        #expect(half.map(\.id) == [1, 2, 3, 4])
        #expect(batcher.putBack(half, now: t0) == false)  // one failure of this half so far
        #expect(batcher.take().map(\.id) == [1, 2, 3, 4])
        batcher.reported()
        #expect(batcher.take().map(\.id) == [5, 6, 7, 8])
    }

    @Test("A lone outcome is never halved, however often it fails")
    func loneOutcomeIsKept() {
        var batcher = ReportBatcher()
        batcher.add(outcome(1), now: t0)
        for _ in 0..<10 {
            let batch = batcher.take()
            #expect(batch.map(\.id) == [1])
            #expect(batcher.putBack(batch, now: t0) == false)
        }
        #expect(batcher.pending.map(\.id) == [1])
    }
}
