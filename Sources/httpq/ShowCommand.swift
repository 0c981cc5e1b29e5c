import ArgumentParser
import HTTPQ

/// `httpq show ID`: one request from httpq.requests, its httpq.attempts and httpq.responses row.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one request, its attempts and its response.",
        discussion: """
            The request as the httpq.requests view has it, each attempt from httpq.attempts, and \
            the last response from httpq.responses once the request has finished. The body is \
            shown as text when it is UTF-8, else by its size. --json prints one object with \
            request, attempts and response (the body as body_base64).
            """
    )

    @OptionGroup var connection: DatabaseOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "The request's id, as httpq enqueue printed it.")
    var id: String

    func run() throws {
        let id = try RequestID(id)
        let database = try Database.open(connection)
        if output.json {
            let object = try database.value("""
                SELECT json_build_object(
                    'request', row_to_json(r),
                    'attempts', (SELECT coalesce(array_to_json(array_agg(a ORDER BY a.attempt)), '[]')
                                 FROM httpq.attempts a WHERE a.id = r.id),
                    'response', (SELECT json_build_object(
                                            'status', p.status, 'headers', p.headers,
                                            'body_base64', translate(encode(p.body, 'base64'), E'\\n', ''),
                                            'finished_at', p.finished_at)
                                 FROM httpq.responses p WHERE p.id = r.id))
                FROM httpq.requests r
                WHERE r.id = $1::bigint
                """, [id.parameter])
            guard let object else { throw Self.unknown(id) }
            sayJSON(object)
            return
        }

        let names = ["id", "channel", "state", "blocked", "attempts", "priority", "ordering_key", "dedupe_key",
                     "idempotency_key", "method", "url", "run_at", "deadline", "created_at", "finished_at",
                     "last_status", "last_error", "reason", "worker", "lease_until", "hook_error"]
        guard let request = try database.rows("""
            SELECT id, channel, state, nullif(blocked, false), attempts, priority, ordering_key, dedupe_key,
                   idempotency_key, method, url, date_trunc('second', run_at), date_trunc('second', deadline),
                   date_trunc('second', created_at), date_trunc('second', finished_at), last_status, last_error,
                   reason, worker, date_trunc('second', lease_until), hook_error
            FROM httpq.requests
            WHERE id = $1::bigint
            """, [id.parameter]).first
        else {
            throw Self.unknown(id)
        }
        let values = request.enumerated().map { $0 == 3 ? yesNo($1) : $1 }  // blocked: yes, or left out
        var sections = [Fields(pairs: Array(zip(names, values))).render()]

        let attempts = try database.rows("""
            SELECT attempt, date_trunc('second', at), worker, status, error, round(duration_ms)
            FROM httpq.attempts
            WHERE id = $1::bigint
            ORDER BY attempt
            """, [id.parameter])
        if !attempts.isEmpty {
            sections.append(Table([
                .column("attempt", numeric: true), .column("at"), .column("worker"), .column("status", numeric: true),
                .column("error"), .column("duration_ms", numeric: true),
            ], rows: attempts).render())
        }

        if let response = try database.rows("""
            SELECT status, headers, encode(body, 'hex') FROM httpq.responses WHERE id = $1::bigint
            """, [id.parameter]).first {
            sections.append(Fields(pairs: [
                ("response", response[0]),
                ("headers", response[1]),
                ("body", response[2].map(ResponseBody.describe)),
            ]).render())
        }
        say(sections.filter { !$0.isEmpty }.joined(separator: "\n\n"))
    }

    private static func unknown(_ id: RequestID) -> ExitCode {
        Failure.exit("no request \(id.value): it was never enqueued, or it finished and was purged "
                         + "after its channel's retention", ExitCode.failure)
    }
}
