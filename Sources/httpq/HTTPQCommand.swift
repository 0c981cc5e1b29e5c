import ArgumentParser

/// The `httpq` command line: one subcommand per task, each a thin call into the library or SQL.
@main
struct HTTPQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "httpq",
        abstract: "Durable HTTP delivery on PostgreSQL: a transactional outbox for HTTP.",
        discussion: """
            Applications enqueue requests with httpq.enqueue() inside their own transactions; \
            `httpq work` delivers them. Every option is also an environment variable, named in \
            its help; a flag on the command line overrides the variable.
            """,
        subcommands: [
            WorkCommand.self, InstallCommand.self, SQLCommand.self, EnqueueCommand.self, StatusCommand.self,
            ShowCommand.self, DeadCommand.self, RetryCommand.self, CancelCommand.self, PauseCommand.self,
            ResumeCommand.self, SecretCommand.self, TailCommand.self, DashboardCommand.self,
        ]
    )

    /// Runs the command. A usage error (an unknown option, a value that does not parse) is
    /// one line and exit status 2, as every other reason a command cannot start; help and
    /// version requests keep the parser's own output.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                exit(withError: Failure.exit(message(for: error) + " (see --help)", Failure.configuration))
            }
            exit(withError: error)
        }
    }
}
