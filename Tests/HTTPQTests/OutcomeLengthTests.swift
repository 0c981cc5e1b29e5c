import Testing

@testable import HTTPQ

/// A response outcome with `headers` (raw lines) and `body`.
func response(_ id: Int64, headers: [String] = [], body: [UInt8] = [], status: Int = 200) -> Outcome {
    var fields = ResponseHeaders()
    for line in headers { fields.add(line: Array(line.utf8)) }
    return Outcome(
        id: id, attempt: 1,
        result: HTTPResult(status: status, headers: fields, body: body, error: nil, durationMilliseconds: 12))
}

/// An outcome's JSON length, counted without encoding, is exactly the encoding's.
@Suite struct OutcomeLengthTests {
    @Test(
        "Bodies of every length modulo 3 count as padded base64",
        arguments: [0, 1, 2, 3, 4, 5, 1000, 1001, 1002])
    func bodies(length: Int) {
        let outcome = response(7, body: [UInt8](repeating: 0xff, count: length))
        #expect(outcome.jsonLength == outcome.json.utf8.count)
    }

    @Test("Headers with escapes, control characters and Unicode count as written")
    func headers() {
        let outcome = response(
            123_456_789_012,
            headers: [
                "Content-Type: text/plain", "X-Quote: say \"hi\" \\ bye", "X-Tab: a\tb", "X-Control: \u{1}\u{1f}",
                "X-Unicode: café ✓ 🚀",
            ], body: Array("hello".utf8), status: 503)
        #expect(outcome.jsonLength == outcome.json.utf8.count)
    }

    @Test("A failure's error text counts with its escapes; a missing one as the default")
    func failures() {
        let withError = Outcome(
            id: 1, attempt: 12,
            result: HTTPResult(
                status: nil, headers: ResponseHeaders(), body: [], error: "couldn't connect:\n\"refused\"\r\u{7}",
                durationMilliseconds: 30_000))
        #expect(withError.jsonLength == withError.json.utf8.count)
        let withoutError = Outcome(
            id: 2, attempt: 1,
            result: HTTPResult(status: nil, headers: ResponseHeaders(), body: [], error: nil, durationMilliseconds: 0))
        #expect(withoutError.jsonLength == withoutError.json.utf8.count)
    }

    @Test("Integers count their digits and sign")
    func integers() {
        for value in [0, 9, 10, -1, -10, Int.max, Int.min] {
            var buffer = JSONBuffer()
            buffer.append(value)
            var length = JSONLength()
            length.append(value)
            #expect(length.count == buffer.bytes.count)
        }
    }
}
