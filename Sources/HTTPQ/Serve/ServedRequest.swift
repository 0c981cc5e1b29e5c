/// A request as an httpq HTTP server hands it to its handler: GET or HEAD, no body.
public struct ServedRequest: Sendable {
    public let method: String
    /// The path as sent, still percent-encoded: `/channels/a%2Fb`.
    public let path: String
    /// The path's segments, each percent-decoded: `["channels", "a/b"]`. A channel name
    /// may hold a slash, so segments are decoded one by one, after the split.
    public let segments: [String]
    /// The query's parameters, percent-decoded (`+` is a space); the last of a repeated name.
    public let query: [String: String]

    public init(method: String, target: String) {
        self.method = method
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = String(parts.first ?? "/")
        segments = path.split(separator: "/").map { Self.decode($0) }
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let nameAndValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = Self.decode(nameAndValue[0], plusIsSpace: true)
                query[name] = nameAndValue.count == 2 ? Self.decode(nameAndValue[1], plusIsSpace: true) : ""
            }
        }
        self.query = query
    }

    /// Percent-decoding; a malformed escape is kept as written, and bytes that are not
    /// UTF-8 become U+FFFD.
    static func decode(_ text: Substring, plusIsSpace: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var rest = text.utf8[...]
        while let byte = rest.popFirst() {
            if byte == UInt8(ascii: "%"), rest.count >= 2,
               let high = hexValue(rest[rest.startIndex]),
               let low = hexValue(rest[rest.index(after: rest.startIndex)]) {
                bytes.append(high << 4 | low)
                rest = rest.dropFirst(2)
            } else if byte == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
