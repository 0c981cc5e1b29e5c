/// `bytea` values in text format: decoding them as they arrive, encoding parameters.
public enum Bytea {
    /// The hex format of `bytes` (`\x48656c6c6f`), as a text parameter for a `bytea`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + 2 * bytes.count)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Decodes the hex format (`\x48656c6c6f`), the server's default `bytea_output`.
    /// Returns nil for anything else, including the legacy escape format.
    public static func decodeHex(_ text: String) -> [UInt8]? {
        var text = text
        // Every claimed body passes through here, so it works on the contiguous UTF-8 directly.
        return text.withUTF8 { utf8 -> [UInt8]? in
            guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"),
                utf8.count % 2 == 0
            else { return nil }
            let count = (utf8.count - 2) / 2
            var valid = true
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { bytes, initialized in
                for index in 0..<count {
                    let high = hexValue(utf8[2 + 2 * index])
                    let low = hexValue(utf8[3 + 2 * index])
                    guard high < 16, low < 16 else {
                        valid = false
                        break
                    }
                    bytes[index] = high << 4 | low
                    initialized = index + 1
                }
            }
            return valid ? bytes : nil
        }
    }

    /// The value of a hex digit, or 255 for any other byte.
    private static func hexValue(_ character: UInt8) -> UInt8 {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return 255
        }
    }
}
