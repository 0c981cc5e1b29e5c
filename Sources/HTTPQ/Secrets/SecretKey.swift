@preconcurrency internal import Crypto

/// One key of the secret store: 32 random bytes, and the id derived from them.
///
/// swift-crypto 3 declares no `Sendable` conformances; a `SymmetricKey` is immutable once
/// made, so sharing one between threads is safe, hence the `@preconcurrency` import.
public struct SecretKey: Sendable, CustomStringConvertible {
    /// How many bytes a key is: ChaChaPoly takes 256-bit keys.
    static let byteCount = 32

    /// Lowercase hex of the first 8 bytes of SHA-256 over "httpq secret key id", a 0 byte and
    /// the key. Stored beside each sealed value to say which key sealed it; it reveals nothing
    /// of the key, so it may be printed. Derived, never chosen, so two keys cannot share one.
    public let id: String
    let symmetricKey: SymmetricKey

    /// A key from exactly `byteCount` bytes.
    init(bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount)
        symmetricKey = SymmetricKey(data: bytes)
        id = Self.id(of: bytes)
    }

    private static func id(of bytes: [UInt8]) -> String {
        var hash = SHA256()
        hash.update(data: Array("httpq secret key id".utf8) + [0])
        hash.update(data: bytes)
        return hash.finalize().prefix(8).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 0x10 ? "0" + hex : hex
        }.joined()
    }

    /// Names the key by its id only, so that printing a key never prints its bytes.
    public var description: String { "secret key \(id)" }

    /// A new random key in its text form, the base64 of 32 bytes, as HTTPQ_SECRET_KEY takes it.
    public static func generateText() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Base64.encode(Array($0)) }
    }
}
