import ArgumentParser
import HTTPQ

extension Database {
    /// Connects as `--database`, `DATABASE_URL` or libpq's `PG*` variables say, or ends the
    /// command with one line naming the problem.
    static func open(_ options: DatabaseOptions) throws -> Database {
        let config = try Config.database(options)
        do {
            return try Database(config: config)
        } catch {
            throw Failure.exit(error)
        }
    }

    /// Runs one statement (see `query`); on failure the command ends with the server's message
    /// and hint on one line. Warnings the statement raised go to standard error either way.
    func rows(_ statement: String, _ parameters: [String?] = []) throws -> [[String?]] {
        defer { takeWarnings().forEach(Failure.warn) }
        do {
            return try query(statement, parameters)
        } catch {
            throw Failure.exit(isMissingHTTPQ(error) ? Self.notInstalled : error)
        }
    }

    /// Runs a script (see `run(script:)`), ending the command with one line on failure.
    func runScript(_ script: String) throws {
        defer { takeWarnings().forEach(Failure.warn) }
        do {
            try run(script: script)
        } catch {
            throw Failure.exit(error)
        }
    }

    /// The first column of the first row, for statements that return one value.
    func value(_ statement: String, _ parameters: [String?] = []) throws -> String? {
        try rows(statement, parameters).first?.first ?? nil
    }

    /// Whether `error` says an httpq relation, function or the schema is missing because httpq
    /// is not installed in this database (rather than, say, older than the command expects).
    private func isMissingHTTPQ(_ error: PostgresError) -> Bool {
        // 3F000 invalid_schema_name, 42P01 undefined_table, 42883 undefined_function
        guard case .query(let sqlState, let message, _, _) = error, ["3F000", "42P01", "42883"].contains(sqlState),
              message.contains("httpq")
        else { return false }
        return (try? query("SELECT to_regnamespace('httpq') IS NULL").first?.first) == "t"
    }

    /// What `Failure.exit` reports as "httpq is not installed in this database".
    static let notInstalled = PostgresError.query(sqlState: "3F000", message: "schema \"httpq\" does not exist",
                                                  detail: nil, hint: nil)
}

extension Config {
    /// Where `--database`, `DATABASE_URL` or libpq's `PG*` variables say to connect, or ends
    /// the command with one line naming the problem.
    static func database(_ options: DatabaseOptions) throws -> Config {
        do {
            var flags: [String: String] = [:]
            flags[Setting.database.flag] = options.database
            // Only the database's variables: a worker setting such as HTTPQ_LEASE is no concern here.
            let environment = ProcessEnvironment.current().filter {
                $0.key == Setting.database.variable || $0.key.hasPrefix("PG")
            }
            return try Config(environment: environment, flags: flags)
        } catch {
            throw Failure.exit("\(error)", Failure.configuration)
        }
    }
}

extension Failure {
    /// Ends a command that the database refused: the server's message and its hint, on one line.
    /// A database without httpq and an unreachable database cannot start a command (exit 2);
    /// anything else the server refused exits 1.
    static func exit(_ error: PostgresError) -> ExitCode {
        switch error {
        case .connection(let message):
            return exit("cannot connect to the database: \(message) (set --database or DATABASE_URL, "
                            + "or libpq's PGHOST, PGPORT, PGUSER and PGDATABASE)", configuration)
        case Database.notInstalled:
            return exit("httpq is not installed in this database: run `httpq install` "
                            + "(or `httpq install --plain` where extensions are not allowed)", configuration)
        case .query(let sqlState, let message, _, let hint) where sqlState == "42501":
            return exit(message + "; " + (hint ?? "a DBA grants it: see Privileges in the README"), ExitCode.failure)
        case .query(_, let message, _, let hint):
            return exit(message + (hint.map { "; " + $0 } ?? ""), ExitCode.failure)
        }
    }

    /// Writes one warning line to standard error and carries on.
    static func warn(_ message: String) {
        writeLine("httpq: warning: \(message)")
    }
}
