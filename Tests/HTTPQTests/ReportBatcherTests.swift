import Testing

@testable import HTTPQ

func outcome(_ id: Int64, status: Int? = 200) -> Outcome {
    Outcome(
        id: id, attempt: 1,
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

    @Test("A batch that did not reach the database goes back ahead of newer outcomes, due at once")
    func putBack() {
        var batcher = ReportBatcher()
        batcher.add(outcome(1), now: t0)
        let batch = batcher.take()
        batcher.add(outcome(2), now: t0 + .milliseconds(10))
        batcher.putBack(batch, now: t0 + .milliseconds(10))
        #expect(batcher.pending.map(\.id) == [1, 2])
        #expect(batcher.isDue(now: t0 + .milliseconds(10)))
    }
}
