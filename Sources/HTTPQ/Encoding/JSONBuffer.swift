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

    /// Appends an integer in decimal (`String(value)` costs several hundred instructions).
    mutating func append(_ value: some BinaryInteger) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = UInt64(value.magnitude)
        // 20 digits hold any UInt64; they are written from the right, on the stack.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// Appends `text` as a JSON string literal, quotes included. Only `"`, `\` and control
    /// characters are escaped; everything else, Unicode included, is copied as it is, in runs.
    mutating func append(quoted text: String) {
        var text = text
        bytes.append(UInt8(ascii: "\""))
        text.withUTF8 { utf8 in
            var runStart = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5c {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): append(raw: "\\\"")
                case UInt8(ascii: "\\"): append(raw: "\\\\")
                case UInt8(ascii: "\n"): append(raw: "\\n")
                case UInt8(ascii: "\r"): append(raw: "\\r")
                case UInt8(ascii: "\t"): append(raw: "\\t")
                default:
                    append(raw: "\\u00")
                    bytes.append(Self.hexDigits[Int(byte >> 4)])
                    bytes.append(Self.hexDigits[Int(byte & 0x0f)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
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
