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
            ResumeCommand.self,
        ]
    )
}
