/// The headers of the final response, as libcurl hands them over one line at a time.
///
/// libcurl delivers the headers of every response it reads on a transfer, including interim
/// `1xx` ones; a status line starts a new response, so it clears what came before. Names are
/// lower-cased; a repeated header keeps one entry with its values joined by ", ".
struct ResponseHeaders: Equatable, Sendable {
    /// Name and value pairs in arrival order, names lower-case and unique.
    private(set) var fields: [(name: String, value: String)] = []

    static func == (lhs: ResponseHeaders, rhs: ResponseHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Takes one raw header line (with or without its CRLF).
    mutating func add(line raw: some Collection<UInt8>) {
        let handled = raw.withContiguousStorageIfAvailable { addASCII(line: $0) }
        if handled != true {
            addUnicode(line: String(decoding: raw, as: UTF8.self))
        }
    }

    /// The common case, an all-ASCII line, read as bytes: every call for every response comes
    /// here, and character-by-character `String` work cost more than the rest of a transfer.
    /// Returns false, having done nothing, for a line with other bytes.
    private mutating func addASCII(line: UnsafeBufferPointer<UInt8>) -> Bool {
        guard line.allSatisfy({ $0 < 0x80 }) else { return false }
        if line.starts(with: "HTTP/".utf8) {
            fields.removeAll(keepingCapacity: true)
            return true
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            return true  // the blank line ending the block, or a malformed line
        }
        var start = colon + 1
        while start < line.count, line[start] == UInt8(ascii: " ") || line[start] == UInt8(ascii: "\t") {
            start += 1
        }
        var end = line.count
        // Character.isWhitespace among ASCII: tab, line feed, vertical tab, form feed, CR, space.
        while end > start, line[end - 1] == 0x20 || (0x09...0x0d).contains(line[end - 1]) {
            end -= 1
        }
        let name = String(unsafeUninitializedCapacity: colon) { name in
            for index in 0..<colon {
                let byte = line[index]
                name[index] = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
            }
            return colon
        }
        add(name: name, value: String(decoding: UnsafeBufferPointer(rebasing: line[start..<end]), as: UTF8.self))
        return true
    }

    /// Any other line, read as Unicode text.
    private mutating func addUnicode(line: String) {
        if line.hasPrefix("HTTP/") {
            fields.removeAll(keepingCapacity: true)
            return
        }
        guard let colon = line.firstIndex(of: ":") else {
            return  // the blank line ending the block, or a malformed line
        }
        let name = line[..<colon].lowercased()
        let value = String(line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" }))
            .trimmingTrailingWhitespace()
        add(name: name, value: value)
    }

    private mutating func add(name: String, value: String) {
        if let index = fields.firstIndex(where: { $0.name == name }) {
            fields[index].value += ", " + value
        } else {
            fields.append((name, value))
        }
    }
}

extension String {
    fileprivate func trimmingTrailingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
