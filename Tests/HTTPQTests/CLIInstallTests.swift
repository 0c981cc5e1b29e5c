import Foundation
import Testing
@testable import HTTPQ
@testable import httpq

/// `httpq sql` and `httpq install`: the script the binary carries, and installing it.
@Suite
struct CLIInstallTests {
    /// The repository's sql/ folder, found from this file's path.
    private static let sqlDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sql")

    @Test("httpq sql prints sql/*.sql concatenated in name order, as make does")
    func sqlMatchesSources() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.sqlDirectory.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(names.count == InstallScript.parts.count,
                "sql/ has \(names.count) files, InstallScript.parts \(InstallScript.parts.count): list the new one")
        var expected = Data()
        for name in names {
            expected += try Data(contentsOf: Self.sqlDirectory.appendingPathComponent(name))
        }
        let run = try CLI.run(["sql"], database: nil)
        #expect(run.status == 0)
        #expect(run.stdout == String(decoding: expected, as: UTF8.self))
    }

    @Test("The embedded version is the control file's default_version")
    func embeddedVersion() throws {
        let control = try String(contentsOf: Self.sqlDirectory.deletingLastPathComponent()
            .appendingPathComponent("extension/httpq.control"), encoding: .utf8)
        #expect(control.contains("default_version = '\(InstallScript.version)'"))
    }

    @Test("Versions compare number by number", arguments: [
        ("0.1.0", "0.2.0", true), ("0.2.0", "0.10.0", true), ("0.10.0", "0.2.0", false),
        ("0.1.0", "0.1.0", false), ("0.1", "0.1.1", true), ("1.0.0", "0.9.9", false),
    ])
    func versionOrder(version: String, other: String, older: Bool) {
        #expect(InstallCommand.isVersion(version, olderThan: other) == older)
    }
}

/// `httpq install` against fresh databases made for each test and dropped after it.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"), .serialized)
struct CLIInstallDatabaseTests {
    /// Runs `body` with the name of a new empty database.
    private func withEmptyDatabase(_ body: (String) throws -> Void) throws {
        let name = "httpq_cli_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try TestDatabase.connect()
        _ = try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        try body(name)
    }

    @Test("Install creates the extension, and a second run says it is already installed")
    func installTwice() throws {
        try withEmptyDatabase { name in
            let before = try CLI.run(["status"], database: "dbname=\(name)")
            #expect(before.status == 2)
            #expect(before.errorLines == ["httpq: httpq is not installed in this database: run `httpq install` "
                                              + "(or `httpq install --plain` where extensions are not allowed)"])

            let first = try CLI.run(["install"], database: "dbname=\(name)")
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout == "installed httpq \(InstallScript.version)\n")
            let second = try CLI.run(["install"], database: "dbname=\(name)")
            #expect(second.status == 0)
            #expect(second.stdout == "httpq \(InstallScript.version) is already installed\n")

            let status = try CLI.run(["status"], database: "dbname=\(name)")
            #expect(status.status == 0)
        }
    }

    @Test("Install --plain applies the script without CREATE EXTENSION, once")
    func installPlain() throws {
        try withEmptyDatabase { name in
            let first = try CLI.run(["install", "--plain"], database: "dbname=\(name)")
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout == "installed httpq \(InstallScript.version) as plain SQL\n")
            let extensions = try TestDatabase.connect(url: "dbname=\(name)")
                .execute("SELECT count(*) FROM pg_extension WHERE extname = 'httpq'").scalar
            #expect(extensions == "0")

            let again = try CLI.run(["install", "--plain"], database: "dbname=\(name)")
            #expect(again.stdout.hasPrefix("httpq is already installed as plain SQL"))
            let id = try CLI.run(["enqueue", "https://example.com/", "--channel", "plain"], database: "dbname=\(name)")
            #expect(id.status == 0, "\(id.stderr)")
        }
    }
}
