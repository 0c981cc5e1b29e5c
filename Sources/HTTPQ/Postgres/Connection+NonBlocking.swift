internal import CLibPQ

/// The non-blocking query protocol used by the worker loop: send, flush, consume, collect.
///
/// One statement is in flight at a time. The loop waits on `socket` for reading, and also for
/// writing while `flush()` reports unsent data.
extension Connection {
    /// Puts the connection in non-blocking mode, so sending never waits on the network.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-async.html#LIBPQ-PQSETNONBLOCKING
    func enterNonBlockingMode() throws(PostgresError) {
        guard PQsetnonblocking(handle, 1) == 0 else {
            throw .connection(message: errorMessage)
        }
    }

    /// Queues one statement with text parameters; call `flush()` until it returns true.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-async.html#LIBPQ-PQSENDQUERYPARAMS
    func send(_ statement: String, _ parameters: [String?]) throws(PostgresError) {
        collected = nil
        let sent = withCStrings(parameters) { values in
            PQsendQueryParams(handle, statement, Int32(values.count), nil, values, nil, nil, 0)
        }
        guard sent == 1 else {
            throw .connection(message: errorMessage)
        }
    }

    /// Pushes queued output to the server. Returns true when everything is sent; false means
    /// wait until the socket is writable (and readable: the server may need us to read first).
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-async.html#LIBPQ-PQFLUSH
    func flush() throws(PostgresError) -> Bool {
        switch PQflush(handle) {
        case 0: return true
        case 1: return false
        default: throw .connection(message: errorMessage)
        }
    }

    /// Reads whatever the server has sent, without blocking.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-async.html#LIBPQ-PQCONSUMEINPUT
    func consumeInput() throws(PostgresError) {
        guard PQconsumeInput(handle) == 1 else {
            throw .connection(message: errorMessage)
        }
    }

    /// The result of the statement in flight once all of it has arrived, nil while more input
    /// is needed. Throws the statement's error (or the connection's) when it failed.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-async.html#LIBPQ-PQGETRESULT
    func takeResult() throws(PostgresError) -> QueryResult? {
        while PQisBusy(handle) == 0 {
            guard let result = PQgetResult(handle) else {
                defer { collected = nil }
                guard let outcome = collected else {
                    throw .connection(message: errorMessage)
                }
                return try outcome.get()
            }
            // Keep the first failure: a later result cannot make the statement succeed.
            let next = Result { () throws(PostgresError) in try QueryResult.consume(result) }
            if case .success = collected ?? .success(QueryResult(rows: [])) {
                collected = next
            }
        }
        return nil
    }

    /// Every notification received so far; call after `consumeInput()`.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-notify.html
    func notifications() -> [Notification] {
        var received: [Notification] = []
        while let notify = PQnotifies(handle) {
            defer { PQfreemem(notify) }
            received.append(
                Notification(
                    channel: String(cString: notify.pointee.relname),
                    payload: String(cString: notify.pointee.extra)))
        }
        return received
    }
}
