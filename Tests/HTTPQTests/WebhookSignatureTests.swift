import Crypto
import Foundation
import Testing

@testable import HTTPQ

@Suite struct WebhookSignatureTests {
    // The test vector published with the Standard Webhooks specification and its libraries.
    static let vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let vectorID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let vectorTimestamp: Int64 = 1_614_265_330
    static let vectorBody = Array(#"{"test": 2432232314}"#.utf8)

    // The RFC 8032 test 1 seed, alone and followed by its public key.
    static let ed25519Seed = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
    static let ed25519SeedAndPublicKey =
        "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg=="
    static let ed25519PublicKey = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

    func key(_ text: String, name: String = "signing") throws -> WebhookSigningKey {
        try WebhookSigningKey(secret: Array(text.utf8), name: name)
    }

    func header(_ keys: [WebhookSigningKey], body: [UInt8]? = vectorBody) -> String {
        WebhookSignature.header(id: Self.vectorID, timestamp: Self.vectorTimestamp, body: body, keys: keys)
    }

    @Test("Reproduces the Standard Webhooks test vector")
    func vector() throws {
        #expect(header([try key(Self.vectorSecret)]) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("Reads a secret without its base64 padding or with a trailing newline, as the reference libraries do")
    func lenientSecret() throws {
        let expected = header([try key(Self.vectorSecret)])
        #expect(header([try key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")]) == expected)
        #expect(header([try key("whsec_c2VjcmV0IQ")]) == header([try key("whsec_c2VjcmV0IQ==")]))
    }

    @Test("Two keys give two signatures, in key order, separated by a space")
    func twoKeys() throws {
        let hmac = try key(Self.vectorSecret)
        let ed25519 = try key(Self.ed25519Seed)
        let parts = header([ed25519, hmac]).split(separator: " ")
        #expect(parts.count == 2)
        #expect(parts[0].hasPrefix("v1a,"))
        #expect(parts[1] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("An Ed25519 signature matches the one Python's cryptography package makes and verifies with the public key")
    func ed25519() throws {
        let signature = header([try key(Self.ed25519Seed)])
        // Ed25519 is deterministic; computed with cryptography's Ed25519PrivateKey.from_private_bytes(seed).sign(content).
        #expect(
            signature
                == "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==")
        #expect(header([try key(Self.ed25519SeedAndPublicKey)]) == signature)

        let publicKey = try Curve25519.Signing.PublicKey(
            rawRepresentation: try #require(Data(base64Encoded: Self.ed25519PublicKey)))
        let signed = Array("\(Self.vectorID).\(Self.vectorTimestamp).".utf8) + Self.vectorBody
        let bytes = try #require(Data(base64Encoded: String(signature.dropFirst("v1a,".count))))
        #expect(publicKey.isValidSignature(bytes, for: signed))
        #expect(!publicKey.isValidSignature(bytes, for: signed + [0x20]))
    }

    @Test("A request without a body signs the id and timestamp alone, the same as an empty body")
    func noBody() throws {
        let hmac = try key(Self.vectorSecret)
        #expect(header([hmac], body: nil) == header([hmac], body: []))
        #expect(header([hmac], body: nil) != header([hmac]))
    }

    @Test(
        "Refuses a secret that is not a signing key, naming the secret and never its value",
        arguments: [
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "signing key 'hook' must start with whsec_ or whsk_ followed by base64"
            ),
            ("whsec_", "signing key 'hook' must start with whsec_ or whsk_ followed by base64"),
            ("whsec_not base64!", "signing key 'hook' must start with whsec_ or whsk_ followed by base64"),
            (
                "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "signing key 'hook' is a whsk_ key of 24 bytes; an Ed25519 private key is 32 bytes (the seed) or 64"
                    + " (the seed and the public key)"
            ),
            (
                "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                "signing key 'hook' is a whsk_ key whose last 32 bytes are not the public key of its first 32"
            ),
        ])
    func refused(secret: String, message: String) {
        #expect {
            try key(secret, name: "hook")
        } throws: { error in
            "\(error)" == message
        }
    }

    @Test("A key prints its name and kind only")
    func description() throws {
        #expect("\(try key(Self.vectorSecret))" == "signing key 'signing' (whsec)")
        #expect("\(try key(Self.ed25519Seed))" == "signing key 'signing' (whsk)")
    }
}
