import ArgumentParser
import HTTPQ

/// `httpq install`: CREATE EXTENSION httpq, ALTER EXTENSION httpq UPDATE, or the plain script.
struct InstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install httpq in the database, or update it.",
        discussion: """
            Runs CREATE EXTENSION httpq, or ALTER EXTENSION httpq UPDATE when the installed \
            version is older than the one the server's extension files offer, and says which. \
            The extension files must be on the database server (`make install` there). Where \
            custom extensions are not allowed, --plain applies the same SQL as a plain script \
            (see `httpq sql`). A plain install of an older version is upgraded with the upgrade \
            scripts this binary carries, in order, in one transaction.
            """
    )

    @OptionGroup var connection: DatabaseOptions

    @Flag(help: """
        Apply the install script as plain SQL instead of CREATE EXTENSION, for managed Postgres \
        services that do not allow custom extensions. When httpq is installed as plain SQL \
        already, upgrades it to this binary's version, or does nothing when it is that version.
        """)
    var plain = false

    func run() throws {
        let database = try Database.open(connection)
        // A plain install is found in the catalogs, as the script's first statement finds it:
        // to_regclass would need USAGE on a schema httpq that may be another role's.
        let found = try database.rows("""
            SELECT (SELECT extversion FROM pg_extension WHERE extname = 'httpq'),
                   (SELECT default_version FROM pg_available_extensions WHERE name = 'httpq'),
                   EXISTS (SELECT FROM pg_proc WHERE pronamespace = to_regnamespace('httpq')
                                                 AND proname = 'version' AND pronargs = 0)
                   OR EXISTS (SELECT FROM pg_class WHERE relnamespace = to_regnamespace('httpq')
                                                     AND relname = 'request')
            """)[0]
        let installed = found[0], available = found[1], installedPlain = found[2] == "t"

        if let installed {
            guard let available, Self.isVersion(installed, olderThan: available) else {
                say("httpq \(installed) is already installed")
                return
            }
            _ = try database.rows("ALTER EXTENSION httpq UPDATE")
            let updated = try database.value("SELECT extversion FROM pg_extension WHERE extname = 'httpq'")
            say("updated httpq \(installed) -> \(updated ?? available)")
        } else if installedPlain {
            try updatePlain(database)
        } else if plain {
            // An existing schema httpq is used only when it is empty and this role's; the
            // script's first statement refuses any other, saying why.
            try database.runScript(InstallScript.text)
            say("installed httpq \(InstallScript.version) as plain SQL")
        } else {
            try createExtension(database)
            let version = try database.value("SELECT extversion FROM pg_extension WHERE extname = 'httpq'")
            say("installed httpq \(version ?? "")")
        }
    }

    /// Brings a plain install up to this binary's version: the upgrade scripts from its version
    /// on, in order, in one transaction, so an upgrade that fails leaves the install as it was.
    private func updatePlain(_ database: Database) throws {
        _ = try database.rows("BEGIN")
        // A second `httpq install` waits here, then finds the upgrade done.
        _ = try database.rows("SELECT pg_advisory_xact_lock(hashtext('httpq install'))")
        let installed = try Self.plainVersion(database)
        guard Self.isVersion(installed, olderThan: InstallScript.version) else {
            _ = try database.rows("ROLLBACK")
            say("httpq \(installed) is already installed as plain SQL")
            return
        }
        guard let steps = InstallScript.upgradePath(from: installed) else {
            throw Failure.exit("httpq \(installed) is installed as plain SQL, and this binary (httpq "
                                   + "\(InstallScript.version)) has no upgrade scripts from it: upgrade with "
                                   + "an httpq binary of each release in between", ExitCode.failure)
        }
        for step in steps {
            try database.runScript(step.text)
        }
        _ = try database.rows("COMMIT")
        say("updated httpq \(installed) -> \(InstallScript.version) as plain SQL")
    }

    /// The version of a plain install: what httpq.version() says, and 0.1.0, which has no such
    /// function, when the queue's tables are there without it.
    static func plainVersion(_ database: Database) throws -> String {
        let found = try database.rows("""
            SELECT to_regprocedure('httpq.version()') IS NOT NULL, to_regclass('httpq.request') IS NOT NULL
            """)[0]
        if found[0] == "t" {
            return try database.value("SELECT httpq.version()") ?? "unknown"
        }
        guard found[1] == "t" else {
            throw Failure.exit("schema httpq exists but holds no httpq install: drop it, or install into "
                                   + "another database", Failure.configuration)
        }
        return "0.1.0"
    }

    private func createExtension(_ database: Database) throws {
        do {
            _ = try database.query("CREATE EXTENSION IF NOT EXISTS httpq")
        } catch .query(let sqlState, let message, let detail, _)
                    where sqlState == "58P01" || (sqlState == "0A000" && message.hasSuffix("is not available")) {
            // No httpq.control on the server: 58P01 "could not open extension control file ...",
            // or in newer minor releases 0A000 "extension "httpq" is not available".
            throw Failure.exit("the httpq extension files are not installed on the database server ("
                                   + (detail ?? message) + "): run `make install` on the database host, "
                                   + "or use `httpq install --plain`", Failure.configuration)
        } catch {
            throw Failure.exit(error)
        }
    }

    /// Whether dotted version `version` comes before `other`, comparing numbers as numbers.
    static func isVersion(_ version: String, olderThan other: String) -> Bool {
        let left = version.split(separator: "."), right = other.split(separator: ".")
        for (a, b) in zip(left, right) where a != b {
            if let a = Int(a), let b = Int(b) { return a < b }
            return a < b
        }
        return left.count < right.count
    }
}
