/// The little JSON the worker needs: quoting strings for the report, and reading the claimed
/// headers and sealed secrets, objects whose values are strings or objects of strings.
enum JSON {
    /// `text` as a JSON string literal, quotes included.
    static func quote(_ text: String) -> String {
        var buffer = JSONBuffer(capacity: text.utf8.count + 2)
        buffer.append(quoted: text)
        return buffer.string
    }

    /// A malformed document, with where reading stopped.
    struct ParseError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// Reads a JSON object whose values are all strings, keeping the members' order.
    static func parseStringObject(_ text: String) throws(ParseError) -> [(String, String)] {
        var reader = Reader(bytes: Array(text.utf8))
        let members = try reader.stringObject()
        try reader.end()
        return members
    }

    /// A member's value in `parseObject`: a string, or an object of strings.
    enum Value {
        case string(String)
        case object([(String, String)])
    }

    /// Reads a JSON object whose values are strings or objects of strings (a claimed header
    /// may be a secret reference, `{"secret": ..., "prefix": ...}`), keeping the order.
    static func parseObject(_ text: String) throws(ParseError) -> [(String, Value)] {
        var reader = Reader(bytes: Array(text.utf8))
        var members: [(String, Value)] = []
        try reader.members { (name, reader) throws(ParseError) in
            if reader.peek() == UInt8(ascii: "{") {
                members.append((name, .object(try reader.stringObject())))
            } else {
                members.append((name, .string(try reader.string())))
            }
        }
        try reader.end()
        return members
    }
}

/// A cursor over JSON text for `JSON.parseStringObject`.
private struct Reader {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func stringObject() throws(JSON.ParseError) -> [(String, String)] {
        var members: [(String, String)] = []
        try self.members { (name, reader) throws(JSON.ParseError) in
            members.append((name, try reader.string()))
        }
        return members
    }

    /// Reads one object, handing each member's name to `value`, which reads its value.
    mutating func members(
        _ value: (String, inout Reader) throws(JSON.ParseError) -> Void
    ) throws(JSON.ParseError) {
        try expect(UInt8(ascii: "{"))
        if peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            let name = try string()
            try expect(UInt8(ascii: ":"))
            try value(name, &self)
            if peek() == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    /// Throws unless only blanks are left.
    mutating func end() throws(JSON.ParseError) {
        guard peek() == nil else { throw failure("unexpected text after the object") }
    }

    /// The next non-blank byte, not consumed.
    mutating func peek() -> UInt8? {
        while position < bytes.count, Self.isBlank(bytes[position]) {
            position += 1
        }
        return position < bytes.count ? bytes[position] : nil
    }

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }

    mutating func expect(_ byte: UInt8) throws(JSON.ParseError) {
        guard peek() == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    mutating func string() throws(JSON.ParseError) -> String {
        try expect(UInt8(ascii: "\""))
        // Most strings have no escapes: take them in one piece.
        if let end = bytes[position...].firstIndex(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }),
            bytes[end] == UInt8(ascii: "\"")
        {
            let start = position
            position = end + 1
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        var output: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: output, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try escape(into: &output)
            default:
                output.append(byte)
            }
        }
        throw failure("unterminated string")
    }

    mutating func escape(into output: inout [UInt8]) throws(JSON.ParseError) {
        guard position < bytes.count else { throw failure("unterminated escape") }
        let byte = bytes[position]
        position += 1
        let simple: UInt8? =
            switch byte {
            case UInt8(ascii: "\""): 0x22
            case UInt8(ascii: "\\"): 0x5c
            case UInt8(ascii: "/"): 0x2f
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0c
            case UInt8(ascii: "n"): 0x0a
            case UInt8(ascii: "r"): 0x0d
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
        if let value = simple {
            output.append(value)
            return
        }
        guard byte == UInt8(ascii: "u") else { throw failure("unknown escape") }
        var scalar = try hex4()
        if (0xD800...0xDBFF).contains(scalar) {
            // A UTF-16 surrogate pair spells one scalar in two escapes.
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                bytes[position + 1] == UInt8(ascii: "u")
            else { throw failure("lone surrogate") }
            position += 2
            let low = try hex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw failure("lone surrogate") }
            scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid code point") }
        output.append(contentsOf: Array(String(Character(unicode)).utf8))
    }

    mutating func hex4() throws(JSON.ParseError) -> UInt32 {
        guard position + 4 <= bytes.count,
            let value = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16)
        else { throw failure("bad \\u escape") }
        position += 4
        return value
    }

    func failure(_ what: String) -> JSON.ParseError {
        JSON.ParseError(description: "\(what) at byte \(position)")
    }
}
