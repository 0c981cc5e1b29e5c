import Testing

@testable import HTTPQ

/// Claim sizing and timing as event-and-decision transcripts.
@Suite struct ClaimPlannerTests {
    let t0 = ContinuousClock.now

    func planner() -> ClaimPlanner {
        ClaimPlanner(concurrency: 10, batch: 4, pollInterval: .seconds(1), now: t0)
    }

    @Test("Claims min(batch, free slots) at start, nothing when full")
    func sizing() {
        let claims = planner()
        #expect(claims.size(inFlight: 0, now: t0) == 4)
        #expect(claims.size(inFlight: 8, now: t0) == 2)
        #expect(claims.size(inFlight: 10, now: t0) == nil)
    }

    @Test("A full claim claims again at once; a short one waits and asks for the next run_at")
    func fullAndShortClaims() {
        var claims = planner()
        claims.sent(at: t0)
        #expect(claims.size(inFlight: 0, now: t0) == nil)
        claims.received(4, of: 4)
        #expect(claims.size(inFlight: 4, now: t0) == 4)
        claims.sent(at: t0)
        claims.received(1, of: 4)
        #expect(claims.size(inFlight: 5, now: t0) == nil)
        #expect(claims.wantsSchedule)
        claims.scheduleSent()
        #expect(!claims.wantsSchedule)
    }

    @Test("Polls at the interval, wakes on NOTIFY and at the next run_at")
    func wakeUps() {
        var claims = planner()
        claims.sent(at: t0)
        claims.received(0, of: 4)
        #expect(claims.deadline == t0 + .seconds(1))
        #expect(claims.size(inFlight: 0, now: t0 + .milliseconds(999)) == nil)
        #expect(claims.size(inFlight: 0, now: t0 + .seconds(1)) == 4)

        claims.scheduled(in: .milliseconds(300), now: t0)
        #expect(claims.deadline == t0 + .milliseconds(300))
        #expect(claims.size(inFlight: 0, now: t0 + .milliseconds(300)) == 4)
        claims.sent(at: t0 + .milliseconds(300))
        #expect(claims.wakeAt == nil)

        claims.wake()
        #expect(claims.deadline == nil)
        #expect(claims.size(inFlight: 0, now: t0 + .milliseconds(301)) == 4)
    }

    @Test("A run_at already past means due requests wait to be woken: claim again at once")
    func pastRunAtClaimsAtOnce() {
        var claims = planner()
        claims.sent(at: t0)
        claims.received(0, of: 4)
        claims.scheduled(in: .milliseconds(-5), now: t0)
        #expect(claims.wakeAt == t0)
        #expect(claims.size(inFlight: 0, now: t0) == 4)
        claims.sent(at: t0)
        #expect(claims.wakeAt == nil)
        claims.scheduled(in: .zero, now: t0)
        #expect(claims.size(inFlight: 0, now: t0) == 4)
        claims.sent(at: t0)
        claims.scheduled(in: nil, now: t0)
        #expect(claims.deadline == t0 + .seconds(1))
    }
}
