import Foundation
import PostgresNIO

/// The statements that enqueue, built once from one list of parameters.
///
/// A request travels as one bind parameter, a JSON object (`Row`) that the statement unpacks
/// with `jsonb_to_record(set)` and hands to `httpq.enqueue` / `httpq.enqueue_bytes` (one
/// request) or to `httpq.new_request` / `httpq.new_request_bytes` and `httpq.enqueue_many`
/// (many, in one statement). The SQL text is constant: no value is ever written into it.
enum EnqueueStatement {
    /// The parameters shared by every enqueue function after `url`, `body` and `content_type`:
    /// the SQL name, the column type in `Row`'s JSON, and the expression passed on.
    private static let parameters: [(name: String, type: String, value: String)] = [
        ("method", "text", "r.method"),
        ("headers", "jsonb", "r.headers"),
        ("channel", "text", "r.channel"),
        ("ordering_key", "text", "r.ordering_key"),
        ("run_at", "float8", "to_timestamp(r.run_at)"),
        ("max_attempts", "integer", "r.max_attempts"),
        ("deadline", "float8", "to_timestamp(r.deadline)"),
        ("idempotency_key", "text", "r.idempotency_key"),
        ("dedupe_key", "text", "r.dedupe_key"),
        ("priority", "integer", "r.priority"),
        ("timeout_ms", "integer", "r.timeout_ms"),
        ("notify", "boolean", "r.notify"),
        ("traceparent", "text", "r.traceparent"),
        ("tracestate", "text", "r.tracestate"),
    ]

    /// The columns of `Row`, as a column definition list.
    private static let columns =
        "(url text, json text, bytes text, content_type text, "
        + parameters.map { "\($0.name) \($0.type)" }.joined(separator: ", ") + ")"

    /// A call of `json` (JSON body) or `bytes` (bytes body) with every parameter of `r`.
    private static func call(json: String, bytes: String) -> String {
        let rest = parameters.map { "\($0.name) => \($0.value)" }.joined(separator: ", ")
        return """
            CASE WHEN r.bytes IS NULL
                 THEN \(json)(url => r.url, body => r.json::jsonb, \(rest))
                 ELSE \(bytes)(url => r.url, body => decode(r.bytes, 'base64'), content_type => r.content_type, \(rest))
            END
            """
    }

    /// One request; returns its id.
    static let oneSQL = """
        SELECT \(call(json: "httpq.enqueue", bytes: "httpq.enqueue_bytes"))
        FROM jsonb_to_record($1::jsonb) AS r\(columns)
        """

    /// Many requests in one statement; returns their ids in order, one row each.
    static let manySQL = """
        SELECT httpq.enqueue_many(ARRAY(
            SELECT \(call(json: "httpq.new_request", bytes: "httpq.new_request_bytes"))
            FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS \(columns)) WITH ORDINALITY AS r
            ORDER BY r.ordinality))
        """

    static func one(_ request: HTTPQRequest) throws -> PostgresQuery {
        try query(oneSQL, Row(request))
    }

    static func many(_ requests: [HTTPQRequest]) throws -> PostgresQuery {
        try query(manySQL, requests.map(Row.init))
    }

    private static func query(_ sql: String, _ value: some Encodable) throws -> PostgresQuery {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        var binds = PostgresBindings()
        binds.append(String(decoding: try encoder.encode(value), as: UTF8.self))
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// A request as the statements read it: keys named as the SQL parameters, bytes as base64
    /// (Foundation's `Data` encoding), times as seconds since 1970, the timeout in milliseconds.
    /// (Not `.convertToSnakeCase`: it would rename the header names too.)
    private struct Row: Encodable {
        var url: String
        var json: String?
        var bytes: Data?
        var contentType: String?
        var method: String
        var headers: [String: HTTPQRequest.Header]
        var channel: String
        var orderingKey: String?
        var runAt: Date?
        var maxAttempts: Int?
        var deadline: Date?
        var idempotencyKey: String?
        var dedupeKey: String?
        var priority: Int
        var timeoutMs: Int64?
        var notify: Bool
        var traceparent: String?
        var tracestate: String?

        enum CodingKeys: String, CodingKey {
            case url, json, bytes, method, headers, channel, deadline, priority, notify, traceparent, tracestate
            case contentType = "content_type"
            case orderingKey = "ordering_key"
            case runAt = "run_at"
            case maxAttempts = "max_attempts"
            case idempotencyKey = "idempotency_key"
            case dedupeKey = "dedupe_key"
            case timeoutMs = "timeout_ms"
        }

        init(_ request: HTTPQRequest) {
            url = request.url
            switch request.body {
            case .json(let data): json = String(decoding: data, as: UTF8.self)
            case .bytes(let data, let contentType): (bytes, self.contentType) = (data, contentType)
            case nil: break
            }
            method = request.method.rawValue
            headers = request.headers
            channel = request.channel
            orderingKey = request.orderingKey
            runAt = request.runAt
            maxAttempts = request.maxAttempts
            deadline = request.deadline
            idempotencyKey = request.idempotencyKey
            dedupeKey = request.dedupeKey
            priority = request.priority
            timeoutMs = request.timeout.map { duration in
                duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            }
            notify = request.notify
            traceparent = request.traceparent
            tracestate = request.tracestate
        }
    }
}
