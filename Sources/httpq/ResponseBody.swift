import HTTPQ

/// A response body as `httpq show` and the dashboard show it: as text when it is UTF-8, else
/// by its size.
enum ResponseBody {
    /// The body, given as the hex digits of `encode(body, 'hex')`, described for a reader.
    static func describe(hex: String) -> String {
        guard let bytes = Database.bytes(fromBytea: "\\x" + hex) else { return "(not shown)" }
        if bytes.isEmpty { return "(empty)" }
        guard let text = String(validating: bytes, as: UTF8.self) else { return "(\(bytes.count) bytes, not UTF-8)" }
        return String(text.reversed().drop(while: \.isNewline).reversed())
    }
}
