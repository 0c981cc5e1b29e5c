import ArgumentParser
import Glibc
import HTTPQ

/// `httpq status`: the httpq.stats view, once or refreshed until interrupted.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each channel: waiting, running, delivered, dead.",
        discussion: """
            One row per channel from the httpq.stats view: whether it is paused, how many \
            requests wait and run, how many were delivered in the last hour, how many are dead, \
            how long the oldest waiting request has waited, the last dead request's error, its \
            circuit breaker when not closed (open, with the seconds to its probe, or half-open), \
            and why it is paused or its breaker open. --json prints the view's rows as they are.
            """
    )

    @OptionGroup var connection: DatabaseOptions
    @OptionGroup var output: OutputOptions

    @Flag(help: "Refresh the table until interrupted (Ctrl-C).")
    var watch = false

    @Option(help: ArgumentHelp("Seconds between refreshes with --watch. Defaults to 2.", valueName: "seconds"))
    var interval: Double?

    /// Checks the options together before anything is sent. (Not `validate()`, which
    /// ArgumentParser also runs for --help, where a one-line failure would be noise.)
    private func check() throws {
        if let interval, !(interval.isFinite && interval >= 0.1 && interval <= 3600) {
            throw Failure.exit("invalid --interval \(interval): must be a number of seconds from 0.1 to 3600",
                               Failure.configuration)
        }
        if interval != nil && !watch {
            throw Failure.exit("--interval goes with --watch", Failure.configuration)
        }
    }

    func run() throws {
        try check()
        // Blocked before connecting: the interrupt is then taken by sigtimedwait between
        // refreshes, never in the middle of a query or a half-printed table.
        var interrupt = sigset_t()
        if watch {
            sigemptyset(&interrupt)
            sigaddset(&interrupt, SIGINT)
            sigaddset(&interrupt, SIGTERM)
            pthread_sigmask(SIG_BLOCK, &interrupt, nil)
        }
        let database = try Database.open(connection)
        let clear = watch && !output.json && isatty(STDOUT_FILENO) == 1
        while true {
            let text = try render(database)
            if clear {
                print("\u{1B}[H\u{1B}[2J", terminator: "")  // home and clear: the one sequence httpq writes
            }
            if output.json {
                sayJSON(text)
            } else {
                say(text)
            }
            fflush(nil)
            guard watch else { return }
            let wait = interval ?? 2
            let seconds = wait.rounded(.down)
            var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int((wait - seconds) * 1e9))
            if sigtimedwait(&interrupt, nil, &timeout) > 0 {
                return
            }
        }
    }

    private func render(_ database: Database) throws -> String {
        if output.json {
            let rows = try database.value("SELECT coalesce(array_to_json(array_agg(s ORDER BY s.channel)), '[]') FROM httpq.stats s")
            return rows ?? "[]"
        }
        let rows = try database.rows("""
            SELECT channel, paused, waiting, running, delivered_last_hour, dead,
                   justify_interval(date_trunc('second', oldest_waiting_age)), last_error,
                   CASE breaker_state
                       WHEN 'open' THEN format('open, probe in %ss', greatest(ceil(extract(epoch FROM breaker_probe_at - now())), 0))
                       WHEN 'half_open' THEN 'half-open'
                   END,
                   CASE WHEN paused THEN paused_reason WHEN breaker_state <> 'closed' THEN breaker_reason END
            FROM httpq.stats
            ORDER BY channel
            """)
        guard !rows.isEmpty else {
            return "no channels yet: a channel appears with its first request"
        }
        let table = Table([
            .column("channel"), .column("paused"), .column("waiting", numeric: true),
            .column("running", numeric: true), .column("delivered/1h", numeric: true),
            .column("dead", numeric: true), .column("oldest waiting"), .column("last error"),
            .column("breaker"), .column("why paused or open"),
        ], rows: rows.map { row in
            var row = row
            row[1] = row[1] == "t" ? "yes" : nil
            return row
        })
        return table.render()
    }
}
