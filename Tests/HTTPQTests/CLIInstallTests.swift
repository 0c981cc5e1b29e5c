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
                "sql/ has \(names.count) files, InstallScript.parts \(InstallScript.parts.count)")
        var expected = Data()
        for name in names {
            expected += try Data(contentsOf: Self.sqlDirectory.appendingPathComponent(name))
        }
        let run = try CLI.run(["sql"], database: nil)
        #expect(run.status == 0)
        #expect(Array(run.stdout.utf8) == Array(expected))
    }

    @Test("The embedded version is the control file's default_version")
    func embeddedVersion() throws {
        let control = try String(contentsOf: Self.sqlDirectory.deletingLastPathComponent()
            .appendingPathComponent("extension/httpq.control"), encoding: .utf8)
        #expect(control.contains("default_version = '\(InstallScript.version)'"))
    }

    @Test("Every upgrade script in extension/ is carried, byte for byte, under its versions")
    func upgradeScriptsMatchSources() throws {
        let directory = Self.sqlDirectory.deletingLastPathComponent().appendingPathComponent("extension")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("httpq--") && $0.hasSuffix(".sql") && $0.components(separatedBy: "--").count == 3 }
            .sorted()
        let carried = InstallScript.upgrades.map { "httpq--\($0.from)--\($0.to).sql" }.sorted()
        #expect(carried == names, "extension/ has \(names), InstallScript.upgrades \(carried)")
        for upgrade in InstallScript.upgrades {
            let file = try Data(contentsOf: directory.appendingPathComponent("httpq--\(upgrade.from)--\(upgrade.to).sql"))
            #expect(Array(upgrade.text.utf8) == Array(file), "httpq--\(upgrade.from)--\(upgrade.to).sql differs from the file")
        }
    }

    @Test("The upgrade scripts lead from 0.1.0 to the embedded version; none from an unknown version")
    func upgradePath() throws {
        let path = try #require(InstallScript.upgradePath(from: "0.1.0"))
        #expect(path.first?.from == "0.1.0")
        #expect(path.last?.to == InstallScript.version)
        #expect(zip(path, path.dropFirst()).allSatisfy { $0.to == $1.from })
        #expect(InstallScript.upgradePath(from: InstallScript.version)?.isEmpty == true)
        #expect(InstallScript.upgradePath(from: "0.0.9") == nil)
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

            let version = try TestDatabase.connect(url: "dbname=\(name)").execute("SELECT httpq.version()").scalar
            #expect(version == InstallScript.version)

            let again = try CLI.run(["install", "--plain"], database: "dbname=\(name)")
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout == "httpq \(InstallScript.version) is already installed as plain SQL\n")
            let id = try CLI.run(["enqueue", "https://example.com/", "--channel", "plain"], database: "dbname=\(name)")
            #expect(id.status == 0, "\(id.stderr)")
        }
    }

    @Test("Install --plain upgrades a plain 0.1.0 install in place, keeping its requests, once")
    func upgradePlain() throws {
        try withEmptyDatabase { name in
            let released = try String(contentsOf: Self.extensionDirectory.appendingPathComponent("httpq--0.1.0.sql"),
                                      encoding: .utf8)
            try Self.open(name).run(script: released)
            let database = try TestDatabase.connect(url: "dbname=\(name)")
            let id = try database.enqueue(url: "https://example.com/", channel: "plain")

            let upgrade = try CLI.run(["install", "--plain"], database: "dbname=\(name)")
            #expect(upgrade.status == 0, "\(upgrade.stderr)")
            #expect(upgrade.stdout == "updated httpq 0.1.0 -> \(InstallScript.version) as plain SQL\n")
            #expect(try database.execute("SELECT httpq.version()").scalar == InstallScript.version)
            #expect(try database.request(id).state == "waiting")

            // Without --plain too: the kind of install there decides, not the flag.
            let again = try CLI.run(["install"], database: "dbname=\(name)")
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout == "httpq \(InstallScript.version) is already installed as plain SQL\n")
        }
    }

    @Test("An upgrade the script refuses leaves the plain install as it was, and says why on one line")
    func refusedUpgrade() throws {
        try withEmptyDatabase { name in
            let released = try String(contentsOf: Self.extensionDirectory.appendingPathComponent("httpq--0.1.0.sql"),
                                      encoding: .utf8)
            try Self.open(name).run(script: released)
            let database = try TestDatabase.connect(url: "dbname=\(name)")
            // A version marker that claims 0.1.0, which has none: the script's guard refuses it.
            _ = try database.execute(
                "CREATE FUNCTION httpq.version() RETURNS text LANGUAGE sql AS $$ SELECT '0.1.0'::text $$")
            let before = try database.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = 'httpq'::regnamespace")
                .scalar

            let upgrade = try CLI.run(["install", "--plain"], database: "dbname=\(name)")
            #expect(upgrade.status == 1)
            #expect(upgrade.errorLines.count == 1)
            #expect(upgrade.stderr.contains("this script upgrades 0.1.0"), "\(upgrade.stderr)")
            #expect(try database.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = 'httpq'::regnamespace")
                        .scalar == before)
            #expect(try database.execute("SELECT httpq.version()").scalar == "0.1.0")
        }
    }

    @Test("Install updates an extension installed at 0.1.0 with ALTER EXTENSION, and says so")
    func upgradeExtension() throws {
        try withEmptyDatabase { name in
            let database = try TestDatabase.connect(url: "dbname=\(name)")
            _ = try database.execute("CREATE EXTENSION httpq VERSION '0.1.0'")
            let id = try database.enqueue(url: "https://example.com/", channel: "extension")

            let upgrade = try CLI.run(["install"], database: "dbname=\(name)")
            #expect(upgrade.status == 0, "\(upgrade.stderr)")
            #expect(upgrade.stdout == "updated httpq 0.1.0 -> \(InstallScript.version)\n")
            #expect(try database.execute("SELECT extversion FROM pg_extension WHERE extname = 'httpq'").scalar
                        == InstallScript.version)
            #expect(try database.execute("SELECT httpq.version()").scalar == InstallScript.version)
            #expect(try database.request(id).state == "waiting")
        }
    }

    @Test("Install --plain uses an empty schema httpq its role owns")
    func emptySchema() throws {
        try withEmptyDatabase { name in
            _ = try TestDatabase.connect(url: "dbname=\(name)").execute("CREATE SCHEMA httpq")
            let run = try CLI.run(["install", "--plain"], database: "dbname=\(name)")
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout == "installed httpq \(InstallScript.version) as plain SQL\n")
        }
    }

    @Test("Install --plain refuses a schema httpq holding other objects, names them and leaves them alone")
    func foreignSchema() throws {
        try withEmptyDatabase { name in
            let database = try TestDatabase.connect(url: "dbname=\(name)")
            _ = try database.execute("CREATE SCHEMA httpq")
            _ = try database.execute("CREATE TABLE httpq.notes (note text)")
            let run = try CLI.run(["install", "--plain"], database: "dbname=\(name)")
            #expect(run.status == 1)
            #expect(run.errorLines == ["httpq: schema httpq already holds table httpq.notes, which httpq did not "
                                           + "create: a plain install uses only an empty schema; Rename that schema "
                                           + "(ALTER SCHEMA httpq RENAME TO ...) or drop it, then install again."])
            #expect(try database.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'httpq'::regnamespace")
                        .scalar == "1")
        }
    }

    @Test("Install --plain refuses a schema httpq another role owns, naming the role")
    func otherOwnersSchema() throws {
        // Dropped after the database that holds its schema.
        let role = "httpq_other_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try TestDatabase.connect()
        _ = try admin.execute("CREATE ROLE \(role)")
        defer { _ = try? admin.execute("DROP ROLE IF EXISTS \(role)") }
        try withEmptyDatabase { name in
            _ = try TestDatabase.connect(url: "dbname=\(name)").execute("CREATE SCHEMA httpq AUTHORIZATION \(role)")
            let me = try admin.execute("SELECT current_user").scalar ?? ""
            let run = try CLI.run(["install", "--plain"], database: "dbname=\(name)")
            #expect(run.status == 1)
            #expect(run.errorLines == ["httpq: schema httpq belongs to role \(role), but \(me) is installing httpq: "
                                           + "a plain install uses only a schema the installing role owns; Install as "
                                           + "role \(role), or have that role run ALTER SCHEMA httpq OWNER TO \(me)."])
        }
    }

    /// The repository's extension/ folder, found from this file's path.
    private static let extensionDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("extension")

    /// A connection to database `name` that runs scripts of many statements.
    private static func open(_ name: String) throws -> Database {
        try Database(config: Config(environment: ProcessInfo.processInfo.environment, flags: ["database": "dbname=\(name)"]))
    }
}
