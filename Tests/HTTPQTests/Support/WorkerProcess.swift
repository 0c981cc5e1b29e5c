import Foundation
import Glibc

/// The real `httpq work` executable as a child process, for tests that signal or kill it.
final class WorkerProcess {
    private let child: Subprocess
    private let logPath: String

    /// Starts `httpq work` with `arguments`, logging at debug; the database is the test database.
    init(_ arguments: [String], environment extra: [String: String] = [:]) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("httpq").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestFailure("\(executable) is missing: run `swift build` first")
        }
        logPath = NSTemporaryDirectory() + "httpq-worker-\(UUID().uuidString).log"
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = TestDatabase.url
        environment["HTTPQ_LOG_LEVEL"] = "debug"
        environment.merge(extra) { _, new in new }
        child = try Subprocess(executable, ["work"] + arguments, environment: environment, outputPath: logPath)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: logPath)
    }

    func send(_ signal: Int32) {
        child.send(signal)
    }

    /// Waits for the process to exit; returns its status, or nil if it is still running at `timeout`.
    func waitExit(timeout: Duration) -> Int32? {
        child.wait(timeout: timeout)
    }

    /// What the worker logged so far.
    var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }
}
