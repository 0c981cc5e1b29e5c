import Foundation
import Glibc

/// The real `httpq work` executable as a child process, for tests that signal or kill it.
final class WorkerProcess {
    let process = Process()
    let logURL: URL

    /// Starts `httpq work` with `arguments`; the database comes from `environment` or the test URL.
    init(_ arguments: [String], environment extra: [String: String] = [:]) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("httpq")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw TestFailure("\(executable.path) is missing: run `swift build` first")
        }
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("httpq-worker-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = TestDatabase.url
        environment["HTTPQ_LOG_LEVEL"] = "debug"
        environment.merge(extra) { _, new in new }
        process.executableURL = executable
        process.arguments = ["work"] + arguments
        process.environment = environment
        process.standardError = try FileHandle(forWritingTo: logURL)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: logURL)
    }

    func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its status, or nil if it is still running at `timeout`.
    func waitExit(timeout: Duration) -> Int32? {
        let finished = eventually(timeout: timeout) { !process.isRunning }
        return finished ? process.terminationStatus : nil
    }

    /// What the worker logged so far.
    var log: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }
}
