import Testing

@testable import HTTPQ

/// Claim sizing and timing as event-and-decision transcripts.
@Suite struct ClaimPlannerTests {
    let t0 = ContinuousClock.now
    let poll = ClaimPlanner.busyPollInterval
    let idleAfter = ClaimPlanner.idleAfter

    func planner() -> ClaimPlanner {
        ClaimPlanner(concurrency: 10, batch: 4, pollInterval: .seconds(1), now: t0)
    }

    /// A planner that has marked itself idle at t0, with nothing unseen.
    func idlePlanner() -> ClaimPlanner {
        var claims = planner()
        claims.sent(at: t0)
        claims.received(0, of: 4, now: t0)
        #expect(claims.markDue(now: t0) == .idle)
        claims.markedIdle(everythingSeen: true, now: t0)
        #expect(claims.mark == .idle)
        claims.sent(at: t0)  // the claim after the mark
        claims.received(0, of: 4, now: t0)
        return claims
    }

    @Test("Claims min(batch, free slots) at start, nothing when full")
    func sizing() {
        let claims = planner()
        #expect(claims.size(inFlight: 0, now: t0) == 4)
        #expect(claims.size(inFlight: 8, now: t0) == 2)
        #expect(claims.size(inFlight: 10, now: t0) == nil)
    }

    @Test("Busy: a full claim claims again at once, a short one after the busy poll interval")
    func busyPolling() {
        var claims = planner()
        claims.sent(at: t0)
        #expect(claims.size(inFlight: 0, now: t0) == nil)
        claims.received(4, of: 4, now: t0)
        #expect(claims.size(inFlight: 4, now: t0) == 4)
        claims.sent(at: t0)
        claims.received(1, of: 4, now: t0)
        #expect(claims.size(inFlight: 5, now: t0 + poll - .microseconds(1)) == nil)
        #expect(claims.deadline == t0 + poll)
        #expect(claims.size(inFlight: 5, now: t0 + poll) == 4)
        #expect(!claims.wantsSchedule)  // a busy worker's claims wake scheduled requests anyway
        #expect(claims.markDue(now: t0 + poll) == nil)
    }

    @Test("Busy until claims find nothing for idleAfter; then marks itself idle and claims once more")
    func goesIdle() {
        var claims = planner()
        claims.sent(at: t0)
        claims.received(1, of: 4, now: t0)
        let t1 = t0 + idleAfter - .milliseconds(1)
        claims.sent(at: t1)
        claims.received(0, of: 4, now: t1)
        #expect(claims.markDue(now: t1) == nil)  // found something 19 ms ago
        let t2 = t0 + idleAfter
        claims.sent(at: t2)
        claims.received(0, of: 4, now: t2)
        #expect(claims.size(inFlight: 0, now: t2 + poll) == nil)  // the mark goes first
        #expect(claims.markDue(now: t2) == .idle)
        #expect(claims.mark == .changing)
        #expect(claims.size(inFlight: 0, now: t2 + poll) == nil)  // nor while it is answered
        claims.markedIdle(everythingSeen: true, now: t2)
        #expect(claims.size(inFlight: 0, now: t2) == 4)  // the claim that sees what came before
        claims.sent(at: t2)
        claims.received(0, of: 4, now: t2)
        #expect(claims.wantsSchedule)
        #expect(claims.deadline == t2 + .seconds(1))
        #expect(claims.size(inFlight: 0, now: t2 + .milliseconds(999)) == nil)
        #expect(claims.size(inFlight: 0, now: t2 + .seconds(1)) == 4)
    }

    @Test("Idle with an enqueue unseen: claims and asks again after a delay that doubles")
    func idleRecheck() {
        var claims = planner()
        claims.sent(at: t0)
        claims.received(0, of: 4, now: t0)
        #expect(claims.markDue(now: t0) == .idle)
        claims.markedIdle(everythingSeen: false, now: t0)
        #expect(claims.size(inFlight: 0, now: t0) == 4)
        claims.sent(at: t0)
        claims.received(0, of: 4, now: t0)
        #expect(claims.deadline == t0 + poll)
        #expect(claims.markDue(now: t0 + poll - .microseconds(1)) == nil)
        #expect(claims.markDue(now: t0 + poll) == .idle)
        claims.markedIdle(everythingSeen: false, now: t0 + poll)
        claims.sent(at: t0 + poll)
        claims.received(0, of: 4, now: t0 + poll)
        #expect(claims.deadline == t0 + poll * 3)  // twice the delay
        #expect(claims.markDue(now: t0 + poll * 3) == .idle)
        claims.markedIdle(everythingSeen: true, now: t0 + poll * 3)
        claims.sent(at: t0 + poll * 3)
        claims.received(0, of: 4, now: t0 + poll * 3)
        #expect(claims.recheckAt == nil)
        #expect(claims.deadline == t0 + poll * 3 + .seconds(1))
    }

    @Test("Idle: a channel's share freed to half makes a claim due at once")
    func roomFreedWakes() {
        var claims = idlePlanner()
        let t1 = t0 + .milliseconds(100)
        #expect(claims.size(inFlight: 5, now: t1) == nil)  // idle, nothing woke it, the poll is a second away
        claims.roomFreed()
        #expect(claims.size(inFlight: 5, now: t1) == 4)
    }

    @Test("Idle: claims on NOTIFY and after reports; two finds within idleAfter make it busy")
    func idleWakeUps() {
        var claims = idlePlanner()
        claims.wake()
        #expect(claims.size(inFlight: 0, now: t0) == 4)
        let t1 = t0 + .milliseconds(500)
        claims.sent(at: t1)
        claims.received(1, of: 4, now: t1)
        #expect(claims.markDue(now: t1) == nil)  // one request: stays idle
        claims.reported()
        #expect(claims.size(inFlight: 0, now: t1) == 4)
        claims.sent(at: t1)
        claims.received(0, of: 4, now: t1)
        claims.wake()
        let t2 = t1 + .milliseconds(5)
        claims.sent(at: t2)
        claims.received(1, of: 4, now: t2)
        #expect(claims.markDue(now: t2) == .busy)
        claims.markedBusy()
        #expect(claims.mark == .busy)
        #expect(claims.size(inFlight: 0, now: t2) == 4)
        claims.sent(at: t2)
        claims.received(0, of: 4, now: t2)
        claims.reported()  // busy: the poll covers it
        #expect(claims.size(inFlight: 0, now: t2) == nil)
        #expect(claims.deadline == t2 + poll)
    }

    @Test("Idle: wakes at the next run_at; one already past claims at once")
    func scheduledWakeUps() {
        var claims = idlePlanner()
        claims.scheduled(in: .milliseconds(300), now: t0)
        #expect(claims.deadline == t0 + .milliseconds(300))
        #expect(claims.size(inFlight: 0, now: t0 + .milliseconds(300)) == 4)
        claims.sent(at: t0 + .milliseconds(300))
        #expect(claims.wakeAt == nil)

        claims.scheduled(in: .milliseconds(-5), now: t0)
        #expect(claims.wakeAt == t0)
        #expect(claims.size(inFlight: 0, now: t0) == 4)
        claims.sent(at: t0)
        claims.scheduled(in: nil, now: t0)
        #expect(claims.deadline == t0 + .seconds(1))
    }

    @Test("A new connection has no mark: busy, and claims at once")
    func reconnect() {
        var claims = idlePlanner()
        claims.connected()
        #expect(claims.mark == .busy)
        #expect(claims.size(inFlight: 0, now: t0) == 4)
    }

    @Test("A mark that fails leaves the worker as it was")
    func markFails() {
        var claims = planner()
        claims.sent(at: t0)
        claims.received(0, of: 4, now: t0)
        #expect(claims.markDue(now: t0) == .idle)
        claims.markFailed(.idle)
        #expect(claims.mark == .busy)
        #expect(claims.size(inFlight: 0, now: t0 + poll) == 4)
    }
}
