import Testing

@testable import HTTPQ

/// Responses meant to hold a worker up: floods of headers and stalls, over real loopback
/// connections, without a worker or a database.
@Suite struct HostileResponseTests {
    func raw(_ text: String, holdOpen: Bool = false) -> TestHTTPServer.Reply {
        TestHTTPServer.Reply(raw: Array(text.utf8), holdOpen: holdOpen)
    }

    func send(
        _ server: TestHTTPServer, settings: TransferSettings = TransferSettings(), timeoutMilliseconds: Int = 20_000
    )
        throws -> HTTPResult
    {
        try DirectTransfer(settings: settings).send(
            try DirectTransfer.request(
                server.url("/"), allowing: ["127.0.0.0/8"], timeoutMilliseconds: timeoutMilliseconds))
    }

    @Test("Ends a transfer whose response has 46,000 short headers, with the line cap as its error")
    func headerFlood() throws {
        var flood = "HTTP/1.1 200 OK\r\n"
        for index in 0..<46_000 { flood += "X-\(index): v\r\n" }
        let response = flood + "Content-Length: 0\r\n\r\n"
        let server = try TestHTTPServer { _ in raw(response) }
        defer { server.stop() }
        let result = try send(server)
        #expect(result.status == nil)
        #expect(!result.refused)
        #expect(result.error == "the response headers exceeded 500 lines")
    }

    @Test("Ends a transfer whose headers pass 64 KiB in fewer than 500 lines")
    func headerBytes() throws {
        let long = String(repeating: "a", count: 1000)
        var response = "HTTP/1.1 200 OK\r\n"
        for index in 0..<100 { response += "X-\(index): \(long)\r\n" }
        response += "Content-Length: 0\r\n\r\n"
        let server = try TestHTTPServer { [response] _ in raw(response) }
        defer { server.stop() }
        let result = try send(server)
        #expect(result.status == nil)
        #expect(result.error == "the response headers exceeded 65536 bytes")
    }

    @Test("Merges many repeated headers within the cap, in order, keeping the others apart")
    func repeatedHeaders() throws {
        var response = "HTTP/1.1 200 OK\r\nX-First: 1\r\n"
        for index in 0..<400 { response += "Set-Cookie: c\(index)=\(index)\r\n" }
        response += "X-Last: 2\r\nContent-Length: 2\r\n\r\nok"
        let server = try TestHTTPServer { [response] _ in raw(response) }
        defer { server.stop() }
        let result = try send(server)
        #expect(result.status == 200)
        #expect(result.headers.fields.map(\.name) == ["x-first", "set-cookie", "x-last", "content-length"])
        let cookies = (0..<400).map { "c\($0)=\($0)" }.joined(separator: ", ")
        #expect(result.headers.fields.first { $0.name == "set-cookie" }?.value == cookies)
        #expect(result.body == Array("ok".utf8))
    }

    @Test("Merges repeated names into one entry and keeps no line past the cap of 500")
    func headerMergeIsLinear() {
        var headers = ResponseHeaders()
        headers.add(line: Array("HTTP/1.1 200 OK\r\n".utf8))
        for index in 0..<498 {
            headers.add(line: Array("X-\(index % 7): \(index)\r\n".utf8))
        }
        #expect(headers.exceeded == nil)
        #expect(headers.fields.count == 7)
        headers.add(line: Array("\r\n".utf8))
        #expect(headers.exceeded == nil)
        headers.add(line: Array("X-Over: 1\r\n".utf8))
        #expect(headers.exceeded == "the response headers exceeded 500 lines")
        #expect(!headers.fields.contains { $0.name == "x-over" })
    }

    @Test("Ends a transfer that sends its status line and then nothing, by the low-speed rule")
    func stalledAfterStatusLine() throws {
        let server = try TestHTTPServer { _ in raw("HTTP/1.1 200 OK\r\n", holdOpen: true) }
        defer { server.stop() }
        let result = try send(server, settings: TransferSettings(lowSpeedTime: 1), timeoutMilliseconds: 20_000)
        #expect(result.status == nil)
        #expect(
            result.error
                == "the transfer stalled: less than 1 byte per second for 1 seconds (--low-speed-limit, --low-speed-time)"
        )
        #expect(result.durationMilliseconds < 10_000)
    }

    @Test("A request whose timeout is within the low-speed time ends by its timeout")
    func timeoutWithinLowSpeedTime() throws {
        let server = try TestHTTPServer { _ in raw("HTTP/1.1 200 OK\r\n", holdOpen: true) }
        defer { server.stop() }
        let result = try send(server, settings: TransferSettings(lowSpeedTime: 5), timeoutMilliseconds: 1000)
        #expect(result.status == nil)
        #expect(result.error?.contains("stalled") == false)
        #expect(result.error?.contains("timed out") == true)
    }
}
