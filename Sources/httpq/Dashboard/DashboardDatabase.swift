import HTTPQ
import Synchronization

/// The dashboard's connection to the database: one, shared by the server's threads one page
/// at a time (`Database` is not thread-safe), read-only, and opened again after it breaks.
final class DashboardDatabase: Sendable {
    /// How long one statement may run before the server cancels it: a page that cannot be
    /// read quickly shows an error rather than holding the connection.
    static let statementTimeout = "10s"

    private let config: Config
    /// The open connection, or nil before the first page and after it broke.
    private let connection = Mutex<Database?>(nil)

    init(config: Config) {
        self.config = config
    }

    /// Runs `body` in one read-only transaction, so the queries of a page see one snapshot.
    /// A connection found broken (the server restarted since the last page) is replaced and
    /// `body` run once more; a connection that breaks is dropped, for the next page to reopen.
    func read<Value: Sendable>(_ body: (Database) throws(PostgresError) -> Value) throws(PostgresError) -> Value {
        try connection.withLock { (open: inout Database?) throws(PostgresError) -> Value in
            guard let reused = open else {
                return try Self.transaction(try connect(), body, keeping: &open)
            }
            do throws(PostgresError) {
                return try Self.transaction(reused, body, keeping: &open)
            } catch where open == nil {
                return try Self.transaction(try connect(), body, keeping: &open)
            }
        }
    }

    /// A new connection whose session can only read, and whose statements are bounded.
    private func connect() throws(PostgresError) -> Database {
        let database = try Database(config: config)
        _ = try database.query("""
            SELECT set_config('default_transaction_read_only', 'on', false),
                   set_config('statement_timeout', $1, false),
                   set_config('application_name', 'httpq dashboard', false)
            """, [Self.statementTimeout])
        return database
    }

    /// Runs `body` between BEGIN and COMMIT on `database`, which `open` keeps unless it broke.
    private static func transaction<Value>(_ database: Database, _ body: (Database) throws(PostgresError) -> Value,
                                           keeping open: inout Database?) throws(PostgresError) -> Value {
        open = database
        do throws(PostgresError) {
            _ = try database.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            let value = try body(database)
            _ = try database.query("COMMIT")
            return value
        } catch {
            if database.isBroken {
                open = nil
            } else {
                _ = try? database.query("ROLLBACK")
            }
            throw error
        }
    }
}
