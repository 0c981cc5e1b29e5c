/// The worker's side of the database: the connection when there is one, reconnecting without
/// blocking the loop (host names are resolved on a thread of their own), and the single
/// statement in flight.
///
/// `service` is called every turn; it moves the connection forward and reports what happened
/// as events. Not thread-safe: used only by the worker loop.
final class DatabaseLink {
    enum State {
        /// No connection; the next attempt is due at `retryAt`.
        case down(retryAt: Instant)
        /// Resolving host names off the loop, then connecting to each server in turn without blocking.
        case connecting(ConnectAttempt)
        case ready(Connection)
    }

    /// The statement in flight, when it was sent, and whether all of it has left the buffer.
    struct InFlight {
        var query: DatabaseQuery
        var sentAt: Instant
        var flushed: Bool
    }

    enum Event {
        /// A reconnect succeeded: the new connection is usable.
        case connected
        /// A connection attempt failed; the next is due at `retryAt`.
        case connectFailed(PostgresError, retryAt: Instant)
        /// The connection broke, with `inFlight` unanswered (it may or may not have run).
        case lost(PostgresError, inFlight: DatabaseQuery?, retryAt: Instant)
        /// The statement in flight finished.
        case completed(DatabaseQuery, sentAt: Instant, Result<QueryResult, PostgresError>)
        /// NOTIFYs arrived.
        case notified(count: Int)
        /// The server sent a notice (RAISE NOTICE, WARNING, ...) during the statement.
        case notice(ServerNotice)
    }

    private let resolver: HostResolver
    /// Overrides the settings' `connect_timeout` for each server (tests); nil to use it.
    private let connectTimeout: Duration?
    private var backoff = ReconnectBackoff()
    /// Where every connection of this link sends its notices.
    private let notices = NoticeInbox()
    private(set) var state: State
    private(set) var inFlight: InFlight?

    /// Starts with a connection made by `Worker.start`. `lookUp` resolves a host name when
    /// reconnecting, and `connectTimeout` overrides the settings' (tests replace both).
    init(
        connection: Connection, parameters: ConnectionParameters,
        lookUp: @escaping HostResolver.LookUp = HostAddresses.lookUp,
        connectTimeout: Duration? = nil
    ) throws(PostgresError) {
        try connection.enterNonBlockingMode()
        self.resolver = HostResolver(parameters: parameters, lookUp: lookUp)
        self.connectTimeout = connectTimeout
        self.state = .ready(connection)
        notices.receive(from: connection)
    }

    /// Whether the connection is up (a statement may be in flight).
    var isConnected: Bool {
        if case .ready = state { return true }
        return false
    }

    /// Whether a statement can be sent now.
    var isIdle: Bool {
        if case .ready = state, inFlight == nil { return true }
        return false
    }

    /// What to wait for on the database socket this turn.
    var waitDescriptor: WaitDescriptor? {
        switch state {
        case .down:
            return nil
        case .connecting(let attempt):
            return attempt.waitDescriptor
        case .ready(let connection):
            // While output is pending libpq may also need to read (the server can be waiting
            // for us to take its output before it accepts more), so always wait to read too.
            return WaitDescriptor(fd: connection.socket, read: true, write: inFlight?.flushed == false)
        }
    }

    /// When the link needs a turn without socket activity.
    var deadline: Instant? {
        switch state {
        case .down(let retryAt): return retryAt
        case .connecting(let attempt): return attempt.deadline
        case .ready: return nil
        }
    }

    /// Sends `query`; a failure to send counts as a lost connection.
    func send(_ query: DatabaseQuery, identity: WorkerIdentity, now: Instant) -> [Event] {
        guard case .ready(let connection) = state, inFlight == nil else { return [] }
        let (sql, parameters) = query.statement(identity)
        do {
            try connection.send(sql, parameters)
            inFlight = InFlight(query: query, sentAt: now, flushed: false)
            return try pump(connection, readable: false)
        } catch {
            inFlight = inFlight ?? InFlight(query: query, sentAt: now, flushed: false)
            return [lose(error, now: now)]
        }
    }

    /// Moves the connection forward after a wait; `ready` is the socket's readiness.
    func service(now: Instant, ready: Bool) -> [Event] {
        switch state {
        case .down(let retryAt):
            return now >= retryAt ? startConnecting(now: now) : []
        case .connecting(let attempt):
            return advance(attempt, now: now, ready: ready)
        case .ready(let connection):
            do {
                return try pump(connection, readable: ready)
            } catch {
                return [lose(error, now: now)]
            }
        }
    }

    // MARK: - Connecting

    private func startConnecting(now: Instant) -> [Event] {
        do {
            let attempt = try ConnectAttempt(resolver: resolver, now: now, timeout: connectTimeout)
            state = .connecting(attempt)
            return advance(attempt, now: now, ready: false)
        } catch {
            return [connectFailed(error, now: now)]
        }
    }

    private func advance(_ attempt: ConnectAttempt, now: Instant, ready: Bool) -> [Event] {
        switch attempt.advance(now: now, ready: ready) {
        case .waiting:
            return []
        case .connected(let connection):
            do {
                try connection.enterNonBlockingMode()
            } catch {
                return [connectFailed(error, now: now)]
            }
            backoff.succeeded()
            state = .ready(connection)
            notices.receive(from: connection)
            return [.connected]
        case .failed(let error):
            return [connectFailed(error, now: now)]
        }
    }

    private func connectFailed(_ error: PostgresError, now: Instant) -> Event {
        let retryAt = backoff.failed(now: now)
        state = .down(retryAt: retryAt)
        return .connectFailed(error, retryAt: retryAt)
    }

    // MARK: - Statements and notifications

    /// Flushes pending output, reads what arrived, and collects the notices raised, a finished
    /// result and any NOTIFYs.
    /// A break noticed after a result arrived still delivers that result first.
    private func pump(_ connection: Connection, readable: Bool) throws(PostgresError) -> [Event] {
        if var current = inFlight, !current.flushed {
            current.flushed = try connection.flush()
            inFlight = current
        }
        guard readable else { return [] }
        try connection.consumeInput()
        var completed: Event?
        if let current = inFlight {
            do {
                if let result = try connection.takeResult() {
                    inFlight = nil
                    completed = .completed(current.query, sentAt: current.sentAt, .success(result))
                }
            } catch .query(let sqlState, let message, let detail, let hint) {
                inFlight = nil
                let error = PostgresError.query(sqlState: sqlState, message: message, detail: detail, hint: hint)
                completed = .completed(current.query, sentAt: current.sentAt, .failure(error))
            }
        }
        // Notices first: they were raised while the statement ran.
        var events: [Event] = notices.take().map(Event.notice)
        if let completed { events.append(completed) }
        let notifications = connection.notifications()
        if !notifications.isEmpty {
            events.append(.notified(count: notifications.count))
        }
        if connection.isBroken {
            events.append(lose(.connection(message: connection.errorMessage), now: ContinuousClock.now))
        }
        return events
    }

    private func lose(_ error: PostgresError, now: Instant) -> Event {
        let unanswered = inFlight?.query
        inFlight = nil
        let retryAt = backoff.failed(now: now)
        state = .down(retryAt: retryAt)  // drops the Connection: PQfinish
        return .lost(error, inFlight: unanswered, retryAt: retryAt)
    }
}

@available(*, unavailable)
extension DatabaseLink: Sendable {}
