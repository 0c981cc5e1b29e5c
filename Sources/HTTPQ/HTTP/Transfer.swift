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
///
/// Without a proxy, every address the transfer connects to is checked against the request's
/// `AddressPolicy` twice: when libcurl opens a socket (before any packet is sent to the
/// address, whatever name or numeric form resolved to it) and before each request is sent
/// (a pooled connection opened for another channel may be reused, and its address was
/// judged by that channel's allowed networks). With a proxy, every connection goes to the
/// proxy, which the operator chose; the destination is then the proxy's to judge.
/// Not thread-safe: used only by the worker loop.
final class Transfer {
    /// The caller's identifier for the current request (the request id).
    private(set) var id: Int64 = 0
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var settings = TransferSettings()
    /// The policy connections are checked against, or nil when a proxy is used.
    private var addressPolicy: AddressPolicy?
    /// The first connection refused by the policy, as the attempt's error.
    private var refusal: String?
    /// Whether a reused connection was refused (then no socket was opened at all).
    private var refusedBeforeRequest = false
    /// Sockets opened for the current request: a refusal only ends the attempt as refused when
    /// no other address of the host was connected to.
    private var socketsOpened = 0
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
    convenience init(id: Int64, request: HTTPRequest, settings: TransferSettings) throws(CurlError) {
        try self.init()
        try prepare(id: id, request: request, settings: settings)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Clears whatever the previous request left and sets up `request`. The handle must not
    /// be in the multi stack.
    func prepare(id: Int64, request: HTTPRequest, settings: TransferSettings) throws(CurlError) {
        curl_easy_reset(easy)
        // Only now, with CURLOPT_HTTPHEADER reset, may the old list go.
        curl_slist_free_all(headerList)
        headerList = nil
        errorBuffer.pointee = 0
        self.id = id
        self.settings = settings
        addressPolicy = settings.proxy == nil ? request.addressPolicy : nil
        refusal = nil
        refusedBeforeRequest = false
        socketsOpened = 0
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
        try configureLowSpeed(request)
        try configureProxyAndGuard(context)
        try Curl.check(httpq_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        try Curl.check(httpq_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, receiveBody), "CURLOPT_WRITEFUNCTION")
        try Curl.check(httpq_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context), "CURLOPT_WRITEDATA")
        try Curl.check(
            httpq_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, receiveHeader), "CURLOPT_HEADERFUNCTION")
        try Curl.check(httpq_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context), "CURLOPT_HEADERDATA")
        try configureMethodAndBody(request)
        try configureAWSSigning(request)
        for line in Self.headerLines(request) {
            guard let list = curl_slist_append(headerList, line) else {
                throw CurlError(code: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_slist_append failed")
            }
            headerList = list
        }
        try Curl.check(httpq_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList), "CURLOPT_HTTPHEADER")
    }

    /// A stalled transfer ends: one slower than the low-speed limit for the low-speed time in a
    /// row. libcurl counts the wait for the response too, so a destination that thinks longer
    /// than that before answering needs a longer time. A request whose own timeout is no
    /// longer than the low-speed time ends by that timeout first, so it gets no rule.
    /// - SeeAlso: https://curl.se/libcurl/c/CURLOPT_LOW_SPEED_TIME.html
    private func configureLowSpeed(_ request: HTTPRequest) throws(CurlError) {
        guard settings.lowSpeedTime > 0, request.timeoutMilliseconds > settings.lowSpeedTime * 1000 else { return }
        try setLong(CURLOPT_LOW_SPEED_LIMIT, settings.lowSpeedLimit)
        try setLong(CURLOPT_LOW_SPEED_TIME, settings.lowSpeedTime)
    }

    /// Either the configured proxy, with `NO_PROXY` overridden so no destination bypasses it,
    /// or no proxy at all (an empty `CURLOPT_PROXY` ignores `http_proxy`, `ALL_PROXY`, ...) and
    /// the address checks.
    /// - SeeAlso: https://curl.se/libcurl/c/CURLOPT_PROXY.html,
    ///   https://curl.se/libcurl/c/CURLOPT_OPENSOCKETFUNCTION.html,
    ///   https://curl.se/libcurl/c/CURLOPT_PREREQFUNCTION.html
    private func configureProxyAndGuard(_ context: UnsafeMutableRawPointer) throws(CurlError) {
        if let proxy = settings.proxy {
            try setString(CURLOPT_PROXY, proxy)
            try setString(CURLOPT_NOPROXY, "")
            return
        }
        try setString(CURLOPT_PROXY, "")
        try Curl.check(httpq_easy_setopt_opensocket(easy, openSocket), "CURLOPT_OPENSOCKETFUNCTION")
        try Curl.check(httpq_easy_setopt_pointer(easy, CURLOPT_OPENSOCKETDATA, context), "CURLOPT_OPENSOCKETDATA")
        try Curl.check(httpq_easy_setopt_prereq(easy, checkConnection), "CURLOPT_PREREQFUNCTION")
        try Curl.check(httpq_easy_setopt_pointer(easy, CURLOPT_PREREQDATA, context), "CURLOPT_PREREQDATA")
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

    /// AWS Signature Version 4, computed by libcurl over the request as sent. The user name
    /// and password options carry the key id and secret key (never the URL, which is logged).
    /// - SeeAlso: https://curl.se/libcurl/c/CURLOPT_AWS_SIGV4.html
    private func configureAWSSigning(_ request: HTTPRequest) throws(CurlError) {
        guard let aws = request.awsSigning else { return }
        try setString(CURLOPT_AWS_SIGV4, aws.provider)
        try setString(CURLOPT_USERNAME, aws.accessKeyID)
        try setString(CURLOPT_PASSWORD, aws.secretAccessKey)
    }

    /// The claimed headers as libcurl lines, plus blank overrides that stop libcurl adding
    /// headers nobody claimed: `Expect: 100-continue`, `Accept: */*`, and the form Content-Type
    /// it assumes for a body. Not for a request libcurl signs for AWS: its SigV4 (7.88) signs
    /// every line it is given, a blank override too, as a header with an empty value that is
    /// never sent, and AWS then computes another signature. The headers libcurl adds itself
    /// go unsigned, which AWS allows.
    static func headerLines(_ request: HTTPRequest) -> [String] {
        // "Name;" is libcurl's way to send a header with an empty value; "Name:" removes one.
        var lines = request.headers.map { $0.value.isEmpty ? "\($0.name);" : "\($0.name): \($0.value)" }
        guard request.awsSigning == nil else { return lines }
        let claimed = request.headers.map { $0.name.lowercased() }
        for (name, blank) in blankedHeaders where !claimed.contains(name) {
            lines.append(blank)
        }
        return lines
    }

    /// The headers libcurl adds unless told not to: lower-case name, and the line that blanks it.
    private static let blankedHeaders = [
        ("expect", "Expect:"), ("accept", "Accept:"), ("content-type", "Content-Type:"),
    ]

    private func setLong(_ option: CURLoption, _ value: Int) throws(CurlError) {
        try Curl.check(httpq_easy_setopt_long(easy, option, value), "curl_easy_setopt")
    }

    private func setString(_ option: CURLoption, _ value: String) throws(CurlError) {
        try Curl.check(httpq_easy_setopt_string(easy, option, value), "curl_easy_setopt")
    }

    // MARK: - Address checks

    /// Whether a new connection to `address` may be opened; records the first refusal.
    fileprivate func mayOpen(_ address: IPAddress?, port: Int) -> Bool {
        guard let policy = addressPolicy else { return true }
        guard let address else {
            refusal = refusal ?? "refused to connect to an address that is neither IPv4 nor IPv6"
            return false
        }
        if let refused = policy.refusal(of: address) {
            refusal = refusal ?? policy.message(refused, port: port)
            return false
        }
        return true
    }

    /// Whether the request may go out on a connection to `address` (new or reused).
    fileprivate func maySend(to address: String, port: Int) -> Bool {
        guard addressPolicy != nil else { return true }
        guard mayOpen(IPAddress(address), port: port) else {
            refusedBeforeRequest = true
            return false
        }
        return true
    }

    fileprivate func opened() {
        socketsOpened += 1
    }

    // MARK: - Response

    fileprivate func append(body bytes: UnsafeRawBufferPointer) {
        // Keep reading to the end (the connection stays reusable) but stop storing at the cap.
        let room = settings.maxResponseBytes - responseBody.count
        if room > 0 {
            responseBody.append(contentsOf: bytes.prefix(room))
        }
    }

    /// Takes one header line; false once the headers went past their cap, to end the transfer.
    fileprivate func append(header bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.withMemoryRebound(to: UInt8.self) { responseHeaders.add(line: $0) }
        return responseHeaders.exceeded == nil
    }

    /// The outcome once libcurl reports the transfer done with `code`.
    /// - SeeAlso: https://curl.se/libcurl/c/CURLINFO_RESPONSE_CODE.html
    func finish(_ code: CURLcode) -> HTTPResult {
        let elapsed = ContinuousClock.now - startedAt
        let milliseconds = Int(
            elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        if code != CURLE_OK, let refusal, refusedBeforeRequest || socketsOpened == 0 {
            return HTTPResult(
                status: nil, headers: ResponseHeaders(), body: [], error: refusal,
                durationMilliseconds: milliseconds, refused: true)
        }
        var status = 0
        if code == CURLE_OK, httpq_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK, status > 0 {
            return HTTPResult(
                status: status, headers: responseHeaders, body: responseBody, error: nil,
                durationMilliseconds: milliseconds)
        }
        // A failure after the status line (reset mid-body, timeout while reading) is still a
        // failure: the response is incomplete, so nothing of it is reported.
        return HTTPResult(
            status: nil, headers: ResponseHeaders(), body: [], error: failure(code),
            durationMilliseconds: milliseconds)
    }

    /// Why the transfer ended without a response: the header cap, the low-speed rule, or
    /// libcurl's own description.
    private func failure(_ code: CURLcode) -> String {
        if let exceeded = responseHeaders.exceeded {
            return exceeded
        }
        let detail = errorBuffer.pointee == 0 ? String(cString: curl_easy_strerror(code)) : String(cString: errorBuffer)
        if code == CURLE_OPERATION_TIMEDOUT, detail.hasPrefix("Operation too slow") {
            let unit = settings.lowSpeedLimit == 1 ? "byte" : "bytes"
            return "the transfer stalled: less than \(settings.lowSpeedLimit) \(unit) per second for "
                + "\(settings.lowSpeedTime) seconds (--low-speed-limit, --low-speed-time)"
        }
        if let refusal {
            // Another address of the host was tried, and failed on its own account.
            return "\(detail) (also \(refusal))"
        }
        return detail
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

/// CURLOPT_HEADERFUNCTION: one complete header line (libcurl calls once per line). Returning
/// less than the line's size ends the transfer.
private let receiveHeader: httpq_data_callback = { data, size, count, context in
    let accepted = Transfer.from(context).append(header: UnsafeRawBufferPointer(start: data, count: size * count))
    return accepted ? size * count : 0
}

/// CURLOPT_OPENSOCKETFUNCTION: opens a socket only for an allowed address, so a refused one
/// never sees a packet.
private let openSocket: curl_opensocket_callback = { context, _, address in
    guard let address else { return CURL_SOCKET_BAD }
    let transfer = Transfer.from(context)
    var bytes = [UInt8](repeating: 0, count: 16)
    var port: Int32 = 0
    let count = Int(httpq_sockaddr_ip(address, &bytes, &port))
    guard transfer.mayOpen(IPAddress(bytes: Array(bytes.prefix(count))), port: Int(port)) else {
        return CURL_SOCKET_BAD
    }
    let socket = httpq_open_socket(address)
    if socket != CURL_SOCKET_BAD { transfer.opened() }
    return socket
}

/// CURLOPT_PREREQFUNCTION: checks the connection's address before each request is sent on it.
private let checkConnection: curl_prereq_callback = { context, primaryIP, _, primaryPort, _ in
    let address = primaryIP.map { String(cString: $0) } ?? ""
    return Transfer.from(context).maySend(to: address, port: Int(primaryPort))
        ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT
}
