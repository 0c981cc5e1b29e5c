import Testing

@testable import HTTPQ

@Suite struct SecretBoxTests {
    let old: SecretKeyring
    let rotated: SecretKeyring
    let value = Array("token-3f9a".utf8)

    init() throws {
        old = try SecretKeyring(parsing: SecretKeyringTests.first)
        rotated = try SecretKeyring(parsing: SecretKeyringTests.second + "," + SecretKeyringTests.first)
    }

    @Test("A sealed value opens to itself under its name, whatever its length")
    func roundTrip() throws {
        for value in [[], value, [UInt8](repeating: 7, count: 100_000)] {
            let sealed = SecretBox.seal(value, name: "api", key: old.current)
            #expect(sealed.count == 12 + value.count + 16)
            #expect(try SecretBox.open(sealed, name: "api", keyID: old.current.id, keyring: old) == value)
        }
    }

    @Test("Each seal draws a new nonce")
    func freshNonce() {
        #expect(
            SecretBox.seal(value, name: "api", key: old.current) != SecretBox.seal(value, name: "api", key: old.current)
        )
    }

    @Test("A value copied to another name, altered by one bit, or cut short does not open")
    func tampered() {
        let sealed = SecretBox.seal(value, name: "api", key: old.current)
        var flipped = sealed
        flipped[20] ^= 1
        let refused = SecretError.doesNotOpen(name: "api", keyID: old.current.id)
        #expect(throws: SecretError.doesNotOpen(name: "other", keyID: old.current.id)) {
            try SecretBox.open(sealed, name: "other", keyID: old.current.id, keyring: old)
        }
        #expect(throws: refused) { try SecretBox.open(flipped, name: "api", keyID: old.current.id, keyring: old) }
        #expect(throws: refused) {
            try SecretBox.open(Array(sealed.prefix(27)), name: "api", keyID: old.current.id, keyring: old)
        }
        #expect(
            "\(refused)" == "secret 'api' does not open with key 25e1bf22dde52aa4: the stored value or its key id was"
                + " altered, or it was copied from another name")
    }

    @Test("A value sealed under a key id that is relabelled to another key does not open")
    func relabelled() {
        let sealed = SecretBox.seal(value, name: "api", key: old.current)
        #expect(throws: SecretError.self) {
            try SecretBox.open(sealed, name: "api", keyID: rotated.current.id, keyring: rotated)
        }
    }

    @Test("After rotation, values sealed with the old key still open, and new ones use the new key")
    func rotation() throws {
        let sealed = SecretBox.seal(value, name: "api", key: old.current)
        #expect(try SecretBox.open(sealed, name: "api", keyID: old.current.id, keyring: rotated) == value)
        #expect(rotated.current.id != old.current.id)
        let resealed = SecretBox.seal(value, name: "api", key: rotated.current)
        #expect(try SecretBox.open(resealed, name: "api", keyID: rotated.current.id, keyring: rotated) == value)
    }

    @Test("An unknown key id is named with the configured ids, and no key material")
    func unknownKey() throws {
        let sealed = SecretBox.seal(value, name: "api", key: old.current)
        let newOnly = try SecretKeyring(parsing: SecretKeyringTests.second)
        do {
            _ = try SecretBox.open(sealed, name: "api", keyID: old.current.id, keyring: newOnly)
            Issue.record("opened with an unknown key")
        } catch {
            let message = "\(error)"
            #expect(
                message == "secret 'api' is sealed with key 25e1bf22dde52aa4; the configured keys are "
                    + "\(newOnly.current.id) (give the old key after the current one in HTTPQ_SECRET_KEY or"
                    + " --secret-key-file to open it)")
            for material in [SecretKeyringTests.first, SecretKeyringTests.second, "token-3f9a"] {
                #expect(!message.contains(material))
            }
        }
    }
}
