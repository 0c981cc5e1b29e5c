import Foundation
import Glibc

/// A child process started with `posix_spawn` and reaped with `waitpid`.
///
/// Foundation's `Process` was seen to leave a finished child unreaped (and `waitUntilExit`
/// hanging) inside the test runner, so the tests manage children themselves.
final class Subprocess {
    let pid: pid_t
    private var exitStatus: Int32?

    /// Starts `executable` with standard output and error appended to `outputPath`, the
    /// signal mask and dispositions reset to defaults.
    init(_ executable: String, _ arguments: [String], environment: [String: String], outputPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard code == 0 else { throw TestFailure("posix_spawn \(executable): \(String(cString: strerror(code)))") }
        self.pid = pid
    }

    deinit {
        if status == nil {
            kill(pid, SIGKILL)
            _ = wait(timeout: .seconds(5))
        }
    }

    func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// The exit status once the child has exited (128 + n when killed by signal n), else nil.
    var status: Int32? {
        if exitStatus == nil {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                let signal = raw & 0x7f
                exitStatus = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            }
        }
        return exitStatus
    }

    /// Waits for the child to exit; its status, or nil if it still runs at `timeout`.
    func wait(timeout: Duration) -> Int32? {
        _ = eventually(timeout: timeout) { status != nil }
        return status
    }

    /// Runs a command to completion and returns its output; throws when it fails.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) throws -> String {
        let outputPath = NSTemporaryDirectory() + "httpq-command-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child = try Subprocess(
            executable, arguments, environment: ProcessInfo.processInfo.environment,
            outputPath: outputPath)
        let status = child.wait(timeout: timeout)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw TestFailure(
                "\(executable) \(arguments.joined(separator: " ")) ended with \(status.map(String.init) ?? "a timeout"): \(output)"
            )
        }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
