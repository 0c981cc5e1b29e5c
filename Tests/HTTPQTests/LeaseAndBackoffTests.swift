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
    @Test("Waits 0.1 s, doubling to 5 s, and starts over after a success")
    func doubling() {
        let t0 = ContinuousClock.now
        var backoff = ReconnectBackoff()
        let delays = (0..<8).map { _ in backoff.failed(now: t0) - t0 }
        #expect(
            delays == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                .milliseconds(1600), .milliseconds(3200), .seconds(5), .seconds(5),
            ])
        backoff.succeeded()
        #expect(backoff.failed(now: t0) - t0 == .milliseconds(100))
    }
}
