import Foundation
import Logging
import Synchronization

@testable import HTTPQ

/// A worker running on its own thread inside the test process, stopped like SIGTERM would.
final class InProcessWorker: Sendable {
    private let stopRequest: StopRequest
    private let exit = Mutex<WorkerExit?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Starts a worker for `channels` with a short poll interval; `flags` add or override settings,
    /// `environment` is all the worker sees of one; `monitor` receives its metrics and health.
    /// Throws when the worker cannot start.
    init(
        channels: [String], flags: [String: String] = [:], environment: [String: String] = [:],
        url: String? = TestDatabase.url, monitor: WorkerMonitor? = nil
    ) throws {
        var settings = [
            Setting.channels.flag: channels.joined(separator: ","),
            Setting.pollInterval.flag: "0.2",
            Setting.workerID.flag: "test-\(UUID().uuidString.prefix(8))",
        ]
        if let url { settings[Setting.database.flag] = url }
        settings.merge(flags) { _, new in new }
        let config = try Config(environment: environment, flags: settings)
        let stopRequest = try StopRequest()
        self.stopRequest = stopRequest
        let started = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        Thread.detachNewThread { [self] in
            let worker: Worker
            do {
                worker = try Worker.start(
                    config: config, logger: testLogger(), stopRequest: stopRequest, metrics: monitor?.factory,
                    health: monitor?.health)
            } catch {
                failure.withLock { $0 = "\(error)" }
                started.signal()
                done.signal()
                return
            }
            started.signal()
            let result = worker.run()
            exit.withLock { $0 = result }
            done.signal()
        }
        started.wait()
        if let message = failure.withLock({ $0 }) {
            throw TestFailure(message)
        }
    }

    /// Asks the worker to stop and waits for it; nil when it did not exit in time.
    @discardableResult
    func stop(timeout: Duration = .seconds(20)) -> WorkerExit? {
        stopRequest.request()
        guard done.wait(timeout: .now() + timeout.seconds) == .success else { return nil }
        done.signal()  // later calls return at once
        return exit.withLock { $0 }
    }
}

/// The logger tests hand to workers: silent unless HTTPQ_TEST_LOG_LEVEL names a level.
func testLogger() -> Logger {
    let level = ProcessInfo.processInfo.environment["HTTPQ_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) }
    return Logger(label: "httpq-test") { _ in
        guard let level else { return SwiftLogNoOpLogHandler() }
        return LineLogHandler(level: level, format: .text)
    }
}
