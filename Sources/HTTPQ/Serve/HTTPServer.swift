import Glibc
import Synchronization

/// The small HTTP/1.1 server behind `httpq work --listen` (metrics and probes) and `httpq
/// dashboard`: GET and HEAD only, one request per connection, each served on a thread of its
/// own while the accepting thread goes on.
///
/// Not swift-nio: what it serves is a scrape every few seconds, a probe, a person reading a
/// page, and a thread per connection with a short timeout does that plainly, with no event
/// loop beside the worker's own and no NIO in the `httpq` binary. Bounded so that it cannot
/// hurt the process it runs in: at most `maxConnections` at once (more are closed at once), a
/// request head of at most `maxHeadBytes`, and `timeout` (2 s unless given) to send it and to
/// read the answer, so a client that stalls holds a thread that long at most.
public final class HTTPServer: Sendable {
    public static let maxConnections = 64
    public static let maxHeadBytes = 16 * 1024

    public let address: ListenAddress
    /// How long a client has to send its request head, and to take the answer.
    public let timeout: Duration
    /// The port it listens on: the address's, or the one the system chose for port 0.
    public let port: Int
    private let descriptor: Int32
    private let handler: @Sendable (ServedRequest) -> ServedResponse
    private let state = Mutex(State())

    private struct State {
        var open = 0
        var started = false
        var stopped = false
    }

    /// Binds and listens at once, so an address in use is an error here, before anything runs.
    public init(listen address: ListenAddress, timeout: Duration = .seconds(2),
                handler: @escaping @Sendable (ServedRequest) -> ServedResponse) throws(SystemError) {
        self.address = address
        // A zero timeval would mean no timeout at all.
        self.timeout = max(timeout, .milliseconds(1))
        self.handler = handler
        let family = ListenAddress.family(of: address.host) ?? AF_INET
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError(call: "socket") }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        do throws(SystemError) {
            if family == AF_INET6 {
                setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size))
                var socketAddress = sockaddr_in6()
                socketAddress.sin6_family = sa_family_t(AF_INET6)
                socketAddress.sin6_port = in_port_t(UInt16(address.port).bigEndian)
                inet_pton(AF_INET6, address.host, &socketAddress.sin6_addr)
                try Self.bind(descriptor, &socketAddress)
            } else {
                var socketAddress = sockaddr_in()
                socketAddress.sin_family = sa_family_t(AF_INET)
                socketAddress.sin_port = in_port_t(UInt16(address.port).bigEndian)
                inet_pton(AF_INET, address.host, &socketAddress.sin_addr)
                try Self.bind(descriptor, &socketAddress)
            }
            guard listen(descriptor, 64) == 0 else { throw SystemError(call: "listen") }
            port = try Self.boundPort(descriptor)
        } catch {
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
    }

    /// Starts accepting on a thread of its own; returns at once.
    public func start() throws(SystemError) {
        let start = state.withLock { state in
            defer { state.started = true }
            return !state.started && !state.stopped
        }
        guard start else { return }
        try DedicatedThread.start(name: "httpq-listen") { self.accept() }
    }

    /// Stops accepting; requests being served finish on their threads.
    public func stop() {
        let (started, first) = state.withLock { state in
            defer { state.stopped = true }
            return (state.started, !state.stopped)
        }
        guard first else { return }
        if started {
            shutdown(descriptor, Int32(SHUT_RDWR))   // wakes accept(), which then closes it
        } else {
            close(descriptor)
        }
    }

    private func accept() {
        while true {
            let connection = Glibc.accept(descriptor, nil, nil)
            if connection < 0 {
                let failure = errno
                if state.withLock({ $0.stopped }) { break }
                switch failure {
                case EINTR, ECONNABORTED, EPROTO:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    usleep(100_000)   // out of descriptors or memory for now: try again shortly
                    continue
                default:
                    break
                }
                break
            }
            let admitted = state.withLock { state in
                guard state.open < Self.maxConnections else { return false }
                state.open += 1
                return true
            }
            guard admitted else {
                close(connection)
                continue
            }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)   // accept4 and SOCK_CLOEXEC: not in every Glibc module build
            let (seconds, attoseconds) = self.timeout.components
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            do {
                try DedicatedThread.start(name: "httpq-serve") {
                    self.serve(connection)
                    self.state.withLock { $0.open -= 1 }
                }
            } catch {
                close(connection)
                state.withLock { $0.open -= 1 }
            }
        }
        close(descriptor)
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        let response: ServedResponse
        var method = "GET"
        switch Self.readHead(connection) {
        case .closed:
            return
        case .tooLarge:
            response = .text(431, "request head over \(Self.maxHeadBytes) bytes")
        case .timedOut:
            response = .text(408, "request head not received within \(timeout)")
        case .head(let head):
            // By bytes: a String's "\r\n" is one Character, equal neither to "\r" nor to "\n".
            let line = String(decoding: head.utf8.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
            let words = line.split(separator: " ", omittingEmptySubsequences: false)
            if words.count != 3 || !words[2].hasPrefix("HTTP/1.") || !words[1].hasPrefix("/") {
                response = .text(400, "expected a request line such as GET /metrics HTTP/1.1")
            } else if words[0] != "GET" && words[0] != "HEAD" {
                var refusal = ServedResponse.text(405, "only GET and HEAD are served")
                refusal.headers.append((name: "Allow", value: "GET, HEAD"))
                response = refusal
            } else {
                method = String(words[0])
                response = handler(ServedRequest(method: method, target: String(words[1])))
            }
        }
        var head = "HTTP/1.1 \(response.status) \(ServedResponse.reason(response.status))\r\n"
        head += "Content-Type: \(response.contentType)\r\n"
        head += "Content-Length: \(response.body.count)\r\n"
        head += "Connection: close\r\nCache-Control: no-store\r\n"
        for header in response.headers {
            head += "\(header.name): \(header.value)\r\n"
        }
        head += "\r\n"
        guard Self.write(connection, Array(head.utf8)) else { return }
        if method != "HEAD" {
            _ = Self.write(connection, response.body)
        }
        shutdown(connection, Int32(SHUT_WR))
        Self.drain(connection)
    }

    /// Reads what the client still sends (the rest of a head too large, say) until it closes,
    /// at most 64 KiB or the timeout: closing with unread bytes would reset the connection,
    /// and the client could lose the answer.
    private static func drain(_ connection: Int32) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        var total = 0
        while total < 64 * 1024 {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            total += count
        }
    }

    private enum Head {
        case head(String)
        case closed
        case tooLarge
        case timedOut
    }

    /// Reads up to the blank line that ends the request head.
    private static func readHead(_ connection: Int32) -> Head {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? .timedOut : .closed
            }
            if count == 0 { return .closed }
            bytes.append(contentsOf: chunk[..<count])
            if let end = endOfHead(bytes) {
                return end > maxHeadBytes ? .tooLarge : .head(String(decoding: bytes[..<end], as: UTF8.self))
            }
            if bytes.count > maxHeadBytes { return .tooLarge }
        }
    }

    private static func endOfHead(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    private static func write(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                send(connection, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            sent += count
        }
        return true
    }

    private static func bind<Address>(_ descriptor: Int32, _ address: inout Address) throws(SystemError) {
        let code = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<Address>.size))
            }
        }
        guard code == 0 else { throw SystemError(call: "bind") }
    }

    private static func boundPort(_ descriptor: Int32) throws(SystemError) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let code = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard code == 0 else { throw SystemError(call: "getsockname") }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                Int(UInt16(bigEndian: $0.pointee.sin_port))
            }
        }
    }
}
