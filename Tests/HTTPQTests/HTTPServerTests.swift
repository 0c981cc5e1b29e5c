import Glibc
import Testing

@testable import HTTPQ

/// The server behind `--listen` and `httpq dashboard`, spoken to over real sockets on 127.0.0.1.
@Suite struct HTTPServerTests {
    /// A server whose handler echoes what it was handed; a timeout no client here reaches
    /// unless it means to.
    private func echoServer(timeout: Duration = .seconds(60)) throws -> HTTPServer {
        let server = try HTTPServer(listen: ListenAddress(parsing: "127.0.0.1:0"), timeout: timeout) { request in
            let query = request.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            return ServedResponse(status: request.segments.first == "missing" ? 404 : 200,
                                  contentType: "text/plain", headers: [(name: "X-Test", value: "yes")],
                                  body: "\(request.method) \(request.path) \(request.segments) \(query)")
        }
        try server.start()
        return server
    }

    /// A socket connected to the server on 127.0.0.1, reads giving up after 10 s.
    private func connectedSocket(_ port: Int) throws -> Int32 {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(client >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(client)
            throw SystemError(call: "connect")
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return client
    }

    /// Connects, sends `text`, and reads the whole answer until the server closes.
    private func exchange(_ port: Int, _ text: String) throws -> String {
        let client = try connectedSocket(port)
        defer { close(client) }
        return exchange(client, text)
    }

    /// Sends `text` on a connected socket and reads the whole answer until the server closes.
    private func exchange(_ client: Int32, _ text: String) -> String {
        let bytes = Array(text.utf8)
        if !bytes.isEmpty {
            _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer.append(contentsOf: chunk[..<count])
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test("Parses HOST:PORT and refuses anything else, naming the rule")
    func listenAddresses() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:9090") == ListenAddress(parsing: "localhost:9090"))
        #expect(try ListenAddress(parsing: "[::1]:80").host == "::1")
        #expect(try ListenAddress(parsing: "[::1]:80").description == "[::1]:80")
        #expect(try ListenAddress(parsing: "0.0.0.0:0").port == 0)
        let refusals = [
            "9090": "must be HOST:PORT",
            "::1:9090": "must be HOST:PORT",
            "[::1]9090": "an IPv6 address goes in brackets",
            "127.0.0.1:": "the port must be a number from 0 to 65535",
            "127.0.0.1:65536": "the port must be a number from 0 to 65535",
            "127.0.0.1:-1": "the port must be a number from 0 to 65535",
            "example.com:80": "the host must be a numeric IPv4 or IPv6 address, or localhost",
            "[example]:80": "the host must be a numeric IPv4 or IPv6 address, or localhost",
        ]
        for (text, rule) in refusals {
            #expect(throws: ListenAddressError.self, "\(text)") { try ListenAddress(parsing: text) }
            do {
                _ = try ListenAddress(parsing: text)
            } catch {
                #expect(error.description.hasPrefix("\"\(text)\": \(rule)"), "\(text): \(error)")
            }
        }
    }

    @Test("Answers GET with the handler's status, headers and body, path segments and query decoded")
    func get() throws {
        let server = try echoServer()
        defer { server.stop() }
        let answer = try exchange(server.port, "GET /channels/a%2Fb/x?name=c+d&e=%3C HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.contains("\r\nX-Test: yes\r\n"))
        #expect(answer.contains("\r\nConnection: close\r\n"))
        let body = #"GET /channels/a%2Fb/x ["channels", "a/b", "x"] e=<&name=c d"#
        #expect(answer.contains("\r\nContent-Length: \(body.utf8.count)\r\n"))
        #expect(answer.hasSuffix("\r\n\r\n" + body))
        #expect(try exchange(server.port, "GET /missing HTTP/1.0\r\n\r\n").hasPrefix("HTTP/1.1 404 Not Found\r\n"))
    }

    @Test("Answers HEAD with the head alone, and refuses other methods and malformed requests")
    func refusals() throws {
        let server = try echoServer()
        defer { server.stop() }
        let head = try exchange(server.port, "HEAD /metrics HTTP/1.1\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.hasSuffix("\r\n\r\n"))
        let post = try exchange(server.port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(post.contains("\r\nAllow: GET, HEAD\r\n"))
        #expect(try exchange(server.port, "hello\r\n\r\n").hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(try exchange(server.port, "GET metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        let huge = "GET / HTTP/1.1\r\nX-Filler: " + String(repeating: "x", count: HTTPServer.maxHeadBytes) + "\r\n\r\n"
        let tooLarge = try exchange(server.port, huge)
        #expect(tooLarge.hasPrefix("HTTP/1.1 431 "), "\(tooLarge.prefix(200))")
    }

    @Test("A silent client holds only its own connection: others are answered meanwhile, and it is served once it speaks")
    func silentClientHoldsOnlyItsOwn() throws {
        // The default 60 s timeout, far beyond the test's length: the silent connection is still
        // open when the other is answered, however slowly this machine runs.
        let server = try echoServer()
        defer { server.stop() }
        let silent = try connectedSocket(server.port)
        defer { close(silent) }
        #expect(try exchange(server.port, "GET /healthz HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(try exchange(silent, "GET /late HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test("A client that sends nothing within the timeout is answered 408 and closed")
    func silentClientTimesOut() throws {
        let server = try echoServer(timeout: .milliseconds(300))
        defer { server.stop() }
        let answer = try exchange(server.port, "")
        #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(answer.prefix(200))")
        #expect(answer.hasSuffix("\r\n\r\nrequest head not received within 0.3 seconds\n"), "\(answer.suffix(200))")
    }

    @Test("An address in use is an error at once; after stop, connections are refused")
    func bindAndStop() throws {
        let server = try echoServer()
        #expect(throws: SystemError.self) {
            try HTTPServer(listen: ListenAddress(parsing: "127.0.0.1:\(server.port)")) { _ in .text(200, "") }
        }
        server.stop()
        #expect(throws: SystemError.self) { try self.exchange(server.port, "GET / HTTP/1.1\r\n\r\n") }
    }
}
