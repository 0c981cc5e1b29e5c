import PostgresNIO

/// What `HTTPQClient` throws.
///
/// The database decides what is valid, so `invalidInput` carries its message, which names
/// the field and the rule (`url must start with http:// or https://, got 'ftp:'...`) and
/// never quotes a header value or a URL's credentials.
public enum HTTPQClientError: Error, Sendable {
    /// The database refused a value: SQLSTATE class 22 (data exception: 22023, 22004,
    /// 22P02, ...), 23 (integrity, such as 23502), 54000 (a body over the channel's limit),
    /// or 42704 (a secret that does not exist). Nothing was enqueued.
    case invalidInput(message: String, sqlState: String)
    /// No request has this id.
    case notFound(Int64)
    /// Request `id` did not finish within the time given; it is still queued, and can be
    /// waited for again.
    case timeout(Int64)
    /// The role may not do this (42501): another tenant's channel, request or secret.
    case permissionDenied(message: String)
    /// The database refused for another reason, such as 42883 when httpq is not installed
    /// or is older than this client.
    case database(message: String, sqlState: String)
    /// The database could not be reached or the connection failed; `underlying` is
    /// PostgresNIO's error (its description never shows the query's values).
    case connection(any Error)

    /// The error for `error`, thrown by PostgresNIO (or already one of ours).
    static func from(_ error: any Error) -> HTTPQClientError {
        if let error = error as? HTTPQClientError {
            return error
        }
        guard let error = error as? PSQLError else {
            return .connection(error)
        }
        guard error.code == .server, let info = error.serverInfo, let sqlState = info[.sqlState] else {
            return .connection(error)
        }
        let message = info[.message] ?? ""
        switch sqlState {
        case "42501":
            return .permissionDenied(message: message)
        case "54000", "42704":
            return .invalidInput(message: message, sqlState: sqlState)
        case _ where sqlState.hasPrefix("22") || sqlState.hasPrefix("23"):
            return .invalidInput(message: message, sqlState: sqlState)
        default:
            return .database(message: message, sqlState: sqlState)
        }
    }
}

extension HTTPQClientError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidInput(let message, let sqlState): "invalid input: \(message) (SQLSTATE \(sqlState))"
        case .notFound(let id): "request \(id) not found"
        case .timeout(let id): "request \(id) did not finish in time; it is still queued"
        case .permissionDenied(let message): "permission denied: \(message)"
        case .database(let message, let sqlState): "\(message) (SQLSTATE \(sqlState))"
        case .connection(let underlying): "database connection failed: \(underlying)"
        }
    }
}
