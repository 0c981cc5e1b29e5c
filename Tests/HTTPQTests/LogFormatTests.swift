import Testing

@testable import HTTPQ

@Suite struct LogFormatTests {
    let fields = [("request_id", "42"), ("error", "Connection refused")]

    @Test("Text lines: time, level, message, then key=value, quoting values with spaces")
    func text() {
        let line = LineLogHandler.line(time: "T", level: .debug, message: "no response", fields: fields, format: .text)
        #expect(line == #"T debug no response request_id=42 error="Connection refused""#)
    }

    @Test("JSON lines: one object with time, level, message and the metadata")
    func json() {
        let line = LineLogHandler.line(time: "T", level: .info, message: "a \"b\"", fields: fields, format: .json)
        #expect(
            line == #"{"time":"T","level":"info","message":"a \"b\"","request_id":"42","error":"Connection refused"}"#)
    }

    @Test("Timestamps are UTC ISO 8601 with milliseconds")
    func timestamp() {
        let stamp = LineLogHandler.timestamp()
        #expect(stamp.count == 24)
        #expect(stamp.hasSuffix("Z"))
        #expect(stamp.dropFirst(10).first == "T")
    }
}
