import Foundation

/// A request to enqueue: the parameters of `httpq.enqueue` and `httpq.new_request`, one to one.
///
/// Only `url` is required. A default here is the SQL function's default; nil for an optional
/// setting means the channel's default (`maxAttempts`, `timeout`) or none. The database checks
/// everything (`HTTPQClientError.invalidInput` names the field and the rule), so this type
/// checks nothing itself.
public struct HTTPQRequest: Sendable {
    /// The methods the queue sends.
    public enum Method: String, Sendable, CaseIterable {
        case get = "GET"
        case head = "HEAD"
        case post = "POST"
        case put = "PUT"
        case patch = "PATCH"
        case delete = "DELETE"
        case options = "OPTIONS"
    }

    /// A header's value: plain text, or a reference to a secret in httpq's secret store,
    /// which only the worker opens, optionally sent after a prefix such as `"Bearer "`.
    public enum Header: Sendable, Hashable, ExpressibleByStringLiteral {
        case value(String)
        case secret(String, prefix: String? = nil)

        public init(stringLiteral value: String) {
            self = .value(value)
        }
    }

    /// What is sent as the request body.
    public enum Body: Sendable, Equatable {
        /// JSON text, sent with `Content-Type: application/json` unless a header names another.
        case json(Data)
        /// Any bytes, sent with `contentType`; nil: the `Content-Type` header's type, else
        /// `application/octet-stream`.
        case bytes(Data, contentType: String? = nil)

        /// A JSON body from an `Encodable` value.
        public static func json<Value: Encodable>(
            encoding value: Value, encoder: JSONEncoder = JSONEncoder()
        ) throws -> Body {
            .json(try encoder.encode(value))
        }
    }

    /// Absolute `http://` or `https://` URL.
    public var url: String
    public var method: Method
    /// Names are case-insensitive and may appear once; see the README for the refused ones.
    public var headers: [String: Header]
    /// nil: no body.
    public var body: Body?
    /// The destination or tenant whose limits and defaults apply.
    public var channel: String
    /// Requests with the same key in a channel are delivered one after another.
    public var orderingKey: String?
    /// Not before this time; nil: now.
    public var runAt: Date?
    /// Attempts before the request is dead; nil: the channel's.
    public var maxAttempts: Int?
    /// Dead if not delivered by then.
    public var deadline: Date?
    /// The `Idempotency-Key` header of every attempt; nil: the header if given, else a UUID.
    public var idempotencyKey: String?
    /// If an unfinished request of the channel has this key, nothing is enqueued and that
    /// request's id is returned.
    public var dedupeKey: String?
    /// Lower is claimed first within a channel.
    public var priority: Int
    /// Total time for one attempt, in whole milliseconds; nil: the channel's.
    public var timeout: Duration?
    /// Whether finishing this request sends a notification on `httpq_finished`, which
    /// `HTTPQClient.response(for:timeout:)` waits for.
    public var notify: Bool
    /// W3C trace context, sent as the `traceparent` header of every attempt; nil: the
    /// session's `httpq.traceparent` setting, if set (see the README, Trace context).
    public var traceparent: String?
    /// W3C `tracestate` sent with `traceparent`; nil: none (or the session's, with its
    /// traceparent).
    public var tracestate: String?

    public init(
        url: String,
        method: Method = .post,
        headers: [String: Header] = [:],
        body: Body? = nil,
        channel: String = "default",
        orderingKey: String? = nil,
        runAt: Date? = nil,
        maxAttempts: Int? = nil,
        deadline: Date? = nil,
        idempotencyKey: String? = nil,
        dedupeKey: String? = nil,
        priority: Int = 0,
        timeout: Duration? = nil,
        notify: Bool = false,
        traceparent: String? = nil,
        tracestate: String? = nil
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.channel = channel
        self.orderingKey = orderingKey
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.deadline = deadline
        self.idempotencyKey = idempotencyKey
        self.dedupeKey = dedupeKey
        self.priority = priority
        self.timeout = timeout
        self.notify = notify
        self.traceparent = traceparent
        self.tracestate = tracestate
    }
}

extension HTTPQRequest.Header: Encodable {
    /// A plain value as a JSON string, a secret as `{"secret": "NAME", "prefix": "..."}`.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .value(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .secret(let name, let prefix):
            var container = encoder.container(keyedBy: SecretKey.self)
            try container.encode(name, forKey: .secret)
            try container.encodeIfPresent(prefix, forKey: .prefix)
        }
    }

    private enum SecretKey: String, CodingKey {
        case secret, prefix
    }
}
