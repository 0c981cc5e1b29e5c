internal import CLibPQ

/// One libpq connection (`PGconn`), freed with `PQfinish` in `deinit` whatever its state.
///
/// Not thread-safe: used only by the thread that made it (the worker loop, or a command).
final class Connection {
    let handle: OpaquePointer
    /// The result being collected by `takeResult` while more input is awaited (non-blocking mode).
    var collected: Result<QueryResult, PostgresError>?

    private init(handle: OpaquePointer) {
        self.handle = handle
        // Server notices (NOTICE, WARNING) would otherwise go to stderr between our log lines.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    deinit {
        PQfinish(handle)
    }

    /// Connects, blocking until the connection is made or has failed.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PQCONNECTDBPARAMS
    static func open(_ parameters: ConnectionParameters) throws(PostgresError) -> Connection {
        let connection = try make(parameters, PQconnectdbParams)
        guard PQstatus(connection.handle) == CONNECTION_OK else {
            throw .connection(message: connection.errorMessage)
        }
        return connection
    }

    /// Starts connecting without blocking; wait for `socket` to be writable, then drive it
    /// with `pollConnect()`.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PQCONNECTSTARTPARAMS
    static func start(_ parameters: ConnectionParameters) throws(PostgresError) -> Connection {
        let connection = try make(parameters, PQconnectStartParams)
        guard PQstatus(connection.handle) != CONNECTION_BAD else {
            throw .connection(message: connection.errorMessage)
        }
        return connection
    }

    private typealias Connect = (
        UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?, Int32
    ) -> OpaquePointer?

    private static func make(_ parameters: ConnectionParameters, _ connect: Connect) throws(PostgresError) -> Connection
    {
        let pairs = parameters.pairs
        let handle = withCStrings(pairs.map(\.0) + [nil]) { keywords in
            withCStrings(pairs.map(\.1) + [nil]) { values in
                connect(keywords, values, 1)
            }
        }
        guard let handle else {
            throw .connection(message: "libpq could not allocate a connection (out of memory)")
        }
        return Connection(handle: handle)
    }

    /// What a non-blocking connect needs next.
    enum ConnectProgress: Equatable {
        case waitingToRead
        case waitingToWrite
        case ready
        case failed(PostgresError)
    }

    /// Advances a connection begun with `start`. Call it only once `socket` is ready for what
    /// the last call asked (writable before the first call), then wait again: called early,
    /// libpq takes a TCP connect still under way for made and sends its startup packet on a
    /// socket that is not ready, waiting on it with no timeout.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PQCONNECTSTARTPARAMS
    func pollConnect() -> ConnectProgress {
        switch PQconnectPoll(handle) {
        case PGRES_POLLING_READING: return .waitingToRead
        case PGRES_POLLING_WRITING: return .waitingToWrite
        case PGRES_POLLING_OK: return .ready
        default: return .failed(.connection(message: errorMessage))
        }
    }

    /// The socket to wait on. It can change while connecting and after a reconnect, so read it each turn.
    var socket: Int32 {
        PQsocket(handle)
    }

    /// The server being connected to, as libpq's messages name it: `server at "host"
    /// (address), port 5432` or `server on socket "/dir/.s.PGSQL.5432"`.
    var server: String {
        func text(_ value: UnsafeMutablePointer<CChar>?) -> String {
            value.map { String(cString: $0) } ?? ""
        }
        let host = text(PQhost(handle))
        let address = text(PQhostaddr(handle))
        let port = text(PQport(handle))
        if host.hasPrefix("/") || host.hasPrefix("@") {
            return "server on socket \"\(host)/.s.PGSQL.\(port)\""
        }
        let shown = address.isEmpty || address == host ? "\"\(host)\"" : "\"\(host)\" (\(address))"
        return "server at \(shown), port \(port)"
    }

    /// Whether libpq has seen the connection break.
    var isBroken: Bool {
        PQstatus(handle) == CONNECTION_BAD
    }

    /// libpq's last error message on this connection, on one line.
    var errorMessage: String {
        let message = trimmed(String(cString: PQerrorMessage(handle)))
        return message.isEmpty ? "the connection to the database was lost" : message
    }

    /// Runs one statement and waits for its result (blocking mode only), parameters in text format.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-exec.html#LIBPQ-PQEXECPARAMS
    func execute(_ statement: String, _ parameters: [String?] = []) throws(PostgresError) -> QueryResult {
        let result = withCStrings(parameters) { values in
            PQexecParams(handle, statement, Int32(values.count), nil, values, nil, nil, 0)
        }
        guard let result else {
            throw .connection(message: errorMessage)
        }
        return try QueryResult.consume(result)
    }
}

@available(*, unavailable)
extension Connection: Sendable {}
