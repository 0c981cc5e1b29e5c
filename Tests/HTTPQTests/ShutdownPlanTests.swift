import Testing

@testable import HTTPQ

/// Stopping as transcripts: signal, drain, finish, exit.
@Suite struct ShutdownPlanTests {
    let t0 = ContinuousClock.now

    @Test(
        "First signal drains; transfers finishing in time lead to finishing, then exit once the database work is done")
    func cleanDrain() {
        var plan = ShutdownPlan(grace: .seconds(10))
        #expect(plan.isClaiming)
        #expect(plan.advance(now: t0, transfers: 3, databaseWorkLeft: false) == .none)
        #expect(plan.signal(now: t0) == .stopClaiming)
        #expect(!plan.isClaiming)
        #expect(plan.deadline == t0 + .seconds(10))
        #expect(plan.advance(now: t0 + .seconds(1), transfers: 3, databaseWorkLeft: false) == .none)
        #expect(plan.advance(now: t0 + .seconds(2), transfers: 0, databaseWorkLeft: true) == .none)
        #expect(plan.phase == .finishing(until: t0 + .seconds(7)))
        #expect(plan.advance(now: t0 + .seconds(3), transfers: 0, databaseWorkLeft: false) == .exit)
    }

    @Test("The grace period ending aborts what is still in flight")
    func graceExpires() {
        var plan = ShutdownPlan(grace: .milliseconds(500))
        _ = plan.signal(now: t0)
        #expect(plan.advance(now: t0 + .milliseconds(499), transfers: 2, databaseWorkLeft: false) == .none)
        #expect(plan.advance(now: t0 + .milliseconds(500), transfers: 2, databaseWorkLeft: false) == .abortTransfers)
        #expect(plan.advance(now: t0 + .milliseconds(501), transfers: 0, databaseWorkLeft: true) == .none)
    }

    @Test("Exits when nothing is in flight at the signal, without waiting")
    func idleStop() {
        var plan = ShutdownPlan(grace: .seconds(10))
        _ = plan.signal(now: t0)
        #expect(plan.advance(now: t0, transfers: 0, databaseWorkLeft: false) == .exit)
    }

    @Test("A second signal aborts at once; a third exits at once")
    func repeatedSignals() {
        var plan = ShutdownPlan(grace: .seconds(10))
        #expect(plan.signal(now: t0) == .stopClaiming)
        #expect(plan.signal(now: t0 + .milliseconds(1)) == .abortTransfers)
        #expect(plan.phase == .finishing(until: t0 + .milliseconds(1) + .seconds(5)))
        #expect(plan.signal(now: t0 + .milliseconds(2)) == .exit)
        #expect(plan.advance(now: t0 + .milliseconds(3), transfers: 0, databaseWorkLeft: true) == .exit)
    }

    @Test("Finishing gives up after its timeout when the database does not answer")
    func finishTimeout() {
        var plan = ShutdownPlan(grace: .zero)
        _ = plan.signal(now: t0)
        #expect(plan.advance(now: t0, transfers: 1, databaseWorkLeft: false) == .abortTransfers)
        #expect(plan.advance(now: t0 + .seconds(4), transfers: 0, databaseWorkLeft: true) == .none)
        #expect(plan.advance(now: t0 + .seconds(5), transfers: 0, databaseWorkLeft: true) == .exit)
    }
}
