@preconcurrency internal import Crypto
internal import Foundation

/// A Standard Webhooks signing key, read from a secret's value: `whsec_` and the base64 of an
/// HMAC-SHA256 key (signatures `v1,…`), or `whsk_` and the base64 of an Ed25519 private key
/// (signatures `v1a,…`). What signing needs is worked out here, once, rather than per request.
///
/// - SeeAlso: https://www.standardwebhooks.com
public struct WebhookSigningKey: Sendable, CustomStringConvertible {
    /// The secret's name, for messages.
    public let name: String
    private let signer: Signer

    private enum Signer {
        /// HMAC with the key already absorbed; each signature starts from a copy.
        case hmac(HMAC<SHA256>)
        /// The private key with its public half derived, which costs about as much as a signature.
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    public init(secret: [UInt8], name: String) throws(WebhookSigningKeyError) {
        self.name = name
        // A value stored from a file or a terminal may end in a newline; base64 has no whitespace.
        let text = String(decoding: secret, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let encoded = text.removingPrefix("whsec_"), let bytes = Self.base64(encoded), !bytes.isEmpty {
            signer = .hmac(HMAC(key: SymmetricKey(data: bytes)))
        } else if let encoded = text.removingPrefix("whsk_"), let bytes = Self.base64(encoded) {
            signer = .ed25519(try Self.ed25519Key(bytes, name: name))
        } else {
            throw .malformed(name: name)
        }
    }

    /// A 32-byte seed, or 64 bytes of seed and public key (the form many libraries export),
    /// whose public half must be the seed's.
    private static func ed25519Key(_ bytes: [UInt8], name: String) throws(WebhookSigningKeyError)
        -> Curve25519.Signing.PrivateKey
    {
        guard bytes.count == 32 || bytes.count == 64 else {
            throw .ed25519Length(name: name, length: bytes.count)
        }
        let key: Curve25519.Signing.PrivateKey
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: bytes.prefix(32))
        } catch {
            throw .ed25519Length(name: name, length: bytes.count)
        }
        guard bytes.count == 32 || Array(key.publicKey.rawRepresentation) == Array(bytes.suffix(32)) else {
            throw .ed25519PublicKeyMismatch(name: name)
        }
        return key
    }

    /// Standard base64, with the padding optional, as the reference libraries read secrets.
    private static func base64(_ text: Substring) -> [UInt8]? {
        let padding = String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: text + padding).map { Array($0) }
    }

    /// One signature of `content`, with its version prefix.
    func signature(of content: [UInt8]) -> String {
        switch signer {
        case .hmac(let prepared):
            var mac = prepared
            mac.update(data: content)
            return "v1," + Base64.encode(Array(mac.finalize()))
        case .ed25519(let key):
            do {
                return "v1a," + Base64.encode(Array(try key.signature(for: content)))
            } catch {
                // BoringSSL's ED25519_sign always succeeds; swift-crypto still declares a throw.
                preconditionFailure("Ed25519 signing failed: \(error)")
            }
        }
    }

    /// Names the key and its kind, never its bytes.
    public var description: String {
        switch signer {
        case .hmac: "signing key '\(name)' (whsec)"
        case .ed25519: "signing key '\(name)' (whsk)"
        }
    }
}

extension String {
    fileprivate func removingPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}

/// The `webhook-signature` header of Standard Webhooks.
public enum WebhookSignature {
    /// One signature per key, in key order, separated by spaces: more than one key lets a
    /// receiver move to a new key without missing a delivery. The signed content is
    /// "{id}.{timestamp}." followed by the body's exact bytes (none for a request without a body).
    public static func header(id: String, timestamp: Int64, body: [UInt8]?, keys: [WebhookSigningKey]) -> String {
        let content = Array("\(id).\(timestamp).".utf8) + (body ?? [])
        return keys.map { $0.signature(of: content) }.joined(separator: " ")
    }
}

/// Why a secret is not a signing key. Messages name the secret, never its value.
public enum WebhookSigningKeyError: Error, Equatable, CustomStringConvertible {
    case malformed(name: String)
    case ed25519Length(name: String, length: Int)
    case ed25519PublicKeyMismatch(name: String)

    public var description: String {
        switch self {
        case .malformed(let name):
            return "signing key '\(name)' must start with whsec_ or whsk_ followed by base64"
        case .ed25519Length(let name, let length):
            return "signing key '\(name)' is a whsk_ key of \(length) bytes; an Ed25519 private key is 32 bytes"
                + " (the seed) or 64 (the seed and the public key)"
        case .ed25519PublicKeyMismatch(let name):
            return "signing key '\(name)' is a whsk_ key whose last 32 bytes are not the public key of its first 32"
        }
    }
}
