import Testing

@testable import HTTPQ

/// When maintenance runs, as transcripts: due, step, answer, next.
@Suite struct MaintenancePlanTests {
    let t0 = ContinuousClock.now

    /// A plan whose jitter always draws `draw`.
    func plan(draw: Double = 0.5) -> MaintenancePlan {
        MaintenancePlan(interval: .seconds(60), now: t0, random: { draw })
    }

    @Test("The first step falls within the first interval, where the jitter puts it")
    func firstStep() {
        var plan = plan(draw: 0.25)
        #expect(plan.deadline == t0 + .seconds(15))
        #expect(!plan.isDue(now: t0 + .seconds(14)))
        #expect(plan.isDue(now: t0 + .seconds(15)))
        plan.began(now: t0 + .seconds(15))
        #expect(!plan.isDue(now: t0 + .seconds(15)))  // one step at a time
    }

    @Test("While a step says more it goes again at once; when done it waits an interval and up to half more")
    func moreThenDone() {
        var plan = plan()
        let t1 = t0 + .seconds(30)
        plan.began(now: t1)
        #expect(plan.answered(MaintenanceStep(ran: true, more: true, rowsDeleted: 10_000), now: t1) == .again)
        #expect(plan.phase == .running(since: t1))
        let t2 = t1 + .seconds(2)
        #expect(plan.answered(MaintenanceStep(ran: true, more: true, rowsDeleted: 10_000), now: t2) == .again)
        let t3 = t2 + .seconds(1)
        #expect(plan.answered(MaintenanceStep(ran: true, more: false, rowsDeleted: 12), now: t3) == .wait)
        #expect(plan.deadline == t3 + .seconds(75))  // 1 + 0.5 × 0.5 intervals
        #expect(!plan.isDue(now: t3 + .seconds(74)))
        #expect(plan.isDue(now: t3 + .seconds(75)))
    }

    @Test("A step that did not run (another session holds the lock) waits at least a full interval")
    func notRunWaitsFullInterval() {
        var plan = plan(draw: 0)
        plan.began(now: t0)
        #expect(plan.answered(MaintenanceStep(ran: false, more: true), now: t0) == .wait)  // more means nothing here
        #expect(plan.deadline == t0 + .seconds(60))
        #expect(!plan.isDue(now: t0 + .seconds(59)))
    }

    @Test("Failures wait an interval, are reported once per episode, and the next success ends the episode")
    func failures() {
        var plan = plan(draw: 0)
        plan.began(now: t0)
        #expect(plan.failed(now: t0) == true)  // first: log it
        #expect(plan.isFailing)
        #expect(plan.deadline == t0 + .seconds(60))
        plan.began(now: t0 + .seconds(60))
        #expect(plan.failed(now: t0 + .seconds(60)) == false)  // still failing: quiet
        plan.began(now: t0 + .seconds(120))
        #expect(plan.answered(MaintenanceStep(ran: true), now: t0 + .seconds(120)) == .wait)
        #expect(!plan.isFailing)
        plan.began(now: t0 + .seconds(180))
        #expect(plan.failed(now: t0 + .seconds(180)) == true)  // a new episode
    }

    @Test("A step without an answer for five minutes is overdue, so the loop abandons it")
    func overdue() {
        var plan = plan()
        plan.began(now: t0)
        #expect(plan.deadline == t0 + .seconds(300))
        #expect(!plan.isOverdue(now: t0 + .seconds(299)))
        #expect(plan.isOverdue(now: t0 + .seconds(300)))
    }

    @Test("A maintenance session first limits its statements to 240 s: the server ends a step before it is abandoned")
    func statementTimeout() {
        let plan = plan()
        #expect(plan.sessionSetup == .statementTimeout(.seconds(240)))
        #expect(plan.statementTimeout < plan.stepTimeout)
        let identity = WorkerIdentity(worker: "w", channels: nil, lease: .seconds(60))
        let (sql, parameters) = plan.sessionSetup.statement(identity)
        #expect(sql == "SET statement_timeout = '240000ms'")
        #expect(parameters.isEmpty)
    }

    @Test("A step's row is read in the statement's column order; another shape is refused")
    func readsStep() {
        #expect(
            MaintenanceStep(row: ["t", "f", "2", "1", "345"])
                == MaintenanceStep(ran: true, more: false, partitionsCreated: 2, partitionsDropped: 1, rowsDeleted: 345)
        )
        #expect(MaintenanceStep(row: ["f", "f", "0", "0", "0"])?.ran == false)
        #expect(MaintenanceStep(row: ["f", "f", "0", "0", "0"])?.changedSomething == false)
        #expect(MaintenanceStep(row: [nil, "f", "0", "0", "0"]) == nil)
        #expect(MaintenanceStep(row: ["t"]) == nil)
    }

    @Test("The maintenance statement unpacks httpq.maintain's jsonb into typed columns")
    func statement() {
        let identity = WorkerIdentity(worker: "w", channels: nil, lease: .seconds(60))
        let (sql, parameters) = DatabaseQuery.maintain.statement(identity)
        #expect(sql.hasSuffix("FROM httpq.maintain() AS m"))
        #expect(parameters.isEmpty)
        let release = DatabaseQuery.release([key(4, 2), key(9, 7)]).statement(identity)
        #expect(release.sql.contains("ids => $2::bigint[], attempts => $3::int[]"))
        #expect(release.parameters == ["w", "{4,9}", "{2,7}"])
    }
}
