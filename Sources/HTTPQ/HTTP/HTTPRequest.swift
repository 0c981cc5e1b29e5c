/// One HTTP request to send, exactly as it was claimed.
struct HTTPRequest: Sendable {
    /// The method, upper-case as claimed (GET, POST, PUT, PATCH, DELETE, HEAD, ...).
    var method: String
    /// An `http` or `https` URL; libcurl refuses every other scheme.
    var url: String
    /// The complete header set to send, in order; the only headers sent besides Host and Content-Length.
    var headers: [(name: String, value: String)]
    /// The body bytes, or nil for a request without a body.
    var body: [UInt8]?
    /// The total time allowed, connect to last byte.
    var timeoutMilliseconds: Int
    /// The addresses the request may connect to: its channel's allowed networks.
    var addressPolicy = AddressPolicy()
    /// AWS Signature Version 4, which libcurl computes as it sends; nil for none.
    var awsSigning: AWSSigning?

    /// Why the request cannot be sent as claimed, or nil when it can. A line break in a header
    /// would let one header smuggle in others, so such a request is refused, never cleaned up.
    var problem: String? {
        if method.isEmpty || method.utf8.contains(where: { $0 <= 32 || $0 >= 127 }) {
            return "the method \"\(method)\" is not a valid HTTP method"
        }
        for (name, value) in headers {
            if name.isEmpty || name.utf8.contains(where: { $0 <= 32 || $0 >= 127 || $0 == UInt8(ascii: ":") }) {
                return "the header name \"\(name)\" is not a valid HTTP header name"
            }
            if value.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) {
                return "the value of header \(name) contains a line break or NUL"
            }
        }
        if timeoutMilliseconds <= 0 {
            return "the timeout \(timeoutMilliseconds) ms is not positive"
        }
        return nil
    }
}

/// How libcurl signs a request for AWS (`CURLOPT_AWS_SIGV4`): the provider string
/// `PROVIDER1:PROVIDER2:REGION:SERVICE` and the credentials. A session token travels as the
/// `X-Amz-Security-Token` header, which the request then carries.
struct AWSSigning: Sendable, Equatable {
    var provider: String
    var accessKeyID: String
    var secretAccessKey: String
}

/// What came back for one request: a response with any status, or a transport failure.
struct HTTPResult: Equatable, Sendable {
    /// The final response's status, or nil when no complete response arrived.
    var status: Int?
    /// The final response's headers (empty on failure).
    var headers: ResponseHeaders
    /// The response body, cut at the configured maximum.
    var body: [UInt8]
    /// libcurl's description of the failure, or nil when a response arrived.
    var error: String?
    /// Wall time from handing the transfer to libcurl to its completion.
    var durationMilliseconds: Int
    /// Whether the attempt ended because its destination's address is not allowed (no packet
    /// was sent to it); the database then ends the request at once rather than retrying.
    var refused = false
    /// Whether the request was not sent because a secret it needs could not be opened (the
    /// worker's keys, or the store, are wrong): the attempt does not count, and the request
    /// is tried again once the configuration may have been fixed.
    var unsent = false
}
