import Testing

@testable import HTTPQ

/// The loop's decisions end to end, as transcripts: each event, then the statement chosen.
@Suite struct WorkerPlanTests {
    let t0 = ContinuousClock.now

    func plan(concurrency: Int = 3, batch: Int = 2) -> WorkerPlan {
        WorkerPlan(
            concurrency: concurrency, batch: batch, pollInterval: .seconds(1), lease: .seconds(60),
            grace: .seconds(10), now: t0)
    }

    /// A plan past its LISTEN and first claim, which returned `ids`.
    func started(claimed ids: [Int64]) -> WorkerPlan {
        var plan = plan()
        _ = plan.nextQuery(now: t0, inFlight: 0)  // listen
        _ = plan.nextQuery(now: t0, inFlight: 0)  // claim
        _ = plan.claimed(ids, asked: 2, sentAt: t0)
        return plan
    }

    @Test("Listens, claims to fill the slots, reports after 5 ms, then claims what the report freed")
    func steadyState() {
        var plan = plan()
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .listen)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .claim(count: 2))
        #expect(plan.claimed([1, 2], asked: 2, sentAt: t0) == true)
        #expect(plan.nextQuery(now: t0, inFlight: 2) == .claim(count: 1))  // full claim: again, for the free slot
        #expect(plan.claimed([3], asked: 1, sentAt: t0) == true)
        #expect(plan.nextQuery(now: t0, inFlight: 3) == nil)  // no free slot

        let t1 = t0 + .milliseconds(1)
        plan.finished(outcome(1), now: t1)
        #expect(plan.nextQuery(now: t1, inFlight: 2) == .claim(count: 1))  // the last claim was full
        #expect(plan.claimed([], asked: 1, sentAt: t1) == true)
        #expect(plan.nextQuery(now: t1, inFlight: 2) == .schedule)  // a short claim: when is the next run_at?
        plan.succeeded(.schedule, sentAt: t1, now: t1, delay: nil)
        #expect(plan.nextQuery(now: t1, inFlight: 2) == nil)
        #expect(plan.queryDeadline(inFlight: 2) == t1 + .milliseconds(5))
        let t2 = t1 + .milliseconds(5)
        #expect(plan.nextQuery(now: t2, inFlight: 2) == .report([outcome(1)]))
        plan.succeeded(.report([outcome(1)]), sentAt: t2, now: t2)
        #expect(plan.nextQuery(now: t2, inFlight: 2) == .claim(count: 1))  // the report may have unblocked work
        #expect(plan.claimed([], asked: 1, sentAt: t2) == true)
        #expect(plan.nextQuery(now: t2, inFlight: 2) == .schedule)
        plan.succeeded(.schedule, sentAt: t2, now: t2, delay: .milliseconds(300))
        #expect(plan.nextQuery(now: t2, inFlight: 2) == nil)
        #expect(plan.queryDeadline(inFlight: 2) == t2 + .milliseconds(300))
        #expect(plan.nextQuery(now: t2 + .milliseconds(300), inFlight: 2) == .claim(count: 1))
    }

    @Test("Reports at once when the last transfer in flight finished: no outcome is coming to batch with")
    func reportsAtOnceWhenIdle() {
        var plan = started(claimed: [1, 2])
        let t1 = t0 + .milliseconds(1)
        plan.finished(outcome(1), now: t1)
        #expect(plan.nextQuery(now: t1, inFlight: 1) != .report([outcome(1)]))  // 2 is still in flight: batch
        plan.finished(outcome(2), now: t1)
        #expect(plan.nextQuery(now: t1, inFlight: 0) == .report([outcome(1), outcome(2)]))
    }

    @Test("A NOTIFY wakes a claim before the poll interval")
    func notifyWakes() {
        var plan = started(claimed: [])
        _ = plan.nextQuery(now: t0, inFlight: 0)  // schedule
        plan.succeeded(.schedule, sentAt: t0, now: t0, delay: nil)
        #expect(plan.nextQuery(now: t0 + .milliseconds(10), inFlight: 0) == nil)
        plan.notified()
        #expect(plan.nextQuery(now: t0 + .milliseconds(10), inFlight: 0) == .claim(count: 2))
    }

    @Test("Extends leases at half-time, before claiming")
    func heartbeats() {
        var plan = started(claimed: [7, 8])
        let half = t0 + .seconds(30)
        plan.notified()
        #expect(plan.nextQuery(now: half, inFlight: 2) == .heartbeat([7, 8]))
        plan.succeeded(.heartbeat([7, 8]), sentAt: half, now: half)
        #expect(plan.nextQuery(now: half, inFlight: 2) == .claim(count: 1))
        #expect(plan.leases.deadline == half + .seconds(30))
    }

    @Test("A due heartbeat goes before a due report, so slow reports cannot let leases lapse")
    func heartbeatBeforeReport() {
        var plan = started(claimed: [7, 8])
        let half = t0 + .seconds(30)
        plan.finished(outcome(8), now: half - .milliseconds(10))
        // 8's outcome is not reported yet, so its lease is kept too.
        #expect(plan.nextQuery(now: half, inFlight: 1) == .heartbeat([7, 8]))
        plan.succeeded(.heartbeat([7, 8]), sentAt: half, now: half)
        #expect(plan.nextQuery(now: half, inFlight: 1) == .report([outcome(8)]))
    }

    @Test("A rejected report is sent again in halves until the outcome the database refuses is alone")
    func rejectedReportIsBisected() {
        var plan = plan(concurrency: 4, batch: 4)
        _ = plan.nextQuery(now: t0, inFlight: 0)  // listen
        for id in 1...4 { plan.finished(outcome(Int64(id)), now: t0) }
        let all = [outcome(1), outcome(2), outcome(3), outcome(4)]
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report(all))
        plan.failed(.report(all), transient: false, now: t0)  // outcome 3 is the bad one
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(1), outcome(2)]))
        plan.succeeded(.report([outcome(1), outcome(2)]), sentAt: t0, now: t0)
        plan.finished(outcome(5), now: t0)  // a newer outcome waits for the bisection
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(3), outcome(4)]))
        plan.failed(.report([outcome(3), outcome(4)]), transient: false, now: t0)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(3)]))
        plan.failed(.report([outcome(3)]), transient: false, now: t0)  // alone: dropped
        let later = t0 + WorkerPlan.quietAfterError
        #expect(plan.nextQuery(now: later, inFlight: 0) == .report([outcome(4)]))
        plan.succeeded(.report([outcome(4)]), sentAt: later, now: later)
        #expect(plan.nextQuery(now: later, inFlight: 0) == .report([outcome(5)]))
    }

    @Test(
        "A report that did not reach the database is sent again; one the database rejected is dropped and the plan goes quiet for a second"
    )
    func reportFailures() {
        var plan = plan()
        _ = plan.nextQuery(now: t0, inFlight: 0)
        plan.finished(outcome(1), now: t0)
        let batch = plan.nextQuery(now: t0 + .milliseconds(5), inFlight: 0)
        #expect(batch == .report([outcome(1)]))
        plan.failed(batch!, transient: true, now: t0 + .milliseconds(6))
        #expect(plan.nextQuery(now: t0 + .milliseconds(6), inFlight: 0) == .report([outcome(1)]))
        plan.failed(.report([outcome(1)]), transient: false, now: t0 + .milliseconds(7))
        #expect(plan.nextQuery(now: t0 + .milliseconds(8), inFlight: 0) == nil)
        #expect(plan.reports.isEmpty)
        plan.finished(outcome(2), now: t0 + .milliseconds(8))
        // While quiet, an outcome falling due does not pull the wait earlier (that would spin).
        #expect(plan.queryDeadline(inFlight: 0) == t0 + .milliseconds(7) + .seconds(1))
        #expect(plan.nextQuery(now: t0 + .milliseconds(7) + .seconds(1), inFlight: 0) == .report([outcome(2)]))
    }

    @Test("After a reconnect it LISTENs first and claims again, since NOTIFYs may have been missed")
    func reconnect() {
        var plan = plan()
        _ = plan.nextQuery(now: t0, inFlight: 0)
        _ = plan.nextQuery(now: t0, inFlight: 0)
        plan.failed(.claim(count: 2), transient: true, now: t0)
        plan.connected()
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .listen)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .claim(count: 2))
    }

    @Test("While stopping: no claims, claims that arrive are handed back, releases go first, then every outcome")
    func stopping() {
        var plan = plan()
        _ = plan.nextQuery(now: t0, inFlight: 0)
        _ = plan.nextQuery(now: t0, inFlight: 0)
        #expect(plan.shutdown.signal(now: t0) == .stopClaiming)
        #expect(plan.claimed([1, 2], asked: 2, sentAt: t0) == false)  // arrived after the signal: not started
        plan.finished(outcome(5), now: t0)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .release([1, 2]))
        plan.failed(.release([1, 2]), transient: true, now: t0)  // the connection broke: try again
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .release([1, 2]))
        plan.succeeded(.release([1, 2]), sentAt: t0, now: t0)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(5)]))  // urgent: no 5 ms wait
        #expect(!plan.hasDatabaseWork)
        #expect(plan.nextQuery(now: t0 + .seconds(100), inFlight: 0) == nil)  // no claim, no purge
    }

    @Test("Purges about once a minute when nothing else is due")
    func purge() {
        var plan = started(claimed: [])
        _ = plan.nextQuery(now: t0, inFlight: 0)  // schedule
        #expect(plan.nextQuery(now: t0 + .seconds(60), inFlight: 3) == .purge)
        #expect(plan.nextQuery(now: t0 + .seconds(61), inFlight: 3) == nil)
    }
}
