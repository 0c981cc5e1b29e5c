import Foundation
import Glibc
import Testing

@testable import HTTPQ

/// A Postgres restart under a running worker. The test brings its own cluster, so restarting
/// it disturbs no other test.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct RestartTests {
    @Test("A Postgres restart mid-run loses nothing: every request is delivered")
    func postgresRestart() throws {
        let cluster = try PrivateCluster()
        defer { cluster.remove() }
        let url = try cluster.createDatabase()
        let server = try TestHTTPServer { _ in TestHTTPServer.Reply(delay: .milliseconds(30)) }
        defer { server.stop() }
        let database = try TestDatabase.connect(url: url)
        let channel = try TestDatabase.channel("restart", url: url)
        try database.fastRetries(channel)
        let ids = try (0..<60).map { try database.enqueue(url: server.url("/r/\($0)"), channel: channel) }

        // Few slots and a short lease: the run spans the restart, and a claim cut off by it
        // comes back quickly.
        let worker = try InProcessWorker(
            channels: [channel],
            flags: [
                Setting.concurrency.flag: "4",
                Setting.lease.flag: "1",
            ], url: url)
        #expect(eventually(timeout: .seconds(10)) { server.requests.count >= 10 })
        try cluster.restart()

        let reconnected = try TestDatabase.connect(url: url)
        #expect(try reconnected.waitFinished(ids, timeout: .seconds(30)))
        #expect(worker.stop() == .clean)
        #expect(try reconnected.states(ids).values.allSatisfy { $0 == "delivered" })
        for index in ids.indices {
            #expect(!server.requests("/r/\(index)").isEmpty, "request \(index) never arrived")
        }
    }
}

/// A throwaway Postgres cluster of the test's own, made with Tests/support/cluster.sh.
struct PrivateCluster {
    let directory: String
    private let script: String

    init() throws {
        script =
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("support/cluster.sh").path
        directory = "/tmp/httpq-restart-\(UUID().uuidString.prefix(8))"
        try run("/bin/bash", [script, "start", directory])
    }

    /// Creates database `httpq` with the extension; returns its conninfo.
    func createDatabase() throws -> String {
        let server = "host=\(directory) port=5432 user=postgres"
        let admin = try TestDatabase.connect(url: "\(server) dbname=postgres")
        _ = try admin.execute("CREATE DATABASE httpq")
        let url = "\(server) dbname=httpq"
        _ = try TestDatabase.connect(url: url).execute("CREATE EXTENSION httpq")
        return url
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server comes back on the same socket.
    func restart() throws {
        try pgctl(["restart", "-m", "fast", "-w", "-l", "\(directory)/postgres.log"])
    }

    /// `pg_ctl stop -m fast`: every connection is cut and no new one is accepted.
    func stop() throws {
        try pgctl(["stop", "-m", "fast", "-w"])
    }

    /// Starts the stopped server with the options it had (`pg_ctl restart` reads them back
    /// from postmaster.opts; `start` would not), so on the same socket as before.
    func start() throws {
        try pgctl(["restart", "-w", "-l", "\(directory)/postgres.log"])
    }

    private func pgctl(_ action: [String]) throws {
        let pgctl = try output("/usr/bin/pg_config", ["--bindir"]) + "/pg_ctl"
        let arguments = ["-D", "\(directory)/data"] + action
        if getuid() == 0 {
            try run("/usr/sbin/runuser", ["-u", "postgres", "--", pgctl] + arguments)
        } else {
            try run(pgctl, arguments)
        }
    }

    func remove() {
        try? run("/bin/bash", [script, "stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func run(_ executable: String, _ arguments: [String]) throws {
        try output(executable, arguments)
    }

    @discardableResult
    private func output(_ executable: String, _ arguments: [String]) throws -> String {
        try Subprocess.run(executable, arguments)
    }
}
