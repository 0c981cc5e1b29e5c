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

    @Test("Control characters a destination wrote (C0, DEL, C1) never reach the log raw, in either format")
    func controlCharacters() {
        let hostile = [("error", "bad\u{1B}[2Jhost\u{7F}\u{9B}"), ("status", "503")]
        let text = LineLogHandler.line(time: "T", level: .info, message: "m", fields: hostile, format: .text)
        #expect(text == #"T info m error="bad\u001b[2Jhost\u007f\u009b" status=503"#)
        let json = LineLogHandler.line(time: "T", level: .info, message: "m", fields: hostile, format: .json)
        #expect(json == #"{"time":"T","level":"info","message":"m","error":"bad\u001b[2Jhost\u007f\u009b","status":"503"}"#)
        #expect(!(text + json).unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) })
    }

    @Test("Timestamps are UTC ISO 8601 with milliseconds")
    func timestamp() {
        let stamp = LineLogHandler.timestamp()
        #expect(stamp.count == 24)
        #expect(stamp.hasSuffix("Z"))
        #expect(stamp.dropFirst(10).first == "T")
    }
}
