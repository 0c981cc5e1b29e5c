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
        let line = String(decoding: raw, as: UTF8.self)
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
