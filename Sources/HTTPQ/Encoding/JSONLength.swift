/// Counts the bytes `JSONBuffer` would write, exactly, without writing them: base64 is 4 bytes
/// per 3 (padded), and each escape has a fixed width, so only strings are scanned, never encoded.
struct JSONLength: JSONWriter {
    private(set) var count = 0

    mutating func append(raw text: StaticString) {
        count += text.utf8CodeUnitCount
    }

    mutating func append(_ value: some BinaryInteger) {
        if value < 0 { count += 1 }
        var magnitude = UInt64(value.magnitude)
        repeat {
            count += 1
            magnitude /= 10
        } while magnitude > 0
    }

    /// As `JSONBuffer` escapes: `"`, `\`, newline, return and tab take two bytes, other control
    /// characters six (`\u00XX`), everything else itself.
    mutating func append(quoted text: String) {
        count += 2
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                count += 2
            case ..<0x20:
                count += 6
            default:
                count += 1
            }
        }
    }

    mutating func append(base64 data: [UInt8]) {
        count += 2 + (data.count + 2) / 3 * 4
    }
}
