/// The headers of the final response, as libcurl hands them over one line at a time.
///
/// libcurl delivers the headers of every response it reads on a transfer, including interim
/// `1xx` ones; a status line starts a new response, so it clears what came before. Names are
/// lower-cased; a repeated header keeps one entry with its values joined by ", ".
///
/// A transfer's header lines are capped, by count and by bytes, over every response it reads
/// (interim ones too, status and blank lines included). Past a cap a line is not kept and
/// `exceeded` says which cap, so the transfer can be ended.
struct ResponseHeaders: Equatable, Sendable {
    /// The most header lines one transfer may deliver. Common servers refuse far fewer in a
    /// request (Apache: 100 fields), so a real response stays well inside 500, and a flood of
    /// short lines ends long before it costs anything.
    static let maxLines = 500
    /// The most header bytes one transfer may deliver: four times Node's 16 KiB default, a
    /// large cookie and policy set fits, and the headers stored per attempt stay on the scale
    /// of the default body cap (`--max-response-bytes`, 65536). libcurl 7.88 caps a single
    /// line at 100 KiB but not the total.
    static let maxBytes = 65536

    /// Name and value pairs in arrival order, names lower-case and unique.
    private(set) var fields: [(name: String, value: String)] = []
    /// Where each name is in `fields`, so a repeated header is found without a scan.
    private var positions: [String: Int] = [:]
    private var lineCount = 0
    private var byteCount = 0

    /// Which cap the lines went past ("the response headers exceeded 500 lines"), or nil.
    private(set) var exceeded: String?

    static func == (lhs: ResponseHeaders, rhs: ResponseHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Takes one raw header line (with or without its CRLF); a line past a cap is dropped and
    /// sets `exceeded`.
    mutating func add(line raw: some Collection<UInt8>) {
        lineCount += 1
        byteCount += raw.count
        if lineCount > Self.maxLines {
            exceeded = "the response headers exceeded \(Self.maxLines) lines"
        } else if byteCount > Self.maxBytes {
            exceeded = "the response headers exceeded \(Self.maxBytes) bytes"
        }
        guard exceeded == nil else { return }
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
            startResponse()
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
            startResponse()
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

    /// A status line: the headers of an earlier (interim) response are dropped.
    private mutating func startResponse() {
        fields.removeAll(keepingCapacity: true)
        positions.removeAll(keepingCapacity: true)
    }

    private mutating func add(name: String, value: String) {
        if let index = positions[name] {
            fields[index].value += ", " + value
        } else {
            positions[name] = fields.count
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
