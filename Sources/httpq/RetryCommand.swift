import ArgumentParser
import HTTPQ

/// `httpq retry`: httpq.retry for one request, httpq.replay for a channel's dead requests.
struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Send a dead request again, or every dead request of a channel.",
        discussion: """
            With an id, calls httpq.retry: a dead or canceled request goes back to waiting with \
            a fresh attempt budget, the same id and the same Idempotency-Key, and a waiting \
            request in backoff becomes due at once. With --channel, calls httpq.replay for the \
            channel's requests that died in [--since, --until); those that cannot come back \
            (past their deadline, or their dedupe key taken) stay dead and are named in a \
            warning. Exits 1 when there was nothing to retry.
            """
    )

    @OptionGroup var connection: DatabaseOptions

    @Argument(help: "The request's id.")
    var id: String?

    @Option(help: ArgumentHelp("Replay the dead requests of this channel instead of one request.",
                               valueName: "channel"))
    var channel: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("With --channel: only requests that died at or after this time. " + TimeArgument.help,
                               valueName: "time"))
    var since: TimeArgument?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("With --channel: only requests that died before this time. " + TimeArgument.help,
                               valueName: "time"))
    var until: TimeArgument?

    /// Checks the options together before anything is sent. (Not `validate()`, which
    /// ArgumentParser also runs for --help, where a one-line failure would be noise.)
    private func check() throws {
        if id == nil && channel == nil {
            throw Failure.exit("say what to retry: a request id, or --channel for a channel's dead requests",
                               Failure.configuration)
        }
        if id != nil && channel != nil {
            throw Failure.exit("give a request id or --channel, not both", Failure.configuration)
        }
        if channel == nil && (since != nil || until != nil) {
            throw Failure.exit("--since and --until go with --channel", Failure.configuration)
        }
    }

    func run() throws {
        try check()
        if let channel {
            var call = FunctionCall("replay")
            call.add("channel", channel)
            call.add("since", since)
            call.add("until", until)
            let database = try Database.open(connection)
            let count = try database.value(call.statement, call.parameters) ?? "0"
            say("replayed \(count) dead \(count == "1" ? "request" : "requests") of channel \(channel)")
            return
        }
        let id = try RequestID(id ?? "")
        let database = try Database.open(connection)
        // One statement: the subquery sees the state from before httpq.retry ran.
        let row = try database.rows("""
            SELECT (SELECT state FROM httpq.requests WHERE id = $1::bigint), httpq.retry(id => $1::bigint)
            """, [id.parameter])[0]
        switch (row[0], row[1]) {
        case (let before?, "t"):
            say(before == "waiting" ? "request \(id.value) was waiting in backoff; it is due now"
                                      : "request \(id.value) was \(before); it is waiting again")
        case (let state?, _):
            throw Failure.exit("nothing to retry: request \(id.value) is \(state) (retry takes dead, "
                                   + "canceled, and waiting requests in backoff)", ExitCode.failure)
        case (nil, _):
            throw Failure.exit("no request \(id.value)", ExitCode.failure)
        }
    }
}
