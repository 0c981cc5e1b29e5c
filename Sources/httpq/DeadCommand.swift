import ArgumentParser
import HTTPQ

/// `httpq dead`: the dead requests in httpq.requests, newest first.
struct DeadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead",
        abstract: "List dead requests, newest first.",
        discussion: """
            Requests that used up their attempts or passed their deadline, from the \
            httpq.requests view: when each died, after how many attempts, and its last status \
            or error. Send one again with `httpq retry ID`, a channel's with \
            `httpq retry --channel C`. --json prints the view's rows as they are.
            """
    )

    @OptionGroup var connection: DatabaseOptions
    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("Only this channel's dead requests.", valueName: "channel"))
    var channel: String?

    @Option(help: ArgumentHelp("Show at most this many.", valueName: "n"))
    var limit: Int = 50

    /// Checks the options together before anything is sent. (Not `validate()`, which
    /// ArgumentParser also runs for --help, where a one-line failure would be noise.)
    private func check() throws {
        guard limit >= 1 else {
            throw Failure.exit("invalid --limit \(limit): must be a whole number from 1", Failure.configuration)
        }
    }

    func run() throws {
        try check()
        let database = try Database.open(connection)
        let filter = """
            FROM httpq.requests r
            WHERE r.state = 'dead' AND ($1::text IS NULL OR r.channel = $1)
            ORDER BY r.finished_at DESC, r.id DESC
            LIMIT $2::int
            """
        if output.json {
            let rows = try database.value("""
                SELECT coalesce(array_to_json(array_agg(d ORDER BY d.finished_at DESC, d.id DESC)), '[]')
                FROM (SELECT r.* \(filter)) AS d
                """, [channel, String(limit)])
            sayJSON(rows ?? "[]")
            return
        }
        let rows = try database.rows("""
            SELECT r.id, r.channel, date_trunc('second', r.finished_at), r.attempts, r.last_status, r.last_error, r.url
            \(filter)
            """, [channel, String(limit)])
        guard !rows.isEmpty else {
            say(channel.map { "no dead requests in channel \($0)" } ?? "no dead requests")
            return
        }
        say(Table([
            .column("id", numeric: true), .column("channel"), .column("died"), .column("attempts", numeric: true),
            .column("status", numeric: true), .column("last error"), .column("url"),
        ], rows: rows).render())
    }
}
