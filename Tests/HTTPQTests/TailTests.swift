import Foundation
import Glibc
import Testing

@testable import HTTPQ

/// The real `httpq tail` executable against a real worker and HTTP server: each attempt
/// outcome appears as it is recorded, by request id and state, for its channel alone with
/// --channel, as JSON lines with --json; an interrupt ends it cleanly.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct TailTests {
    @Test("A delivered, a retried and a dead request appear with their ids and states; --channel filters; --json lines parse")
    func outcomesAppear() throws {
        let server = try TestHTTPServer { request in
            switch request.path {
            case "/ok": .status(200)
            case "/retry": .status(503)
            default: .status(500)
            }
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("tail")
        let other = try TestDatabase.channel("tail-other")
        try database.fastRetries(channel)

        let text = try TailProcess(["--channel", channel])
        let json = try TailProcess(["--json"])
        #expect(try eventually(timeout: .seconds(20)) { try Self.registered(database, atLeast: 2) })

        let delivered = try database.enqueue(url: server.url("/ok"), channel: channel)
        let retried = try database.enqueue(url: server.url("/retry"), channel: channel, maxAttempts: 2)
        let dead = try database.enqueue(url: server.url("/dead"), channel: channel, maxAttempts: 1)
        let elsewhere = try database.enqueue(url: server.url("/ok"), channel: other)
        let worker = try InProcessWorker(channels: [channel, other])
        #expect(try database.waitFinished([delivered, retried, dead, elsewhere]))
        #expect(worker.stop() == .clean)

        // Each expected line, as `httpq tail` prints it: id, channel, attempt, what became of it.
        let expected = [
            "  \(delivered)  \(channel)  attempt 1  delivered  HTTP 200",
            "  \(retried)  \(channel)  attempt 1  retry",
            "  \(retried)  \(channel)  attempt 2  dead  HTTP 503",
            "  \(dead)  \(channel)  attempt 1  dead  HTTP 500",
        ]
        #expect(eventually(timeout: .seconds(20)) { expected.allSatisfy { text.output.contains($0) } }, "\(text.output)")
        #expect(eventually(timeout: .seconds(20)) { json.objects.contains { number($0["id"]) == elsewhere } })

        text.send(SIGINT)
        json.send(SIGTERM)
        #expect(text.waitExit(timeout: .seconds(10)) == 0)
        #expect(json.waitExit(timeout: .seconds(10)) == 0)
        #expect(try !Self.registered(database, atLeast: 1), "an ended tail leaves its registration")

        // Text: one line per attempt outcome of the channel, each once; nothing of the other.
        let lines = text.output.split(separator: "\n").map(String.init)
        for line in expected {
            #expect(lines.filter { $0.contains(line) }.count == 1, "\(line) in \(text.output)")
        }
        #expect(lines.count == 4, "\(text.output)")
        #expect(!text.output.contains(other))

        // JSON: one object a line, every channel's outcomes, the same states.
        let objects = json.objects
        #expect(objects.count == json.output.split(separator: "\n").count, "every line parses: \(json.output)")
        func outcome(_ id: Int64, attempt: Int) -> [String: Any]? {
            objects.first { number($0["id"]) == id && number($0["attempt"]) == Int64(attempt) }
        }
        #expect(outcome(delivered, attempt: 1)?["outcome"] as? String == "delivered")
        #expect(number(outcome(delivered, attempt: 1)?["status"]) == 200)
        #expect(outcome(delivered, attempt: 1)?["channel"] as? String == channel)
        #expect(outcome(retried, attempt: 1)?["outcome"] as? String == "retry")
        #expect(outcome(retried, attempt: 2)?["outcome"] as? String == "dead")
        #expect(outcome(dead, attempt: 1)?["outcome"] as? String == "dead")
        #expect(outcome(elsewhere, attempt: 1)?["outcome"] as? String == "delivered")
        #expect(outcome(elsewhere, attempt: 1)?["channel"] as? String == other)
    }

    /// Whether at least `count` tails are registered and live.
    private static func registered(_ database: Connection, atLeast count: Int) throws -> Bool {
        let live = try database.execute("SELECT count(*) FROM httpq.tail WHERE expires_at > now()").scalar
        return (live.flatMap { Int($0) } ?? 0) >= count
    }
}

/// A JSON number as an integer, nil for anything else.
private func number(_ value: Any?) -> Int64? {
    (value as? NSNumber)?.int64Value
}

/// `httpq tail` as a child process, its output (standard output and error) in a file.
private final class TailProcess {
    private let child: Subprocess
    private let outputPath = NSTemporaryDirectory() + "httpq-tail-\(UUID().uuidString).log"

    init(_ arguments: [String]) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("httpq").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestFailure("\(executable) is missing: run `swift build` first")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = TestDatabase.url
        child = try Subprocess(executable, ["tail"] + arguments, environment: environment, outputPath: outputPath)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: outputPath)
    }

    var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    /// The lines of the output that parse as JSON objects.
    var objects: [[String: Any]] {
        output.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    func send(_ signal: Int32) {
        child.send(signal)
    }

    func waitExit(timeout: Duration) -> Int32? {
        child.wait(timeout: timeout)
    }
}
