import ArgumentParser
import Glibc

/// Ends a command after printing one line to standard error: what is wrong and how to fix it.
enum Failure {
    /// Exit status for bad options, variables or database setup: the command could not start.
    static let configuration = ExitCode(2)

    static func exit(_ message: String, _ code: ExitCode) -> ExitCode {
        writeLine("httpq: \(message)")
        return code
    }

    /// Writes `text` and a newline to standard error at once, control characters escaped:
    /// a server's message can quote a value it was given (see `TerminalText`).
    static func writeLine(_ text: String) {
        let line = Array((TerminalText.lines(text) + "\n").utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
