import Foundation
import Glibc
import Synchronization

/// A small real HTTP/1.1 server on 127.0.0.1 (or ::1) for tests: an ephemeral port, keep-alive,
/// one thread per connection, and a script that decides each reply. It records every request
/// and counts every connection it accepts.
final class TestHTTPServer: Sendable {
    /// A request as the server read it.
    struct Received: Sendable {
        var method: String
        var path: String
        /// Header names lower-case; a repeated header keeps its last value.
        var headers: [String: String]
        var body: [UInt8]
        var at: ContinuousClock.Instant
        /// How many earlier requests had the same path (0 for the first).
        var index: Int
        /// Which connection it came on (requests on one connection share the number).
        var connection: Int32
    }

    /// What the script answers.
    struct Reply: Sendable {
        var status = 200
        var headers: [(String, String)] = []
        var body = ""
        /// Wait this long before answering.
        var delay: Duration = .zero
        /// Never answer; hold the connection until the client gives up.
        var hang = false
        /// Send exactly this instead of a composed response.
        var raw: [UInt8]?
        /// After sending, keep the connection open and silent until the client gives up.
        var holdOpen = false

        static func status(_ status: Int, _ headers: [(String, String)] = [], body: String = "") -> Reply {
            Reply(status: status, headers: headers, body: body)
        }
    }

    typealias Script = @Sendable (Received) -> Reply

    let port: Int
    /// The loopback address listened on: 127.0.0.1 or ::1.
    let host: String
    private let listener: Int32
    private let accepted = Atomic<Int>(0)
    private let script: Script
    private let received = Mutex<[Received]>([])
    private let open = Mutex<Set<Int32>>([])
    private let stopped = Atomic<Bool>(false)

    /// Listens on `host`, 127.0.0.1 or ::1 (IPv6 only, so a v4 listener may share the port number).
    init(host: String = "127.0.0.1", script: @escaping Script) throws {
        self.script = script
        self.host = host
        let ipv6 = host.contains(":")
        let listener = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        guard listener >= 0 else { throw TestFailure("socket failed") }
        var one: Int32 = 1
        if ipv6 {
            setsockopt(listener, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_storage()
        let length = socklen_t(ipv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        withUnsafeMutableBytes(of: &address) { bytes in
            if ipv6 {
                let pointer = bytes.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                pointer.pointee.sin6_family = sa_family_t(AF_INET6)
                _ = inet_pton(AF_INET6, host, &pointer.pointee.sin6_addr)
            } else {
                let pointer = bytes.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                pointer.pointee.sin_family = sa_family_t(AF_INET)
                pointer.pointee.sin_addr.s_addr = inet_addr(host)
            }
        }
        var boundLength = length
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &boundLength) == 0
            }
        }
        guard bound, listen(listener, 1024) == 0 else { throw TestFailure("bind/listen failed") }
        // The port sits at the same offset in sockaddr_in and sockaddr_in6.
        port = withUnsafeBytes(of: &address) { Int(UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self))) }
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// The URL of `path` on this server.
    func url(_ path: String) -> String {
        host.contains(":") ? "http://[\(host)]:\(port)\(path)" : "http://\(host):\(port)\(path)"
    }

    /// How many connections the server has accepted.
    var connections: Int {
        accepted.load(ordering: .sequentiallyConsistent)
    }

    /// Every request received so far, in arrival order.
    var requests: [Received] {
        received.withLock { $0 }
    }

    /// The requests received for `path`.
    func requests(_ path: String) -> [Received] {
        requests.filter { $0.path == path }
    }

    /// Closes the listener and every connection.
    func stop() {
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        open.withLock { fds in
            for fd in fds { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    // MARK: - Serving

    private func acceptLoop() {
        while !stopped.load(ordering: .sequentiallyConsistent) {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            accepted.add(1, ordering: .sequentiallyConsistent)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            open.withLock { _ = $0.insert(fd) }
            Thread.detachNewThread { [self] in serve(fd) }
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            open.withLock { _ = $0.remove(fd) }
            close(fd)
        }
        var buffer: [UInt8] = []
        while let request = readRequest(fd, &buffer) {
            let reply = script(request)
            if reply.hang {
                var byte: UInt8 = 0
                while recv(fd, &byte, 1, 0) > 0 {}  // until the client gives up
                return
            }
            if reply.delay > .zero {
                Thread.sleep(
                    forTimeInterval: Double(reply.delay.components.seconds)
                        + Double(reply.delay.components.attoseconds) / 1e18)
            }
            guard write(fd, reply.raw ?? response(reply, head: request.method == "HEAD")) else { return }
            if reply.holdOpen {
                var byte: UInt8 = 0
                while recv(fd, &byte, 1, 0) > 0 {}  // until the client gives up
                return
            }
            if request.headers["connection"]?.lowercased() == "close" { return }
        }
    }

    /// Reads one request (head and Content-Length body), recording it; nil when the connection ends.
    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> Received? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while true {
            if let range = buffer.firstRange(of: separator) {
                headEnd = range.upperBound
                break
            }
            guard readMore(fd, &buffer) else { return nil }
        }
        guard let headEnd else { return nil }
        let lines = String(decoding: buffer[..<(headEnd - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < headEnd + length {
            guard readMore(fd, &buffer) else { return nil }
        }
        let body = Array(buffer[headEnd..<(headEnd + length)])
        buffer.removeFirst(headEnd + length)
        let path = String(requestLine[1])
        return received.withLock { log in
            let request = Received(
                method: String(requestLine[0]), path: path, headers: headers, body: body,
                at: .now, index: log.filter { $0.path == path }.count, connection: fd)
            log.append(request)
            return request
        }
    }

    private func readMore(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }

    private func response(_ reply: Reply, head: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(reply.status) Scripted\r\n"
        for (name, value) in reply.headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(reply.body.utf8.count)\r\n\r\n"
        if !head { text += reply.body }
        return Array(text.utf8)
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }
}

/// A test precondition that failed outside an expectation.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
