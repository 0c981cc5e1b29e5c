import Testing

@testable import HTTPQ

@Suite struct LeaseTrackerTests {
    let t0 = ContinuousClock.now

    @Test("Extends leases older than half the lease, and forgets reported ones")
    func halfLease() {
        var leases = LeaseTracker(lease: .seconds(60))
        leases.renewed([key(1), key(2)], sentAt: t0)
        leases.renewed([key(3)], sentAt: t0 + .seconds(10))
        #expect(leases.deadline == t0 + .seconds(30))
        #expect(leases.due(now: t0 + .seconds(29)).isEmpty)
        #expect(leases.due(now: t0 + .seconds(30)) == [key(1), key(2)])
        leases.renewed([key(1), key(2)], sentAt: t0 + .seconds(30))
        #expect(leases.deadline == t0 + .seconds(40))
        leases.forget([key(3)])
        #expect(leases.due(now: t0 + .seconds(45)).isEmpty)
        #expect(leases.deadline == t0 + .seconds(60))
        leases.forget([key(1), key(2)])
        #expect(leases.deadline == nil)
    }

    @Test("Two attempts of one request are two leases: forgetting the older leaves the newer")
    func keyedByAttempt() {
        var leases = LeaseTracker(lease: .seconds(60))
        leases.renewed([key(5, 3)], sentAt: t0)
        leases.renewed([key(5, 4)], sentAt: t0 + .seconds(20))
        #expect(leases.due(now: t0 + .seconds(50)) == [key(5, 3), key(5, 4)])
        leases.forget([key(5, 3)])
        #expect(leases.due(now: t0 + .seconds(50)) == [key(5, 4)])
        leases.forget([key(5, 9)])  // never held: nothing changes
        #expect(leases.deadline == t0 + .seconds(50))
    }

    @Test("A heartbeat answered after its claim was forgotten does not bring the lease back")
    func extendedKeepsForgotten() {
        var leases = LeaseTracker(lease: .seconds(60))
        leases.renewed([key(1), key(2)], sentAt: t0)
        leases.forget([key(2)])
        leases.extended([key(1), key(2)], sentAt: t0 + .seconds(30))
        #expect(leases.due(now: t0 + .seconds(60)) == [key(1)])
    }
}

@Suite struct ReportRetryTests {
    let t0 = ContinuousClock.now

    @Test(
        "Waits at least 100 ms, grows with decorrelated jitter to at most 5 s, and an ended episode says how long and how often"
    )
    func backoff() {
        var retry = ReportRetry()
        #expect(!retry.isFailing)
        #expect(retry.allowsReport(now: t0))
        #expect(retry.failed(now: t0, random: 0) == .milliseconds(100))
        #expect(!retry.allowsReport(now: t0 + .milliseconds(99)))
        #expect(retry.allowsReport(now: t0 + .milliseconds(100)))
        #expect(retry.failed(now: t0 + .milliseconds(100), random: 1) == .milliseconds(300))
        #expect(retry.failed(now: t0 + .milliseconds(400), random: 1) == .milliseconds(900))
        #expect(retry.failed(now: t0 + .milliseconds(1300), random: 0.5) == .milliseconds(1400))
        #expect(retry.failed(now: t0 + .milliseconds(2700), random: 1) == .milliseconds(4200))
        #expect(retry.failed(now: t0 + .milliseconds(6900), random: 0.5) == .seconds(5))
        #expect(retry.isFailing)
        #expect(retry.succeeded(now: t0 + .seconds(12)) == ReportRetry.Episode(duration: .seconds(12), failures: 6))
        #expect(!retry.isFailing)
        #expect(retry.succeeded(now: t0 + .seconds(13)) == nil)
        #expect(retry.failed(now: t0 + .seconds(14), random: 0) == .milliseconds(100))  // starts over
    }

    @Test(
        "Class 22 and 23 errors point at an outcome's data, class 54 at the batch's size; the rest would fail any batch",
        arguments: [
            ("23514", ReportFailure.rejectedData), ("22P02", .rejectedData), ("23505", .rejectedData),
            ("54000", .tooLarge), ("54001", .tooLarge),
            ("42883", .notTheBatch), ("42501", .notTheBatch), ("42P01", .notTheBatch), ("57014", .notTheBatch),
            ("40001", .notTheBatch), ("XX000", .notTheBatch), ("P0001", .notTheBatch),
        ])
    func classifies(sqlState: String, failure: ReportFailure) {
        #expect(ReportFailure(sqlError(sqlState)) == failure)
    }

    @Test("A lost connection would fail any batch")
    func lostConnection() {
        #expect(ReportFailure(.connection(message: "gone")) == .notTheBatch)
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
