@preconcurrency internal import Crypto

/// Seals and opens one value of the secret store with ChaChaPoly under a keyring key.
///
/// The authenticated data is "httpq secret v1", 0, the key id, 0, the secret's name: a sealed
/// value copied to another name, or relabelled with another key id, does not open.
public enum SecretBox {
    /// The combined form: a 12-byte random nonce, the ciphertext (as long as `value`), a 16-byte tag.
    public static func seal(_ value: [UInt8], name: String, key: SecretKey) -> [UInt8] {
        do {
            let box = try ChaChaPoly.seal(
                value, using: key.symmetricKey, authenticating: authenticatedData(name: name, keyID: key.id))
            return Array(box.combined)
        } catch {
            // Sealing fails only on a bad key size or nonce, which this type never passes.
            preconditionFailure("ChaChaPoly.seal failed: \(error)")
        }
    }

    /// The value sealed under `name` with the key `keyID`, which must be in `keyring`.
    public static func open(_ sealed: [UInt8], name: String, keyID: String, keyring: SecretKeyring) throws(SecretError)
        -> [UInt8]
    {
        guard let key = keyring.key(id: keyID) else {
            throw .unknownKey(name: name, keyID: keyID, configured: keyring.ids)
        }
        do {
            let box = try ChaChaPoly.SealedBox(combined: sealed)
            let value = try ChaChaPoly.open(
                box, using: key.symmetricKey, authenticating: authenticatedData(name: name, keyID: keyID))
            return Array(value)
        } catch {
            // Too short to hold a nonce and a tag, or the tag does not match: either way altered.
            throw .doesNotOpen(name: name, keyID: keyID)
        }
    }

    private static func authenticatedData(name: String, keyID: String) -> [UInt8] {
        Array("httpq secret v1".utf8) + [0] + Array(keyID.utf8) + [0] + Array(name.utf8)
    }
}

/// Why a secret did not open. Messages name the secret and key ids, never a value or a key.
public enum SecretError: Error, Equatable, CustomStringConvertible {
    case unknownKey(name: String, keyID: String, configured: [String])
    case doesNotOpen(name: String, keyID: String)

    public var description: String {
        switch self {
        case .unknownKey(let name, let keyID, let configured):
            return "secret '\(name)' is sealed with key \(keyID); the configured keys are "
                + configured.joined(separator: ", ")
                + " (give the old key after the current one in HTTPQ_SECRET_KEY or --secret-key-file to open it)"
        case .doesNotOpen(let name, let keyID):
            // The id is derived from the key, so a matching id means the right key: what changed is the data.
            return "secret '\(name)' does not open with key \(keyID): the stored value or its key id was altered,"
                + " or it was copied from another name"
        }
    }
}
