import Logging
import PostgresNIO
import ServiceLifecycle

/// httpq for an application: enqueue on the application's own connection, inside its own
/// transaction, and wait for outcomes.
///
/// Every method throws `HTTPQClientError` only. The signatures say plain `throws`: Swift
/// 6.3's compiler crashes on some `catch HTTPQClientError.timeout(let id)` clauses over a
/// typed `throws(HTTPQClientError)` call (SILGen ownership check), and such clauses are
/// how callers will want to write it.
///
/// Waiting needs `run()`: it holds one connection of the pool with `LISTEN httpq_finished`,
/// shared by every waiter. Put the client in the `ServiceGroup` after the `PostgresClient`
/// (services stop in reverse order), or run it in a task of its own.
public final class HTTPQClient: Service, Sendable {
    /// The notification channel the database announces finished requests on.
    static let channel = "httpq_finished"

    let postgres: PostgresClient
    let logger: Logger
    let waiters = Waiters()

    /// - Parameter postgres: the application's pool; `send` and `response(for:timeout:)`
    ///   lease connections from it, and `run()` holds one.
    public init(postgres: PostgresClient, logger: Logger = Logger(label: "httpq")) {
        self.postgres = postgres
        self.logger = logger
    }

    // MARK: - Enqueue

    /// Enqueues `request` on `connection`, inside whatever transaction the caller has open:
    /// if it commits, the request is delivered at least once; if it rolls back, nothing is
    /// sent. Returns the request's id (with a `dedupeKey` that matches an unfinished request,
    /// that request's id).
    public func enqueue(_ request: HTTPQRequest, on connection: PostgresConnection) async throws
        -> Int64
    {
        do {
            let rows = try await connection.query(try EnqueueStatement.one(request), logger: logger)
            for try await id in rows.decode(Int64.self) {
                return id
            }
        } catch {
            throw HTTPQClientError.from(error)
        }
        throw HTTPQClientError.database(message: "httpq.enqueue returned no id", sqlState: "")
    }

    /// Enqueues all of `requests` or none, in one statement (`httpq.enqueue_many`), on
    /// `connection` inside the caller's transaction; returns their ids in order.
    public func enqueueMany(_ requests: [HTTPQRequest], on connection: PostgresConnection)
        async throws -> [Int64]
    {
        guard !requests.isEmpty else { return [] }
        do {
            var ids: [Int64] = []
            ids.reserveCapacity(requests.count)
            let rows = try await connection.query(try EnqueueStatement.many(requests), logger: logger)
            for try await id in rows.decode(Int64.self) {
                ids.append(id)
            }
            return ids
        } catch {
            throw HTTPQClientError.from(error)
        }
    }

    // MARK: - Outcomes

    /// Waits until request `id` finishes (delivered, dead or canceled) and returns its outcome,
    /// at once if it has finished already.
    ///
    /// Needs `run()`. Only requests enqueued with `notify: true` announce that they
    /// finished; another request is seen only when the wait starts or the listening
    /// connection comes back. Throws `.timeout(id)` when it has not finished within `timeout`
    /// (it stays queued), `.notFound(id)` for an id that does not exist or is another
    /// tenant's, and `.connection(CancellationError())` when the calling task is cancelled.
    public func response(for id: Int64, timeout: Duration = .seconds(30)) async throws
        -> HTTPQOutcome
    {
        let waiters = self.waiters
        let (token, listening) = await waiters.register(id)
        do {
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Task.sleep(for: timeout)
                    await waiters.resolve(token: token, .failure(HTTPQClientError.timeout(id)))
                }
                defer { group.cancelAll() }
                if listening {
                    // A notification sent before this waiter was registered reached no one.
                    await check([id], reader: pooled, owner: token)
                }
                return try await withTaskCancellationHandler {
                    try await waiters.result(token)
                } onCancel: {
                    Task { await waiters.resolve(token: token, .failure(CancellationError())) }
                }
            }
        } catch {
            throw HTTPQClientError.from(error)
        }
    }

    /// Enqueues `request` on a connection of the pool, committed at once, with `notify` set,
    /// and waits for its outcome. The request is durable before the wait starts: if the
    /// caller goes away or the wait times out (`.timeout(id)`), it is still delivered.
    public func send(_ request: HTTPQRequest, timeout: Duration = .seconds(30)) async throws
        -> HTTPQOutcome
    {
        var request = request
        request.notify = true
        let id: Int64
        do {
            id = try await postgres.withConnection { connection in
                try await enqueue(request, on: connection)
            }
        } catch {
            throw HTTPQClientError.from(error)
        }
        return try await response(for: id, timeout: timeout)
    }

    // MARK: - Listening

    /// Holds one connection of the pool with `LISTEN httpq_finished` and resolves waiters
    /// as their requests finish; reconnects after a failure, with delays up to 5 seconds.
    /// Returns on graceful shutdown or cancellation, failing the waiters left.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var delay = Duration.milliseconds(100)
            while !Task.isCancelled {
                do {
                    try await self.listen { delay = .milliseconds(100) }
                } catch {
                    if Task.isCancelled { break }
                    self.logger.warning(
                        "httpq: listening for finished requests failed; reconnecting",
                        metadata: ["error": "\(HTTPQClientError.from(error))"])
                }
                _ = await self.waiters.setListening(false)
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        await waiters.failAll(HTTPQClientError.connection(ClientStopped()))
    }

    /// One listening connection, until it fails: checks every waiter once LISTEN is
    /// established, then the waited-for ids of each notification.
    private func listen(established: () -> Void) async throws {
        try await postgres.withConnection { connection in
            try await connection.listen(on: Self.channel) { notifications in
                established()
                let reader: Reader = { try await $0(connection) }
                try await check(await waiters.setListening(true), reader: reader)
                for try await notification in notifications {
                    let ids = notification.payload.split(separator: ",").compactMap { Int64($0) }
                    let waited = await waiters.waited(among: ids)
                    if !waited.isEmpty {
                        try await check(waited, reader: reader)
                    }
                }
            }
        }
    }

    // MARK: - Reading outcomes

    /// Runs a body on a connection.
    typealias Reader = (_ body: (PostgresConnection) async throws -> Void) async throws -> Void

    /// A connection leased from the pool for each read.
    private var pooled: Reader {
        { body in try await self.postgres.withConnection { try await body($0) } }
    }

    /// Reads the outcomes of `ids` and resolves the waiters of those finished. A failure to
    /// read fails the waiter `owner` (a waiter's own check), or is left to the caller.
    private func check(_ ids: [Int64], reader: Reader, owner: UInt64?) async {
        do {
            try await check(ids, reader: reader)
        } catch {
            if let owner {
                await waiters.resolve(token: owner, .failure(HTTPQClientError.from(error)))
            }
        }
    }

    /// Reads the outcomes of `ids` in one query; when it fails for one id's sake (an id that
    /// does not exist, another tenant's), reads them one by one, so each waiter gets its own
    /// answer. Throws only when the database cannot be read.
    private func check(_ ids: [Int64], reader: Reader) async throws {
        guard !ids.isEmpty else { return }
        do {
            try await reader { connection in
                for outcome in try await self.outcomes(ids, on: connection) {
                    await self.waiters.resolve(id: outcome.id, .success(outcome))
                }
            }
        } catch let error where ids.count > 1 && Self.isAboutOneRequest(error) {
            for id in ids {
                try await check([id], reader: reader)
            }
        } catch let error where Self.isAboutOneRequest(error) {
            await waiters.resolve(id: ids[0], .failure(Self.requestError(error, id: ids[0])))
        }
    }

    private func outcomes(_ ids: [Int64], on connection: PostgresConnection) async throws -> [HTTPQOutcome] {
        var binds = PostgresBindings()
        binds.append(ids)
        let rows = try await connection.query(PostgresQuery(unsafeSQL: HTTPQOutcome.sql, binds: binds), logger: logger)
        var outcomes: [HTTPQOutcome] = []
        for try await row in rows {
            if let outcome = try HTTPQOutcome(row) {
                outcomes.append(outcome)
            }
        }
        return outcomes
    }

    /// Whether `error` is `httpq.outcome`'s answer about one id: P0002 (no such request) or
    /// 42501 (another tenant's).
    private static func isAboutOneRequest(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let sqlState = error.serverInfo?[.sqlState] else { return false }
        return sqlState == "P0002" || sqlState == "42501"
    }

    private static func requestError(_ error: any Error, id: Int64) -> HTTPQClientError {
        let mapped = HTTPQClientError.from(error)
        if case .database(_, "P0002") = mapped {
            return .notFound(id)
        }
        return mapped
    }
}

/// Why waiters fail once `HTTPQClient.run()` has returned.
public struct ClientStopped: Error, CustomStringConvertible {
    public var description: String { "the httpq client stopped listening" }
}
