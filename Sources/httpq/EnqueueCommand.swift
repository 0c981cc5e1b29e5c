import ArgumentParser
import Glibc
import HTTPQ

/// `httpq enqueue`: one call of httpq.enqueue (JSON or no body) or httpq.enqueue_bytes.
struct EnqueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Queue one HTTP request and print its id.",
        discussion: """
            Calls httpq.enqueue, or httpq.enqueue_bytes for a body that is not JSON, in a \
            transaction of its own; the database checks the request. Prints the request's id \
            alone on one line, so a script can keep it: id=$(httpq enqueue ...). Note that \
            --json here says the body is JSON; the id is the whole output either way.

            Example: httpq enqueue https://hooks.example.com/orders --json --data '{"order": 42}' \
            --channel hooks.example.com --key order-42
            """
    )

    @OptionGroup var connection: DatabaseOptions

    @Argument(help: "The http:// or https:// URL to send the request to.")
    var url: String

    @Option(help: ArgumentHelp("The HTTP method, upper case. Defaults to POST, as in httpq.enqueue.",
                               valueName: "method"))
    var method: String?

    @Option(name: [.customShort("H"), .long], help: ArgumentHelp("""
        A header to send, as "Name: value". Repeat for more headers.
        """, valueName: "name: value"))
    var header: [String] = []

    @Option(name: [.customShort("d"), .long], parsing: .unconditional, help: ArgumentHelp("""
        The body: the text itself, @file for a file's contents, or - for standard input. Sent \
        as bytes with --content-type unless --json is given. No --data: no body.
        """, valueName: "data"))
    var data: String?

    @Flag(help: """
        The body is JSON: it is checked, stored as jsonb and sent with Content-Type \
        application/json (unless a Content-Type header says otherwise). Needs --data.
        """)
    var json = false

    @Option(name: .customLong("content-type"), help: ArgumentHelp("""
        The Content-Type of a body that is not JSON. Defaults to a Content-Type header when \
        one is given, else application/octet-stream.
        """, valueName: "type"))
    var contentType: String?

    @Option(help: ArgumentHelp("""
        The channel whose limits and defaults apply; created on first use. Defaults to default.
        """, valueName: "channel"))
    var channel: String?

    @Option(name: .customLong("key"), help: ArgumentHelp("""
        The ordering key: requests with the same key in a channel are delivered one after \
        another, in enqueue order.
        """, valueName: "ordering-key"))
    var orderingKey: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Send no earlier than this. " + TimeArgument.help, valueName: "time"))
    var at: TimeArgument?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Give up (the request is dead) if not delivered by then. " + TimeArgument.help,
                               valueName: "time"))
    var deadline: TimeArgument?

    @Option(name: .customLong("max-attempts"), help: ArgumentHelp("""
        Attempts before the request is dead, 1 to 1000. Defaults to the channel's (20).
        """, valueName: "n"))
    var maxAttempts: Int?

    @Option(name: .customLong("idempotency-key"), help: ArgumentHelp("""
        The Idempotency-Key header sent with every attempt. Defaults to an Idempotency-Key \
        header when one is given, else a new UUID.
        """, valueName: "key"))
    var idempotencyKey: String?

    @Option(name: .customLong("dedupe-key"), help: ArgumentHelp("""
        When an unfinished request of the channel has this key, enqueue nothing and print that \
        request's id.
        """, valueName: "key"))
    var dedupeKey: String?

    @Option(help: ArgumentHelp("Lower is claimed first within a channel. Defaults to 0.", valueName: "n"))
    var priority: Int?

    @Option(name: .customLong("timeout-ms"), help: ArgumentHelp("""
        Total time for one attempt in milliseconds, 1 to 3600000. Defaults to the channel's (30000).
        """, valueName: "ms"))
    var timeoutMilliseconds: Int?

    /// Checks the options together before anything is sent. (Not `validate()`, which
    /// ArgumentParser also runs for --help, where a one-line failure would be noise.)
    private func check() throws {
        if json && data == nil {
            throw Failure.exit("--json says the body is JSON, but there is no body: give it with --data",
                               Failure.configuration)
        }
        if contentType != nil && data == nil {
            throw Failure.exit("--content-type needs a body: give it with --data", Failure.configuration)
        }
        if json && contentType != nil {
            throw Failure.exit("--content-type is for bodies that are not JSON; with --json, give a "
                                   + "Content-Type header instead", Failure.configuration)
        }
    }

    func run() throws {
        try check()
        let headers = try parsedHeaders()
        let body = try data.map(readBody)
        var call: FunctionCall
        if let body, !json {
            call = FunctionCall("enqueue_bytes")
            call.add("url", url)
            call.add("body", Database.byteaParameter(body), sql: "$::bytea")
            if let contentType {
                call.add("content_type", contentType)
            } else if headers.contains(where: { $0.name.lowercased() == "content-type" }) {
                call.addNull("content_type")  // the header says it
            }
        } else {
            call = FunctionCall("enqueue")
            call.add("url", url)
            if let body {
                guard let text = String(validating: body, as: UTF8.self) else {
                    throw Failure.exit("--data is not UTF-8 text, so it cannot be JSON: drop --json to send it "
                                           + "as bytes", Failure.configuration)
                }
                call.add("body", text, sql: "$::jsonb")
            }
        }
        call.add("method", method)
        if !headers.isEmpty {
            let flat = headers.flatMap { [$0.name, $0.value] }
            call.add("headers", Database.textArrayParameter(flat), sql: "jsonb_object($::text[])")
        }
        call.add("channel", channel)
        call.add("ordering_key", orderingKey)
        call.add("run_at", at)
        call.add("max_attempts", maxAttempts.map(String.init), sql: "$::int")
        call.add("deadline", deadline)
        call.add("idempotency_key", idempotencyKey)
        call.add("dedupe_key", dedupeKey)
        call.add("priority", priority.map(String.init), sql: "$::int")
        call.add("timeout_ms", timeoutMilliseconds.map(String.init), sql: "$::int")

        let database = try Database.open(connection)
        do {
            let id = try database.query(call.statement, call.parameters).first?.first ?? nil
            say(id ?? "")
        } catch .query(let sqlState, _, let detail, _) where json && sqlState == "22P02" {
            // invalid_text_representation: the jsonb cast of --data.
            throw Failure.exit("--data is not valid JSON" + (detail.map { " (\($0))" } ?? "")
                                   + ": fix it, or drop --json to send it as bytes", ExitCode.failure)
        } catch {
            throw Failure.exit(error)
        }
    }

    /// The --header values as name and value, split at the first colon.
    private func parsedHeaders() throws -> [(name: String, value: String)] {
        try header.map { text in
            guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
                throw Failure.exit("invalid --header \"\(text)\": must be \"Name: value\"", Failure.configuration)
            }
            let name = String(text[..<colon]).trimmingCharacters(in: " \t")
            let value = String(text[text.index(after: colon)...]).trimmingCharacters(in: " \t")
            return (name, value)
        }
    }

    /// The bytes --data names: the text itself, a file's contents (@file) or standard input (-).
    private func readBody(_ data: String) throws -> [UInt8] {
        if data == "-" {
            return try readAll(STDIN_FILENO, "standard input")
        }
        guard data.hasPrefix("@") else {
            return Array(data.utf8)
        }
        let path = String(data.dropFirst())
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw Failure.exit("cannot read --data file \(path): \(String(cString: strerror(errno)))",
                               Failure.configuration)
        }
        defer { close(fd) }
        return try readAll(fd, path)
    }

    private func readAll(_ fd: Int32, _ name: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure.exit("cannot read \(name): \(String(cString: strerror(errno)))", Failure.configuration)
            }
            bytes += chunk[..<count]
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in blanks: String) -> String {
        String(drop(while: blanks.contains).reversed().drop(while: blanks.contains).reversed())
    }
}
