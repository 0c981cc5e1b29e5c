/// Opening the first connection and checking that the database can serve a worker.
enum Startup {
    /// The functions the worker calls; `maintain` only when it runs maintenance, so a role
    /// without it can deliver while cron runs `httpq.maintain()`.
    static func functions(maintenance: Bool) -> [String] {
        ["claim", "report", "heartbeat", "release", "next_run_at", "idle", "busy"] + (maintenance ? ["maintain"] : [])
    }

    /// Connects (blocking) and checks the extension is installed and usable by this role.
    static func connect(_ parameters: ConnectionParameters, maintenance: Bool) throws(StartupError) -> Connection {
        let functions = functions(maintenance: maintenance)
        let connection: Connection
        let rows: [[String?]]
        do {
            connection = try Connection.open(parameters)
            rows = try connection.execute(
                """
                SELECT current_database(), f.name, p.oid IS NOT NULL,
                       coalesce(bool_or(has_function_privilege(p.oid, 'EXECUTE')), false)
                FROM unnest($1::text[]) AS f(name)
                LEFT JOIN pg_catalog.pg_proc p
                       ON p.proname = f.name AND p.pronamespace = to_regnamespace('httpq')
                GROUP BY f.name, p.oid IS NOT NULL
                """, ["{" + functions.joined(separator: ",") + "}"]
            ).rows
        } catch {
            throw .unreachable(error.description)
        }
        let database = rows.first?[0] ?? "?"
        let missing = rows.filter { $0[2] == "f" }.compactMap { $0[1] }.sorted()
        let forbidden = rows.filter { $0[2] == "t" && $0[3] == "f" }.compactMap { $0[1] }.sorted()
        if missing.count == functions.count {
            throw .extensionMissing(database: database)
        }
        if !missing.isEmpty {
            throw .functionsMissing(database: database, names: missing)
        }
        if !forbidden.isEmpty {
            throw .notPermitted(database: database, names: forbidden)
        }
        return connection
    }
}
