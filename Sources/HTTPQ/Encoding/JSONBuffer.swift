/// JSON text built as UTF-8 bytes in one growing buffer.
///
/// A report carries hundreds of outcomes; building each piece as a `String` and joining them
/// cost more CPU than the rest of a delivery, so the pieces are written straight into bytes.
struct JSONBuffer {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// The text so far.
    var string: String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Appends JSON syntax or any text that needs no escaping.
    mutating func append(raw text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends an integer in decimal.
    mutating func append(_ value: some BinaryInteger) {
        // Up to 15 digits fit a small (unallocated) String.
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Appends `text` as a JSON string literal, quotes included. Only `"`, `\` and control
    /// characters are escaped; everything else, Unicode included, is copied as it is.
    mutating func append(quoted text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append(raw: "\\\"")
            case UInt8(ascii: "\\"): append(raw: "\\\\")
            case UInt8(ascii: "\n"): append(raw: "\\n")
            case UInt8(ascii: "\r"): append(raw: "\\r")
            case UInt8(ascii: "\t"): append(raw: "\\t")
            case 0..<0x20:
                append(raw: "\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0f)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `data` as a base64 JSON string literal, quotes included.
    mutating func append(base64 data: [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        Base64.encode(data, into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
