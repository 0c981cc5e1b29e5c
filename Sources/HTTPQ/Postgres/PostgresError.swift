/// What went wrong talking to Postgres, carrying what the worker needs to decide its next step.
///
/// Descriptions never include the connection string: libpq's messages name the host, port
/// and user, never the password.
public enum PostgresError: Error, Equatable, CustomStringConvertible {
    /// The connection could not be made, or broke; reconnecting may help.
    case connection(message: String)
    /// The server rejected a statement. `sqlState` is the five-character SQLSTATE code.
    case query(sqlState: String, message: String, detail: String?, hint: String?)

    public var description: String {
        switch self {
        case .connection(let message):
            return message
        case .query(let sqlState, let message, let detail, let hint):
            var text = "\(message) (SQLSTATE \(sqlState))"
            if let detail { text += "; \(detail)" }
            if let hint { text += "; hint: \(hint)" }
            return text
        }
    }

    /// Whether the same statement may succeed when sent again: a broken connection, or a
    /// server-side condition that passes (serialization failure, deadlock, shutdown, overload).
    var isTransient: Bool {
        switch self {
        case .connection:
            return true
        case .query(let sqlState, _, _, _):
            // 08: connection exception, 40: transaction rollback, 53: insufficient resources,
            // 57P: operator intervention (shutdown, crash), 57014: statement canceled (a
            // statement_timeout or pg_cancel_backend), 55P03: lock not available.
            return sqlState.hasPrefix("08") || sqlState.hasPrefix("40") || sqlState.hasPrefix("53")
                || sqlState.hasPrefix("57P") || sqlState == "57014" || sqlState == "55P03"
        }
    }
}
