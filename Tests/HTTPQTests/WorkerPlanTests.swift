import Testing

@testable import HTTPQ

/// The claim of attempt `attempt` at request `id`.
func key(_ id: Int64, _ attempt: Int = 1) -> ClaimKey {
    ClaimKey(id: id, attempt: attempt)
}

/// A statement error with SQLSTATE `sqlState`, as the server sends it.
func sqlError(_ sqlState: String) -> PostgresError {
    .query(sqlState: sqlState, message: "refused", detail: nil, hint: nil)
}

/// The loop's decisions end to end, as transcripts: each event, then the statement chosen.
@Suite struct WorkerPlanTests {
    let t0 = ContinuousClock.now

    /// A plan whose report retries wait the least: the jitter draws 0 every time.
    func plan(concurrency: Int = 3, batch: Int = 2) -> WorkerPlan {
        WorkerPlan(
            concurrency: concurrency, batch: batch, pollInterval: .seconds(1), lease: .seconds(60),
            grace: .seconds(10), now: t0, random: { 0 })
    }

    /// A plan past its LISTEN and first claim, which returned `claims`.
    func started(claimed claims: [ClaimKey], concurrency: Int = 3, batch: Int = 2) -> WorkerPlan {
        var plan = plan(concurrency: concurrency, batch: batch)
        _ = plan.nextQuery(now: t0, inFlight: 0)  // listen
        _ = plan.nextQuery(now: t0, inFlight: 0)  // claim
        _ = plan.claimed(claims, asked: batch, sentAt: t0)
        return plan
    }

    @Test("Listens, claims to fill the slots, reports after 5 ms, polls while busy, then marks itself idle")
    func steadyState() {
        var plan = plan()
        let poll = ClaimPlanner.busyPollInterval
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .listen)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .claim(count: 2))
        #expect(plan.claimed([key(1), key(2)], asked: 2, sentAt: t0) == true)
        #expect(plan.nextQuery(now: t0, inFlight: 2) == .claim(count: 1))  // full claim: again, for the free slot
        #expect(plan.claimed([key(3)], asked: 1, sentAt: t0) == true)
        #expect(plan.nextQuery(now: t0, inFlight: 3) == nil)  // no free slot

        let t1 = t0 + .milliseconds(1)
        plan.finished(outcome(1), now: t1)
        #expect(plan.nextQuery(now: t1, inFlight: 2) == .claim(count: 1))  // the last claim was full
        #expect(plan.claimed([], asked: 1, sentAt: t1) == true)
        #expect(plan.nextQuery(now: t1, inFlight: 2) == nil)  // busy: no NOTIFY, no next run_at; the poll
        #expect(plan.queryDeadline(inFlight: 2) == t1 + poll)
        #expect(plan.nextQuery(now: t1 + poll, inFlight: 2) == .claim(count: 1))
        #expect(plan.claimed([key(4)], asked: 1, sentAt: t1 + poll) == true)
        let t2 = t1 + .milliseconds(5)
        #expect(plan.nextQuery(now: t2, inFlight: 3) == .report([outcome(1)]))
        plan.succeeded(.report([outcome(1)]), sentAt: t2, now: t2)

        // Nothing found for idleAfter: the mark, then the claim that sees what came before it.
        var now = t2
        var marked: Instant?
        for _ in 0..<20 {
            now = now + poll
            switch plan.nextQuery(now: now, inFlight: 2) {
            case .claim(let n, _)?: _ = plan.claimed([], asked: n, sentAt: now)
            case .idle?: marked = now
            default: break
            }
            if marked != nil { break }
        }
        // The last find was at t1 + poll; the loop turns every poll interval.
        let quietFrom = t1 + poll + ClaimPlanner.idleAfter
        #expect(marked.map { $0 >= quietFrom && $0 <= quietFrom + poll * 2 } == true)
        plan.markedIdle(everythingSeen: true, now: now)
        #expect(plan.nextQuery(now: now, inFlight: 2) == .claim(count: 1))
        #expect(plan.claimed([], asked: 1, sentAt: now) == true)
        #expect(plan.nextQuery(now: now, inFlight: 2) == .schedule)  // idle: when is the next run_at?
        plan.succeeded(.schedule, sentAt: now, now: now, delay: .milliseconds(300))
        #expect(plan.queryDeadline(inFlight: 2).map { $0 <= now + .milliseconds(300) } == true)
    }

    @Test("Two connections: claims and their wake-ups on one, reports, heartbeats and releases on the other")
    func lanes() {
        var plan = plan()
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .reports) == nil)
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .claims) == .listen)
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .claims) == .claim(count: 2))
        _ = plan.claimed([key(1), key(2)], asked: 2, sentAt: t0)
        plan.finished(outcome(1), now: t0)
        plan.finished(outcome(2), now: t0)
        // Both due at once: each goes on its own connection, neither waits for the other.
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .claims) == .claim(count: 2))
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .reports) == .report([outcome(1), outcome(2)]))
        plan.release([key(3)])
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .claims) == nil)
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .reports) == .release([key(3)]))
        // A new reports connection changes nothing for claims; a new claims connection LISTENs again.
        plan.connected(lane: .reports)
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .claims) != .listen)
        plan.connected(lane: .claims)
        #expect(plan.nextQuery(now: t0, inFlight: 0, lane: .claims) == .listen)
    }

    @Test("Reports at once when the last transfer in flight finished: no outcome is coming to batch with")
    func reportsAtOnceWhenIdle() {
        var plan = started(claimed: [key(1), key(2)])
        let t1 = t0 + .milliseconds(1)
        plan.finished(outcome(1), now: t1)
        #expect(plan.nextQuery(now: t1, inFlight: 1) != .report([outcome(1)]))  // 2 is still in flight: batch
        plan.finished(outcome(2), now: t1)
        #expect(plan.nextQuery(now: t1, inFlight: 0) == .report([outcome(1), outcome(2)]))
    }

    @Test("Idle, a NOTIFY wakes a claim before the poll interval")
    func notifyWakes() {
        var plan = started(claimed: [])
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .idle)
        plan.markedIdle(everythingSeen: true, now: t0)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .claim(count: 2))
        _ = plan.claimed([], asked: 2, sentAt: t0)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .schedule)
        plan.succeeded(.schedule, sentAt: t0, now: t0, delay: nil)
        #expect(plan.nextQuery(now: t0 + .milliseconds(10), inFlight: 0) == nil)
        plan.notified()
        #expect(plan.nextQuery(now: t0 + .milliseconds(10), inFlight: 0) == .claim(count: 2))
    }

    @Test("Extends leases at half-time, before claiming, naming each claim by id and attempt")
    func heartbeats() {
        var plan = started(claimed: [key(7, 2), key(8)])
        let half = t0 + .seconds(30)
        plan.notified()
        #expect(plan.nextQuery(now: half, inFlight: 2) == .heartbeat([key(7, 2), key(8)]))
        plan.succeeded(.heartbeat([key(7, 2), key(8)]), sentAt: half, now: half)
        #expect(plan.nextQuery(now: half, inFlight: 2) == .claim(count: 1))
        #expect(plan.leases.deadline == half + .seconds(30))
    }

    @Test("A due heartbeat goes before a due report, so slow reports cannot let leases lapse")
    func heartbeatBeforeReport() {
        var plan = started(claimed: [key(7), key(8)])
        let half = t0 + .seconds(30)
        plan.finished(outcome(8), now: half - .milliseconds(10))
        // 8's outcome is not reported yet, so its lease is kept too.
        #expect(plan.nextQuery(now: half, inFlight: 1) == .heartbeat([key(7), key(8)]))
        plan.succeeded(.heartbeat([key(7), key(8)]), sentAt: half, now: half)
        #expect(plan.nextQuery(now: half, inFlight: 1) == .report([outcome(8)]))
    }

    @Test("A stale outcome of attempt 3 reported after attempt 4 was claimed leaves attempt 4's heartbeats alone")
    func staleOutcomeKeepsNewerLease() {
        var plan = started(claimed: [key(5, 3)], concurrency: 2, batch: 1)
        // Attempt 3 finished, but its report waited (the database was out of reach) until the
        // lease lapsed; a claim then returned the same request as attempt 4.
        plan.finished(outcome(5, attempt: 3), now: t0 + .seconds(1))
        let t1 = t0 + .seconds(70)
        #expect(plan.claimed([key(5, 4)], asked: 1, sentAt: t1) == true)
        plan.succeeded(.report([outcome(5, attempt: 3)]), sentAt: t1, now: t1)  // fenced out by the database
        #expect(plan.leases.deadline == t1 + .seconds(30))
        #expect(plan.nextQuery(now: t1 + .seconds(30), inFlight: 1) == .heartbeat([key(5, 4)]))
    }

    @Test("A transfer superseded by a newer attempt of its request stops being extended; the newer one is")
    func supersededAttemptStopsHeartbeats() {
        var plan = started(claimed: [key(5, 3), key(6)], concurrency: 4, batch: 2)
        let t1 = t0 + .seconds(70)
        #expect(plan.claimed([key(5, 4)], asked: 2, sentAt: t1) == true)
        plan.superseded([key(5, 3)])
        #expect(plan.nextQuery(now: t1, inFlight: 2) == .heartbeat([key(6)]))
        plan.succeeded(.heartbeat([key(6)]), sentAt: t1, now: t1)
        #expect(plan.nextQuery(now: t1 + .seconds(30), inFlight: 2) == .heartbeat([key(5, 4), key(6)]))
    }

    @Test("A report with a 23514 check violation in a batch of 4 is bisected down to the one outcome, which is dropped")
    func rejectedDataIsBisected() {
        var plan = plan(concurrency: 4, batch: 4)
        _ = plan.nextQuery(now: t0, inFlight: 0)  // listen
        for id in 1...4 { plan.finished(outcome(Int64(id)), now: t0) }
        let all = [outcome(1), outcome(2), outcome(3), outcome(4)]
        let violation = sqlError("23514")  // outcome 3 is the bad one
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report(all))
        #expect(plan.failed(.report(all), error: violation, now: t0) == .reportSplit)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(1), outcome(2)]))
        plan.succeeded(.report([outcome(1), outcome(2)]), sentAt: t0, now: t0)
        plan.finished(outcome(5), now: t0)  // a newer outcome waits for the bisection
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(3), outcome(4)]))
        #expect(plan.failed(.report([outcome(3), outcome(4)]), error: violation, now: t0) == .reportSplit)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(3)]))
        #expect(plan.failed(.report([outcome(3)]), error: violation, now: t0) == .outcomeDropped(outcome(3)))
        // No waiting: the database judged the data, nothing is wrong with reporting itself.
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(4)]))
        plan.succeeded(.report([outcome(4)]), sentAt: t0, now: t0)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(5)]))
    }

    @Test("A report failing with 42883 keeps its batch, stops claiming, backs off, and resumes once one goes through")
    func reportFailingForAnyBatch() {
        var plan = started(claimed: [key(1), key(2)])
        plan.finished(outcome(1), now: t0)
        plan.finished(outcome(2), now: t0)
        let batch = [outcome(1), outcome(2)]
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report(batch))
        let missing = sqlError("42883")
        // The jitter draws 0: each delay is the least, 100 ms.
        #expect(plan.failed(.report(batch), error: missing, now: t0) == .reportsFailing(retryIn: .milliseconds(100)))
        plan.finished(outcome(3), now: t0)  // a newer outcome goes in a later report
        plan.notified()
        #expect(plan.nextQuery(now: t0, inFlight: 0) == nil)  // no claim: it could not be recorded
        #expect(plan.queryDeadline(inFlight: 0) == t0 + .milliseconds(100))
        let t1 = t0 + .milliseconds(100)
        #expect(plan.nextQuery(now: t1, inFlight: 0) == .report(batch))  // the same batch, whole
        let again = plan.failed(.report(batch), error: missing, now: t1)
        #expect(again == .reportsStillFailing(retryIn: .milliseconds(100)))
        let t2 = t1 + .milliseconds(100)
        #expect(plan.nextQuery(now: t2, inFlight: 0) == .report(batch))
        let episode = plan.succeeded(.report(batch), sentAt: t2, now: t2)
        #expect(episode == ReportRetry.Episode(duration: .milliseconds(200), failures: 2))
        #expect(plan.nextQuery(now: t2, inFlight: 0) == .report([outcome(3)]))
        plan.succeeded(.report([outcome(3)]), sentAt: t2, now: t2)
        #expect(plan.nextQuery(now: t2, inFlight: 0) == .claim(count: 2))  // claiming again
    }

    @Test("A report of 4 failing with 54000 (too large) is bisected at once; a lone outcome too large is dropped")
    func tooLargeIsBisected() {
        var plan = started(claimed: [key(1), key(2), key(3), key(4), key(5)], concurrency: 5, batch: 5)
        for id in 1...4 { plan.finished(outcome(Int64(id)), now: t0) }
        let all = [outcome(1), outcome(2), outcome(3), outcome(4)]
        let tooLarge = sqlError("54000")  // total size of jsonb array elements exceeds the maximum
        let t1 = t0 + .milliseconds(5)
        #expect(plan.nextQuery(now: t1, inFlight: 1) == .report(all))
        #expect(plan.failed(.report(all), error: tooLarge, now: t1) == .reportSplit)
        #expect(plan.nextQuery(now: t1, inFlight: 1) == .report([outcome(1), outcome(2)]))  // no waiting
        plan.succeeded(.report([outcome(1), outcome(2)]), sentAt: t1, now: t1)
        #expect(plan.nextQuery(now: t1, inFlight: 1) == .report([outcome(3), outcome(4)]))
        plan.succeeded(.report([outcome(3), outcome(4)]), sentAt: t1, now: t1)
        plan.finished(outcome(5), now: t1)
        #expect(plan.nextQuery(now: t1, inFlight: 0) == .report([outcome(5)]))
        #expect(plan.failed(.report([outcome(5)]), error: tooLarge, now: t1) == .outcomeDropped(outcome(5)))
        #expect(plan.leases.deadline == nil)
        #expect(plan.nextQuery(now: t1, inFlight: 0) == .claim(count: 5))
    }

    @Test("A report of 8 failing with 57014 three times in a row goes again in halves, which go through")
    func repeatedFailuresHalve() {
        let claims = (1...8).map { key(Int64($0)) }
        var plan = started(claimed: claims, concurrency: 8, batch: 8)
        let all = (1...8).map { outcome(Int64($0)) }
        for item in all { plan.finished(item, now: t0) }
        let timeout = sqlError("57014")  // canceling statement due to statement timeout
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report(all))
        #expect(plan.failed(.report(all), error: timeout, now: t0) == .reportsFailing(retryIn: .milliseconds(100)))
        let t1 = t0 + .milliseconds(100)
        #expect(plan.nextQuery(now: t1, inFlight: 0) == .report(all))
        #expect(plan.failed(.report(all), error: timeout, now: t1) == .reportsStillFailing(retryIn: .milliseconds(100)))
        let t2 = t1 + .milliseconds(100)
        #expect(plan.nextQuery(now: t2, inFlight: 0) == .report(all))
        #expect(plan.failed(.report(all), error: timeout, now: t2) == .reportHalved(retryIn: .milliseconds(100)))
        plan.notified()
        #expect(plan.nextQuery(now: t2, inFlight: 0) == nil)  // still waiting, and still no claim
        let t3 = t2 + .milliseconds(100)
        #expect(plan.nextQuery(now: t3, inFlight: 0) == .report(Array(all[0..<4])))
        let episode = plan.succeeded(.report(Array(all[0..<4])), sentAt: t3, now: t3)
        #expect(episode == ReportRetry.Episode(duration: .milliseconds(300), failures: 3))
        #expect(plan.nextQuery(now: t3, inFlight: 0) == .report(Array(all[4..<8])))
        plan.succeeded(.report(Array(all[4..<8])), sentAt: t3, now: t3)
        #expect(plan.leases.deadline == nil)
        #expect(plan.nextQuery(now: t3, inFlight: 0) == .claim(count: 8))
    }

    @Test("A report lost with the connection three times in a row goes again in halves too")
    func lostConnectionsHalve() {
        var plan = started(claimed: [key(1), key(2)])
        plan.finished(outcome(1), now: t0)
        plan.finished(outcome(2), now: t0)
        let batch = [outcome(1), outcome(2)]
        let lost = PostgresError.connection(message: "server closed the connection unexpectedly")
        var now = t0
        var failures: [WorkerPlan.Failure] = []
        for _ in 0..<3 {
            #expect(plan.nextQuery(now: now, inFlight: 0) == .report(batch))
            failures.append(plan.failed(.report(batch), error: lost, now: now))
            plan.connected()
            #expect(plan.nextQuery(now: now, inFlight: 0) == .listen)
            now = now + .milliseconds(100)
        }
        #expect(
            failures == [
                .reportsFailing(retryIn: .milliseconds(100)), .reportsStillFailing(retryIn: .milliseconds(100)),
                .reportHalved(retryIn: .milliseconds(100)),
            ])
        #expect(plan.nextQuery(now: now, inFlight: 0) == .report([outcome(1)]))
        plan.succeeded(.report([outcome(1)]), sentAt: now, now: now)
        #expect(plan.nextQuery(now: now, inFlight: 0) == .report([outcome(2)]))
    }

    @Test("A lone outcome failing with 57014 for 14 minutes is kept and sent again, and nothing is claimed meanwhile")
    func loneOutcomeFailingForever() {
        var plan = started(claimed: [key(1), key(2)])
        plan.finished(outcome(1), now: t0)  // 2 is a long transfer, still in flight
        let end = t0 + .seconds(14 * 60)
        var now = t0 + .milliseconds(5)
        var reports = 0
        var heartbeats = 0
        var other: [DatabaseQuery] = []
        while now < end {
            plan.notified()  // new work keeps arriving
            switch plan.nextQuery(now: now, inFlight: 1) {
            case .report(let batch):
                #expect(batch == [outcome(1)])
                reports += 1
                #expect(plan.failed(.report(batch), error: sqlError("57014"), now: now) != .outcomeDropped(outcome(1)))
            case .heartbeat(let claims):
                #expect(claims == [key(1), key(2)])
                heartbeats += 1
                plan.succeeded(.heartbeat(claims), sentAt: now, now: now)
            case .some(let query):
                other.append(query)
            case nil:
                now = plan.queryDeadline(inFlight: 1) ?? now + .seconds(1)
            }
        }
        #expect(reports > 8000)  // the jitter draws 0: every 100 ms
        #expect(heartbeats == 27)  // every 30 s: both leases stay held
        #expect(other.isEmpty)  // no claim, no schedule
        #expect(plan.reports.pending == [outcome(1)])
        #expect(plan.hasDatabaseWork)
    }

    @Test("Outcomes are reported under 64 MiB of JSON a report; one larger than that goes alone")
    func byteCapSplitsLargeOutcomes() {
        let quarter = [UInt8](repeating: 0x61, count: 25 << 20)  // 33.3 MiB as base64
        let huge = [UInt8](repeating: 0x62, count: 70 << 20)  // 93.3 MiB as base64
        let outcomes = [
            response(1, body: quarter), response(2, body: quarter), response(3, body: huge), outcome(4), outcome(5),
        ]
        var plan = started(claimed: (1...5).map { key(Int64($0)) }, concurrency: 5, batch: 5)
        for item in outcomes { plan.finished(item, now: t0) }
        var sent: [[Int64]] = []
        while case .report(let batch) = plan.nextQuery(now: t0, inFlight: 0) {
            sent.append(batch.map(\.id))
            plan.succeeded(.report(batch), sentAt: t0, now: t0)
        }
        #expect(sent == [[1], [2], [3], [4, 5]])
        #expect(plan.reports.isEmpty)
    }

    @Test("While reports fail, heartbeats and releases still go")
    func heartbeatsGoWhileReportsFail() {
        var plan = started(claimed: [key(1), key(2)])
        plan.finished(outcome(1), now: t0)
        let t1 = t0 + .milliseconds(5)
        #expect(plan.nextQuery(now: t1, inFlight: 1) == .report([outcome(1)]))
        _ = plan.failed(.report([outcome(1)]), error: sqlError("57014"), now: t1)  // statement timeout
        let half = t0 + .seconds(30)
        #expect(plan.nextQuery(now: half, inFlight: 1) == .heartbeat([key(1), key(2)]))
        plan.succeeded(.heartbeat([key(1), key(2)]), sentAt: half, now: half)
        plan.release([key(2)])
        #expect(plan.nextQuery(now: half, inFlight: 0) == .release([key(2)]))
    }

    @Test("A report lost with the connection counts as failing: kept, retried after a delay, no claims meanwhile")
    func reportLostWithConnection() {
        var plan = started(claimed: [key(1)])
        plan.finished(outcome(1), now: t0)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(1)]))
        let lost = PostgresError.connection(message: "server closed the connection unexpectedly")
        let failure = plan.failed(.report([outcome(1)]), error: lost, now: t0)
        #expect(failure == .reportsFailing(retryIn: .milliseconds(100)))
        plan.connected()
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .listen)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == nil)
        #expect(plan.nextQuery(now: t0 + .milliseconds(100), inFlight: 0) == .report([outcome(1)]))
    }

    @Test("Report retries grow with jitter up to 5 s")
    func reportRetriesGrow() {
        var plan = WorkerPlan(
            concurrency: 1, batch: 1, pollInterval: .seconds(1), lease: .seconds(60), grace: .seconds(10), now: t0,
            random: { 0.999 })
        _ = plan.nextQuery(now: t0, inFlight: 0)
        plan.finished(outcome(1), now: t0)
        var now = t0
        var delays: [Duration] = []
        for _ in 0..<6 {
            guard case .report(let batch) = plan.nextQuery(now: now, inFlight: 0) else { break }
            switch plan.failed(.report(batch), error: sqlError("42501"), now: now) {
            case .reportsFailing(let delay), .reportsStillFailing(let delay):
                delays.append(delay)
                now = now + delay
            default:
                break
            }
        }
        #expect(delays.count == 6)
        #expect(delays.allSatisfy { $0 >= .milliseconds(100) && $0 <= .seconds(5) })
        #expect(delays.last == .seconds(5))
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test("A failed claim or heartbeat that will not pass by itself makes the plan go quiet for a second")
    func quietAfterOtherFailures() {
        var plan = started(claimed: [key(1)])
        let half = t0 + .seconds(30)
        #expect(plan.nextQuery(now: half, inFlight: 1) == .heartbeat([key(1)]))
        #expect(plan.failed(.heartbeat([key(1)]), error: sqlError("42501"), now: half) == .statement(quiet: true))
        #expect(plan.nextQuery(now: half + .milliseconds(999), inFlight: 1) == nil)
        #expect(plan.queryDeadline(inFlight: 1) == half + WorkerPlan.quietAfterError)
        #expect(plan.nextQuery(now: half + WorkerPlan.quietAfterError, inFlight: 1) == .heartbeat([key(1)]))
    }

    @Test("After a reconnect it LISTENs first and claims again, since NOTIFYs may have been missed")
    func reconnect() {
        var plan = plan()
        _ = plan.nextQuery(now: t0, inFlight: 0)
        _ = plan.nextQuery(now: t0, inFlight: 0)
        let lost = PostgresError.connection(message: "gone")
        #expect(plan.failed(.claim(count: 2), error: lost, now: t0) == .statement(quiet: false))
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
        #expect(plan.claimed([key(1), key(2, 3)], asked: 2, sentAt: t0) == false)  // after the signal: not started
        plan.finished(outcome(5), now: t0)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .release([key(1), key(2, 3)]))
        let lost = PostgresError.connection(message: "gone")
        _ = plan.failed(.release([key(1), key(2, 3)]), error: lost, now: t0)  // the connection broke: try again
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .release([key(1), key(2, 3)]))
        plan.succeeded(.release([key(1), key(2, 3)]), sentAt: t0, now: t0)
        #expect(plan.leases.deadline == nil)
        #expect(plan.nextQuery(now: t0, inFlight: 0) == .report([outcome(5)]))  // urgent: no 5 ms wait
        #expect(!plan.hasDatabaseWork)
        #expect(plan.nextQuery(now: t0 + .seconds(100), inFlight: 0) == nil)  // no claim
    }
}
