import Foundation
import Testing
@testable import HTTPQ
@testable import httpq

/// The `httpq` executable run as a child process, the way a shell runs it.
struct CLI {
    var status: Int32
    var stdout: String
    var stderr: String

    /// The lines written to standard error.
    var errorLines: [Substring] {
        stderr.split(separator: "\n")
    }

    /// Runs `httpq arguments` against the test database (or `database`), feeding `input` on
    /// standard input, and waits for it to exit.
    static func run(
        _ arguments: [String], input: [UInt8] = [], database: String? = TestDatabase.url,
        environment extra: [String: String] = [:]
    ) throws -> CLI {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("httpq")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw TestFailure("\(executable.path) is missing: run `swift build` first")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("httpq-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = ["in", "out", "err"].map { directory.appendingPathComponent($0) }
        try Data(input).write(to: files[0])
        _ = FileManager.default.createFile(atPath: files[1].path, contents: nil)
        _ = FileManager.default.createFile(atPath: files[2].path, contents: nil)

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database
        environment.removeValue(forKey: Setting.secretKeyVariable)
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardInput = try FileHandle(forReadingFrom: files[0])
        process.standardOutput = try FileHandle(forWritingTo: files[1])
        process.standardError = try FileHandle(forWritingTo: files[2])
        try process.run()
        process.waitUntilExit()
        return CLI(status: process.terminationStatus,
                   stdout: try String(contentsOf: files[1], encoding: .utf8),
                   stderr: try String(contentsOf: files[2], encoding: .utf8))
    }

    /// The JSON the command printed.
    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(stdout.utf8))
    }
}

/// `httpq enqueue`, `show`, `status`, `dead`, `retry`, `cancel`, `pause` and `resume` against
/// the real database: each a call of one SQL function or view.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct CLITests {
    /// Enqueues through the command line; returns the id it printed.
    private func enqueue(_ arguments: [String], input: [UInt8] = []) throws -> Int64 {
        let run = try CLI.run(["enqueue"] + arguments, input: input)
        #expect(run.status == 0, "\(run.stderr)")
        return try #require(Int64(run.stdout.trimmingCharacters(in: .newlines)))
    }

    @Test("Enqueues a JSON body and prints only the id, which show then finds")
    func enqueueThenShow() throws {
        let channel = try TestDatabase.channel("cli-show")
        let id = try enqueue(["http://127.0.0.1:1/hook", "--json", "--data", #"{"order": 42}"#, "--channel", channel,
                              "--key", "order-42", "-H", "X-Source: cli", "--max-attempts", "3", "--priority", "2"])

        let table = try CLI.run(["show", String(id)])
        #expect(table.status == 0)
        #expect(table.stdout.contains("state            waiting"))
        #expect(table.stdout.contains("ordering_key     order-42"))

        let shown = try #require(try CLI.run(["show", String(id), "--json"]).json() as? [String: Any])
        let request = try #require(shown["request"] as? [String: Any])
        #expect(request["channel"] as? String == channel)
        #expect(request["url"] as? String == "http://127.0.0.1:1/hook")
        #expect(request["priority"] as? Int == 2)
        #expect((shown["attempts"] as? [Any])?.isEmpty == true)
        #expect(shown["response"] is NSNull)

        let stored = try TestDatabase.connect().execute("""
            SELECT convert_from(body, 'UTF8'), headers->>'X-Source', headers->>'Content-Type', max_attempts
            FROM httpq.request WHERE id = $1
            """, [String(id)]).rows
        #expect(stored == [[#"{"order": 42}"#, "cli", "application/json", "3"]])
    }

    @Test("Sends --data from a file or standard input as bytes with its content type")
    func enqueueBytes() throws {
        let channel = try TestDatabase.channel("cli-bytes")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("httpq-cli-\(UUID().uuidString)")
        try Data([0xff, 0x00, 0x41]).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let fromFile = try enqueue(["http://127.0.0.1:1/", "--data", "@" + file.path, "--channel", channel])
        let fromInput = try enqueue(["http://127.0.0.1:1/", "--method", "PUT", "--data", "-", "--channel", channel,
                                     "-H", "Content-Type: text/csv"], input: Array("a,b\n".utf8))
        let withType = try enqueue(["http://127.0.0.1:1/", "--data", "name=x", "--content-type",
                                    "application/x-www-form-urlencoded", "--channel", channel, "--at", "+1 hour"])
        let rows = try TestDatabase.connect().execute("""
            SELECT id, method, headers->>'Content-Type', encode(body, 'hex'), run_at > now() + interval '50 minutes'
            FROM httpq.request WHERE channel = $1 ORDER BY id
            """, [channel]).rows
        #expect(rows == [
            [String(fromFile), "POST", "application/octet-stream", "ff0041", "f"],
            [String(fromInput), "PUT", "text/csv", "612c620a", "f"],
            [String(withType), "POST", "application/x-www-form-urlencoded", "6e616d653d78", "t"],
        ])
    }

    @Test("Status lists the channel, as a table and as JSON")
    func statusListsChannel() throws {
        let channel = try TestDatabase.channel("cli-status")
        _ = try enqueue(["http://127.0.0.1:1/", "--channel", channel])
        let table = try CLI.run(["status"])
        #expect(table.status == 0)
        #expect(table.stdout.hasPrefix("CHANNEL"))
        let line = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix(channel + " ") })
        #expect(line.split(separator: " ").prefix(3) == [Substring(channel), "1", "0"])

        let rows = try #require(try CLI.run(["status", "--json"]).json() as? [[String: Any]])
        let row = try #require(rows.first { $0["channel"] as? String == channel })
        #expect(row["waiting"] as? Int == 1)
        #expect(row["paused"] as? Bool == false)
    }

    @Test("Cancel, retry, pause and resume change the request and the channel")
    func manageStates() throws {
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("cli-manage")
        let id = try enqueue(["http://127.0.0.1:1/", "--channel", channel])

        let cancel = try CLI.run(["cancel", String(id)])
        #expect(cancel.status == 0)
        #expect(cancel.stdout == "canceled request \(id) (it was waiting)\n")
        #expect(try database.request(id).state == "canceled")

        let again = try CLI.run(["cancel", String(id)])
        #expect(again.status == 1)
        #expect(again.errorLines == ["httpq: nothing to cancel: request \(id) is canceled"])

        let retry = try CLI.run(["retry", String(id)])
        #expect(retry.status == 0)
        #expect(retry.stdout == "request \(id) was canceled; it is waiting again\n")
        #expect(try database.request(id).state == "waiting")

        #expect(try CLI.run(["pause", channel]).stdout == "paused channel \(channel)\n")
        #expect(try database.execute("SELECT paused FROM httpq.stats WHERE channel = $1", [channel]).scalar == "t")
        #expect(try CLI.run(["resume", channel]).stdout == "resumed channel \(channel)\n")
        #expect(try database.execute("SELECT paused FROM httpq.stats WHERE channel = $1", [channel]).scalar == "f")
    }

    @Test("Dead lists a dead request with its error; retry --channel replays it; show has its attempt")
    func deadAndReplay() throws {
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("cli-dead")
        let id = try enqueue(["http://127.0.0.1:1/refused", "--channel", channel, "--max-attempts", "1"])
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        worker.stop()

        let dead = try CLI.run(["dead", "--channel", channel])
        #expect(dead.status == 0)
        let line = try #require(dead.stdout.split(separator: "\n").dropFirst().first)
        // The id column is right-aligned: compare fields, not a prefix.
        #expect(line.split(separator: " ").prefix(2).map(String.init) == [String(id), channel])
        #expect(line.hasSuffix("http://127.0.0.1:1/refused"))
        let rows = try #require(try CLI.run(["dead", "--channel", channel, "--json"]).json() as? [[String: Any]])
        #expect(rows.map { $0["id"] as? Int } == [Int(id)])

        let shown = try CLI.run(["show", String(id)])
        #expect(shown.stdout.contains("state            dead"))
        #expect(shown.stdout.contains("ATTEMPT  AT"))

        let replay = try CLI.run(["retry", "--channel", channel, "--since", "-1 hour"])
        #expect(replay.status == 0)
        #expect(replay.stdout == "replayed 1 dead request of channel \(channel)\n")
        #expect(try database.request(id).state == "waiting")
        #expect(try CLI.run(["dead", "--channel", channel]).stdout == "no dead requests in channel \(channel)\n")
    }

    @Test("Show prints a delivered request's response status, headers and body")
    func showResponse() throws {
        let server = try TestHTTPServer { _ in .status(201, [("X-Reply", "yes")], body: "created\n") }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("cli-response")
        let id = try enqueue([server.url("/made"), "--channel", channel])
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]))
        worker.stop()

        let shown = try CLI.run(["show", String(id)])
        #expect(shown.stdout.contains("response  201"))
        #expect(shown.stdout.contains(#""x-reply": "yes""#))
        #expect(shown.stdout.hasSuffix("body      created\n"))
        let response = try #require((try CLI.run(["show", String(id), "--json"]).json() as? [String: Any])?["response"]
                                        as? [String: Any])
        #expect(response["status"] as? Int == 201)
        #expect(response["body_base64"] as? String == Data("created\n".utf8).base64EncodedString())
    }

    @Test("Show, dead and status escape a destination's control characters; --json keeps them exactly")
    func hostileOutput() throws {
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("cli-hostile")
        let hostile = "\u{1B}[2Jgone\u{07}\u{08}\rover\u{7F}\u{9B}31m"
        let escaped = #"\x1b[2Jgone\x07\x08\x0dover\x7f\x9b31m"#
        let body = "first\r\n" + hostile + "\n"
        let delivered = try enqueue(["http://127.0.0.1:1/", "--channel", channel, "--max-attempts", "1"])
        let dead = try enqueue(["http://127.0.0.1:1/", "--channel", channel, "--max-attempts", "1"])
        _ = try database.execute("SELECT count(*) FROM httpq.claim('cli-test', 10, ARRAY[$1])", [channel])
        _ = try database.execute("""
            SELECT httpq.report('cli-test', jsonb_build_array(
                jsonb_build_object('id', $1::bigint, 'attempt', 1, 'status', 200,
                                   'headers', jsonb_build_object('x-evil', $3::text), 'body', $4::text),
                jsonb_build_object('id', $2::bigint, 'attempt', 1, 'error', $3::text)))
            """, [String(delivered), String(dead), hostile, Data(body.utf8).base64EncodedString()])

        let shown = try CLI.run(["show", String(delivered)])
        #expect(shown.status == 0)
        #expect(!shown.stdout.unicodeScalars.contains { TerminalText.isControl($0) && $0 != "\n" })
        #expect(shown.stdout.hasSuffix("body      first\n          \(escaped)\n"))
        #expect(shown.stdout.contains(#""x-evil": "\u001b[2Jgone\u0007\b\rover\x7f\x9b31m""#))

        for run in [try CLI.run(["show", String(dead)]), try CLI.run(["dead", "--channel", channel]),
                    try CLI.run(["status"])] {
            #expect(run.status == 0)
            #expect(!run.stdout.unicodeScalars.contains { TerminalText.isControl($0) && $0 != "\n" })
            #expect(run.stdout.contains(escaped))
        }

        let json = try CLI.run(["show", String(delivered), "--json"])
        #expect(!json.stdout.unicodeScalars.contains { TerminalText.isControl($0) && $0 != "\n" })
        let response = try #require((try json.json() as? [String: Any])?["response"] as? [String: Any])
        #expect((response["headers"] as? [String: String])?["x-evil"] == hostile)
        #expect(response["body_base64"] as? String == Data(body.utf8).base64EncodedString())
        let rows = try #require(try CLI.run(["dead", "--channel", channel, "--json"]).json() as? [[String: Any]])
        #expect(rows.map { $0["last_error"] as? String } == [hostile])
    }

    @Test("A server error quoting a control character is escaped on standard error")
    func hostileError() throws {
        let run = try CLI.run(["pause", "\u{1B}[31mred\u{9B}"])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix(#"httpq: channel '\x1b[31mred\x9b' is not a valid channel name"#), "\(run.stderr)")
    }

    @Test("Bad input ends with one line on standard error and a non-zero exit", arguments: [
        (["enqueue", "ftp://files.example.com/x"], 1, "httpq: url must start with http:// or https://"),
        (["enqueue", "http://example.com/", "--json", "--data", "{oops"], 1, "httpq: --data is not valid JSON"),
        (["enqueue", "http://example.com/", "--json"], 2, "httpq: --json says the body is JSON"),
        (["enqueue", "http://example.com/", "-H", "no colon"], 2, "httpq: invalid --header \"no colon\""),
        (["show", "abc"], 2, "httpq: invalid request id \"abc\""),
        (["cancel", "-"], 2, "httpq: invalid request id \"-\""),
        (["show", "9000000000000000000"], 1, "httpq: no request 9000000000000000000"),
        (["retry", "9000000000000000000"], 1, "httpq: no request 9000000000000000000"),
        (["retry"], 2, "httpq: say what to retry"),
        (["pause", "not a channel"], 1, "httpq: channel 'not a channel' is not a valid channel name"),
        (["dead", "--bogus"], 2, "httpq: Unknown option '--bogus'"),
        (["dead", "--limit", "abc"], 2, "httpq: The value 'abc' is invalid for '--limit <n>'"),
    ])
    func badInput(arguments: [String], status: Int32, start: String) throws {
        let run = try CLI.run(arguments)
        #expect(run.status == status)
        #expect(run.stdout.isEmpty)
        #expect(run.errorLines.count == 1)
        #expect(run.stderr.hasPrefix(start), "\(run.stderr)")
    }

    @Test("An unreachable database is one line naming the settings, exit 2")
    func unreachableDatabase() throws {
        let run = try CLI.run(["status"], database: "host=/nonexistent-httpq-socket-dir")
        #expect(run.status == 2)
        #expect(run.errorLines.count == 1)
        #expect(run.stderr.hasPrefix("httpq: cannot connect to the database: "))
        #expect(run.stderr.contains("DATABASE_URL"))
    }
}
