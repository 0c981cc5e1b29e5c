import Glibc
import HTTPQ

/// Reads a secret's value from standard input: all of it from a pipe or file, or one line
/// typed at a terminal, with echo off so the value never shows on screen.
enum SecretInput {
    static func read() throws(SystemError) -> [UInt8] {
        guard isatty(STDIN_FILENO) == 1 else {
            return try FileContents.read(path: "/dev/stdin")
        }
        var saved = termios()
        let hidden = tcgetattr(STDIN_FILENO, &saved) == 0
        if hidden {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
        }
        defer {
            if hidden {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved)
                Failure.writeLine("")
            }
        }
        Failure.writeLine("value (not shown; end with Enter):")
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while Glibc.read(STDIN_FILENO, &byte, 1) == 1, byte != 10 {
            line.append(byte)
        }
        return line
    }
}
