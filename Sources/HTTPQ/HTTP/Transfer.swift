internal import CCurl

/// One request at a time in libcurl's hands: the easy handle and everything libcurl keeps a
/// pointer to (header list, error buffer) or writes into (the response accumulators).
///
/// A transfer is reused for request after request (`prepare`): `curl_easy_init` and
/// `curl_easy_cleanup` per request cost more than the request itself, and `curl_easy_reset`
/// clears every option while the multi stack keeps the connections and the DNS cache.
///
/// `deinit` frees all of it; `Multi` removes the handle from the multi stack first and keeps
/// the transfer alive for as long as libcurl may call back into it.
/// Not thread-safe: used only by the worker loop.
final class Transfer {
    /// The caller's identifier for the current request (the request id).
    private(set) var id: Int64 = 0
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var maxResponseBytes = 0
    private var startedAt = ContinuousClock.now
    private var responseHeaders = ResponseHeaders()
    private var responseBody: [UInt8] = []

    /// Acquires an easy handle; nothing is sent until `prepare` and `Multi.add`.
    init() throws(CurlError) {
        guard Curl.initialized, let easy = curl_easy_init() else {
            throw CurlError(code: Int(CURLE_FAILED_INIT.rawValue), message: "curl_easy_init failed")
        }
        self.easy = easy
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    /// A transfer ready for `request`.
    convenience init(id: Int64, request: HTTPRequest, maxResponseBytes: Int) throws(CurlError) {
        try self.init()
        try prepare(id: id, request: request, maxResponseBytes: maxResponseBytes)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Clears whatever the previous request left and sets up `request`. The handle must not
    /// be in the multi stack.
    func prepare(id: Int64, request: HTTPRequest, maxResponseBytes: Int) throws(CurlError) {
        curl_easy_reset(easy)
        // Only now, with CURLOPT_HTTPHEADER reset, may the old list go.
        curl_slist_free_all(headerList)
        headerList = nil
        errorBuffer.pointee = 0
        self.id = id
        self.maxResponseBytes = maxResponseBytes
        startedAt = .now
        responseHeaders = ResponseHeaders()
        responseBody = []
        try configure(request)
    }

    /// Sets every option of the request. Each option is checked; a failure here is a bug or an
    /// old libcurl, and the caller reports it as the request's transport error.
    /// - SeeAlso: https://curl.se/libcurl/c/curl_easy_setopt.html
    private func configure(_ request: HTTPRequest) throws(CurlError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        try setLong(CURLOPT_NOSIGNAL, 1)
        try Curl.check(httpq_easy_setopt_string(easy, CURLOPT_URL, request.url), "CURLOPT_URL")
        try Curl.check(httpq_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "CURLOPT_PROTOCOLS_STR")
        try setLong(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1)
        try setLong(CURLOPT_FOLLOWLOCATION, 0)
        try setLong(CURLOPT_SSL_VERIFYPEER, 1)
        try setLong(CURLOPT_SSL_VERIFYHOST, 2)
        try setLong(CURLOPT_TCP_KEEPALIVE, 1)
        try setLong(CURLOPT_TIMEOUT_MS, request.timeoutMilliseconds)
        try setLong(CURLOPT_CONNECTTIMEOUT_MS, min(request.timeoutMilliseconds, 10_000))
        try Curl.check(httpq_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        try Curl.check(httpq_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, receiveBody), "CURLOPT_WRITEFUNCTION")
        try Curl.check(httpq_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context), "CURLOPT_WRITEDATA")
        try Curl.check(
            httpq_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, receiveHeader), "CURLOPT_HEADERFUNCTION")
        try Curl.check(httpq_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context), "CURLOPT_HEADERDATA")
        try configureMethodAndBody(request)
        for line in Self.headerLines(request) {
            guard let list = curl_slist_append(headerList, line) else {
                throw CurlError(code: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_slist_append failed")
            }
            headerList = list
        }
        try Curl.check(httpq_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList), "CURLOPT_HTTPHEADER")
    }

    /// GET and HEAD without a body use libcurl's own modes; a body is always copied
    /// (`CURLOPT_COPYPOSTFIELDS`, so libcurl never points into Swift memory) and any method other
    /// than POST is then named with `CURLOPT_CUSTOMREQUEST`. POST, PUT and PATCH without a body
    /// send an empty one with `Content-Length: 0`, as servers expect.
    private func configureMethodAndBody(_ request: HTTPRequest) throws(CurlError) {
        let method = request.method
        var body = request.body
        if body == nil, ["POST", "PUT", "PATCH"].contains(method) {
            body = []
        }
        guard let body else {
            switch method {
            case "GET": try setLong(CURLOPT_HTTPGET, 1)
            case "HEAD": try setLong(CURLOPT_NOBODY, 1)
            default: try setString(CURLOPT_CUSTOMREQUEST, method)
            }
            return
        }
        try setLong(CURLOPT_POSTFIELDSIZE, body.count)
        let code = body.withUnsafeBytes { bytes in
            httpq_easy_setopt_pointer(
                easy, CURLOPT_COPYPOSTFIELDS,
                UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(errorBuffer)))
        }
        try Curl.check(code, "CURLOPT_COPYPOSTFIELDS")
        if method != "POST" {
            try setString(CURLOPT_CUSTOMREQUEST, method)
        }
    }

    /// The claimed headers as libcurl lines, plus blank overrides that stop libcurl adding
    /// headers nobody claimed: `Expect: 100-continue`, `Accept: */*`, and the form Content-Type
    /// it assumes for a body.
    static func headerLines(_ request: HTTPRequest) -> [String] {
        // "Name;" is libcurl's way to send a header with an empty value; "Name:" removes one.
        var lines = request.headers.map { $0.value.isEmpty ? "\($0.name);" : "\($0.name): \($0.value)" }
        let claimed = request.headers.map { $0.name.lowercased() }
        for (name, blank) in blankedHeaders where !claimed.contains(name) {
            lines.append(blank)
        }
        return lines
    }

    /// The headers libcurl adds unless told not to: lower-case name, and the line that blanks it.
    private static let blankedHeaders = [("expect", "Expect:"), ("accept", "Accept:"), ("content-type", "Content-Type:")]

    private func setLong(_ option: CURLoption, _ value: Int) throws(CurlError) {
        try Curl.check(httpq_easy_setopt_long(easy, option, value), "curl_easy_setopt")
    }

    private func setString(_ option: CURLoption, _ value: String) throws(CurlError) {
        try Curl.check(httpq_easy_setopt_string(easy, option, value), "curl_easy_setopt")
    }

    // MARK: - Response

    fileprivate func append(body bytes: UnsafeRawBufferPointer) {
        // Keep reading to the end (the connection stays reusable) but stop storing at the cap.
        let room = maxResponseBytes - responseBody.count
        if room > 0 {
            responseBody.append(contentsOf: bytes.prefix(room))
        }
    }

    fileprivate func append(header bytes: UnsafeRawBufferPointer) {
        bytes.withMemoryRebound(to: UInt8.self) { responseHeaders.add(line: $0) }
    }

    /// The outcome once libcurl reports the transfer done with `code`.
    /// - SeeAlso: https://curl.se/libcurl/c/CURLINFO_RESPONSE_CODE.html
    func finish(_ code: CURLcode) -> HTTPResult {
        let elapsed = ContinuousClock.now - startedAt
        let milliseconds = Int(
            elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        var status = 0
        if code == CURLE_OK, httpq_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK, status > 0 {
            return HTTPResult(
                status: status, headers: responseHeaders, body: responseBody, error: nil,
                durationMilliseconds: milliseconds)
        }
        // A failure after the status line (reset mid-body, timeout while reading) is still a
        // failure: the response is incomplete, so nothing of it is reported.
        let detail = errorBuffer.pointee == 0 ? String(cString: curl_easy_strerror(code)) : String(cString: errorBuffer)
        return HTTPResult(
            status: nil, headers: ResponseHeaders(), body: [], error: detail,
            durationMilliseconds: milliseconds)
    }

    /// Recovers the transfer from the context pointer given to libcurl.
    fileprivate static func from(_ context: UnsafeMutableRawPointer?) -> Transfer {
        Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    }
}

@available(*, unavailable)
extension Transfer: Sendable {}

/// CURLOPT_WRITEFUNCTION: one chunk of the response body.
private let receiveBody: httpq_data_callback = { data, size, count, context in
    Transfer.from(context).append(body: UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

/// CURLOPT_HEADERFUNCTION: one complete header line (libcurl calls once per line).
private let receiveHeader: httpq_data_callback = { data, size, count, context in
    Transfer.from(context).append(header: UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}
