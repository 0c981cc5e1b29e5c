/// What a handler of an httpq HTTP server answers. The server adds Content-Length,
/// `Connection: close` and `Cache-Control: no-store`.
public struct ServedResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, contentType: String, headers: [(name: String, value: String)] = [], body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    public init(status: Int, contentType: String, headers: [(name: String, value: String)] = [], body: String) {
        self.init(status: status, contentType: contentType, headers: headers, body: Array(body.utf8))
    }

    /// A plain-text answer of one line, as the probes and errors give.
    public static func text(_ status: Int, _ line: String) -> ServedResponse {
        ServedResponse(status: status, contentType: "text/plain; charset=utf-8", body: line + "\n")
    }

    /// The reason phrase of the statuses httpq's servers answer with.
    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}
