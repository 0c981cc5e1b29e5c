import Foundation
import Testing

@testable import HTTPQ

@Suite struct SecretKeyringTests {
    // The bytes 0, 1, …, 31 and the bytes 255 × 32.
    static let first = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    static let second = "//////////////////////////////////////////8="

    @Test("A key's id is fixed by its bytes")
    func stableID() throws {
        // python3 -c 'import hashlib; print(hashlib.sha256(b"httpq secret key id\x00" + bytes(range(32))).digest()[:8].hex())'
        #expect(try SecretKeyring(parsing: Self.first).current.id == "25e1bf22dde52aa4")
    }

    @Test("The first key is current; every key, with comments and mixed separators skipped, is found by id")
    func rotation() throws {
        let text = "# rotated in March\n  \(Self.second),\n\t# the old key\n\(Self.first) \n"
        let keyring = try SecretKeyring(parsing: text)
        let firstID = try SecretKeyring(parsing: Self.first).current.id
        let secondID = try SecretKeyring(parsing: Self.second).current.id
        #expect(keyring.current.id == secondID)
        #expect(keyring.ids == [secondID, firstID])
        #expect(keyring.key(id: firstID)?.id == firstID)
        #expect(keyring.key(id: "0000000000000000") == nil)
    }

    @Test(
        "Refuses bad text, naming the key's position and never its content",
        arguments: [
            ("", "no secret key given"),
            (" ,\n# only a comment\n", "no secret key given"),
            (
                "\(first),AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==,\(second)",
                "secret key 2 of 3 is not the base64 of 32 bytes (it decodes to 31)"
            ),
            ("\(first) not-base64!", "secret key 2 of 2 is not the base64 of 32 bytes (it is not base64)"),
            ("\(first) \(second) \(first)", "secret key 3 of 3 repeats secret key 1"),
        ])
    func refused(text: String, message: String) {
        #expect {
            try SecretKeyring(parsing: text)
        } throws: { error in
            "\(error)" == message
        }
    }

    @Test("Generated keys are 32 random bytes in the text form the keyring reads")
    func generated() throws {
        let text = SecretKey.generateText()
        #expect(Data(base64Encoded: text)?.count == 32)
        #expect(try SecretKeyring(parsing: text).ids.count == 1)
        #expect(SecretKey.generateText() != text)
    }

    @Test("Loads from the variable or the file, refuses both, and gives nil for neither")
    func load() throws {
        let path = NSTemporaryDirectory() + "httpq-secret-key-\(UUID().uuidString)"
        try "# current\n\(Self.first)\n".write(toFile: path, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }

        #expect(try SecretKeyring.load(environment: nil, file: nil) == nil)
        #expect(try SecretKeyring.load(environment: "", file: nil) == nil)
        #expect(try SecretKeyring.load(environment: Self.second, file: nil)?.ids.count == 1)
        #expect(try SecretKeyring.load(environment: nil, file: path)?.current.id == "25e1bf22dde52aa4")
        #expect(throws: SecretKeyError.twoSources) {
            try SecretKeyring.load(environment: Self.second, file: path)
        }
        #expect(throws: SecretKeyError.unreadableFile(path: path + "x", reason: "No such file or directory")) {
            try SecretKeyring.load(environment: nil, file: path + "x")
        }
        #expect(throws: SecretKeyError.unreadableFile(path: "/", reason: "Is a directory")) {
            try SecretKeyring.load(environment: nil, file: "/")
        }
    }

    @Test("A key prints as its id only")
    func description() throws {
        let key = try SecretKeyring(parsing: Self.first).current
        #expect("\(key)" == "secret key 25e1bf22dde52aa4")
    }
}
