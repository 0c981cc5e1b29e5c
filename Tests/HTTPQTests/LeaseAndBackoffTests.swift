import Testing

@testable import HTTPQ

@Suite struct LeaseTrackerTests {
    let t0 = ContinuousClock.now

    @Test("Extends leases older than half the lease, and forgets reported ones")
    func halfLease() {
        var leases = LeaseTracker(lease: .seconds(60))
        leases.renewed([1, 2], sentAt: t0)
        leases.renewed([3], sentAt: t0 + .seconds(10))
        #expect(leases.deadline == t0 + .seconds(30))
        #expect(leases.due(now: t0 + .seconds(29)).isEmpty)
        #expect(leases.due(now: t0 + .seconds(30)) == [1, 2])
        leases.renewed([1, 2], sentAt: t0 + .seconds(30))
        #expect(leases.deadline == t0 + .seconds(40))
        leases.forget([3])
        #expect(leases.due(now: t0 + .seconds(45)).isEmpty)
        #expect(leases.deadline == t0 + .seconds(60))
        leases.forget([1, 2])
        #expect(leases.deadline == nil)
    }
}

@Suite struct ReconnectBackoffTests {
    let t0 = ContinuousClock.now

    /// A backoff whose random fractions are `fractions`, in turn.
    func backoff(_ fractions: [Double]) -> ReconnectBackoff {
        var backoff = ReconnectBackoff()
        var next = fractions.makeIterator()
        backoff.randomFraction = { next.next() ?? 0 }
        return backoff
    }

    @Test("Steps of 0.1 s double to 5 s; each wait is half its step plus a random part of the other half")
    func equalJitter() {
        var backoff = backoff([0, 1, 0.5, 0.25, 0, 0, 0.5, 1])
        let delays = (0..<8).map { _ in backoff.failed(now: t0) - t0 }
        #expect(
            delays == [
                .milliseconds(50), .milliseconds(200), .milliseconds(300), .milliseconds(500),
                .milliseconds(800), .milliseconds(1600), .milliseconds(3750), .seconds(5),
            ])
    }

    @Test("Never waits less than half the first step, and starts over after a success")
    func floorAndReset() {
        var backoff = backoff([0, 0, 0, -3])
        #expect(backoff.failed(now: t0) - t0 == .milliseconds(50))
        #expect(backoff.failed(now: t0) - t0 == .milliseconds(100))
        backoff.succeeded()
        #expect(backoff.failed(now: t0) - t0 == .milliseconds(50))
        #expect(backoff.failed(now: t0) - t0 == .milliseconds(100))
    }

    @Test("The default random source spreads waits over the upper half of each step")
    func spread() {
        var backoff = ReconnectBackoff()
        backoff.initial = .seconds(4)
        let delays = Set((0..<20).map { _ in
            let delay = backoff.failed(now: t0) - t0
            backoff.succeeded()
            return delay
        })
        #expect(delays.allSatisfy { $0 >= .seconds(2) && $0 <= .seconds(4) })
        #expect(delays.count > 1)
    }
}
