import Foundation
import PostgresNIO

/// How a request finished: `httpq.outcome`, as `httpq.outcome(id)` returns it.
public struct HTTPQOutcome: Sendable, Equatable {
    /// The final states.
    public enum State: String, Sendable {
        /// The destination answered 2xx.
        case delivered
        /// Out of attempts, past the deadline, or refused for good.
        case dead
        /// Canceled before it was delivered.
        case canceled
    }

    public var id: Int64
    public var state: State
    /// The last response's status; nil without a response.
    public var status: Int?
    /// The last response's headers, names lower-case; empty without a response.
    public var headers: [String: String]
    /// The last response's body (as much as the worker records); nil without a response.
    public var body: Data?
    /// Why the last attempt failed, or why the request died.
    public var error: String?
    public var finishedAt: Date

    /// The columns `HTTPQOutcome.sql` selects, from one row.
    init?(_ row: PostgresRow) throws {
        let (id, state, status, headers, body, error, finishedAt) = try row.decode(
            (Int64, String?, Int32?, String?, Data?, String?, Date?).self)
        guard let state, let finishedAt else { return nil }  // unfinished
        self.id = id
        self.state = State(rawValue: state) ?? .dead
        self.status = status.map(Int.init)
        self.headers = headers.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
        self.body = body
        self.error = error
        self.finishedAt = finishedAt
    }

    /// The outcomes of `$1` (a bigint[]), one row per id, state NULL while unfinished. Raises
    /// 42501 for another tenant's request and P0002 for an id that does not exist.
    static let sql = """
        SELECT i.id, o.state, o.status, o.headers::text, o.body, o.error, o.finished_at
        FROM unnest($1::bigint[]) AS i(id) CROSS JOIN LATERAL httpq.outcome(i.id) AS o
        """
}
