import Testing

@testable import HTTPQ

@Suite struct EncodingTests {
    @Test(
        "Base64 matches the RFC 4648 test vectors",
        arguments: [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ])
    func base64(input: String, encoded: String) {
        #expect(Base64.encode(Array(input.utf8)) == encoded)
    }

    @Test("Base64 encodes every byte value")
    func base64Binary() {
        #expect(Base64.encode([0, 255, 254, 1]) == "AP/+AQ==")
    }

    @Test("JSON strings escape quotes, backslashes and control characters, and keep Unicode")
    func quote() {
        #expect(JSON.quote("a\"b\\c\nd\u{1}é🙂") == #""a\"b\\c\nd\u0001é🙂""#)
    }

    @Test("The byte buffer writes integers of any sign and quotes runs of text between escapes")
    func buffer() {
        var buffer = JSONBuffer()
        buffer.append(Int64.min)
        buffer.append(raw: ",")
        buffer.append(0)
        buffer.append(raw: ",")
        buffer.append(UInt64.max)
        buffer.append(raw: ",")
        buffer.append(quoted: "")
        buffer.append(raw: ",")
        buffer.append(quoted: "\u{1f}ab\"cd\\")
        #expect(buffer.string == #"-9223372036854775808,0,18446744073709551615,"","\u001fab\"cd\\""#)
    }

    @Test("Reads a flat object of strings in order, with escapes and surrogate pairs")
    func parseObject() throws {
        let members = try JSON.parseStringObject(#" { "B": "1", "a": "x\"y\\z\/\u00e9\ud83d\ude42" , "c":"" } "#)
        #expect(members.map(\.0) == ["B", "a", "c"])
        #expect(members.map(\.1) == ["1", "x\"y\\z/é🙂", ""])
        #expect(try JSON.parseStringObject("{}").isEmpty)
    }

    @Test(
        "Rejects anything but an object of strings",
        arguments: [
            "", "[]", #"{"a": 1}"#, #"{"a": "b""#, #"{"a": "b"} x"#, #"{"a": "\ud83d"}"#, #"{"a": "\q"}"#,
        ])
    func parseRejects(text: String) {
        #expect(throws: JSON.ParseError.self) { try JSON.parseStringObject(text) }
    }

    @Test("Decodes hex-format bytea and refuses other text")
    func bytea() {
        #expect(Bytea.decodeHex(#"\x48656c6C6f"#) == Array("Hello".utf8))
        #expect(Bytea.decodeHex(#"\x"#) == [])
        #expect(Bytea.decodeHex("48656c") == nil)
        #expect(Bytea.decodeHex(#"\x486"#) == nil)
        #expect(Bytea.decodeHex(#"\x4g"#) == nil)
    }
}
