import ArgumentParser
import Glibc

/// `httpq sql`: the install script, for a DBA to read or to pipe into psql.
struct SQLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Print the SQL that installs httpq.",
        discussion: """
            Prints the script CREATE EXTENSION runs, as plain SQL: the same text make writes to \
            extension/httpq--<version>.sql. Review it, or install httpq where custom extensions \
            are not allowed with `httpq sql | psql "$DATABASE_URL" -1 -v ON_ERROR_STOP=1` \
            (which is what `httpq install --plain` does).
            """
    )

    func run() throws {
        var bytes = Array(InstallScript.text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw Failure.exit("cannot write the script to standard output: \(String(cString: strerror(errno)))",
                                   ExitCode.failure)
            }
            bytes = bytes.dropFirst(written)
        }
    }
}
