import Foundation
import Testing

@testable import HTTPQ

/// `httpq secret` against a database of its own (rekey reseals every secret there).
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct SecretCLITests {
    /// Runs `body` with a fresh database holding httpq, dropped afterwards.
    func withDatabase(_ body: (String) throws -> Void) throws {
        let admin = try TestDatabase.connect()
        let name = "httpq_secrets_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        _ = try TestDatabase.connect(url: "dbname=\(name)").execute("CREATE EXTENSION httpq")
        try body("dbname=\(name)")
    }

    @Test("set seals stdin under the key (one final newline dropped), list shows names and key ids, never values")
    func setAndList() throws {
        try withDatabase { database in
            let key = SecretKey.generateText()
            let keyring = try SecretKeyring(parsing: key)
            let value = "tok-\(UUID().uuidString)"
            let set = try CLI.run(
                ["secret", "set", "api-token"], input: Array((value + "\n").utf8), database: database,
                environment: [Setting.secretKeyVariable: key])
            #expect(set.status == 0, "\(set.stderr)")
            #expect(set.stdout == "stored secret api-token (sealed with key \(keyring.current.id))\n")
            #expect(!(set.stdout + set.stderr).contains(value))

            let row = try TestDatabase.connect(url: database).execute(
                "SELECT key_id, sealed FROM httpq.sealed_secrets() WHERE name = 'api-token'"
            ).rows.first
            let sealed = try #require(row?[1].flatMap(Bytea.decodeHex))
            #expect(row?[0] == keyring.current.id)
            #expect(!String(decoding: sealed, as: UTF8.self).contains(value))
            let opened = try SecretBox.open(sealed, name: "api-token", keyID: keyring.current.id, keyring: keyring)
            #expect(opened == Array(value.utf8))

            let list = try CLI.run(["secret", "list"], database: database)
            #expect(list.status == 0, "\(list.stderr)")
            #expect(list.stdout.contains("api-token"))
            #expect(list.stdout.contains(keyring.current.id))
            #expect(!list.stdout.contains(value))
            let json = try CLI.run(["secret", "list", "--json"], database: database)
            let rows = try #require(try json.json() as? [[String: Any]])
            #expect(rows.map { $0["name"] as? String } == ["api-token"])
            #expect(rows.first?["sealed"] == nil)
        }
    }

    @Test("Without a key, or with an empty value, set stores nothing and says why")
    func refusals() throws {
        try withDatabase { database in
            let keyless = try CLI.run(["secret", "set", "x"], input: Array("v".utf8), database: database)
            #expect(keyless.status == 2)
            #expect(keyless.stderr.hasPrefix("httpq: no secret key: set HTTPQ_SECRET_KEY or --secret-key-file"))
            let empty = try CLI.run(
                ["secret", "set", "x"], input: Array("\n".utf8), database: database,
                environment: [Setting.secretKeyVariable: SecretKey.generateText()])
            #expect(empty.status == 2)
            #expect(empty.stderr == "httpq: the value must be 1 byte to 64 KiB, got 0 bytes\n")
            let badKey = try CLI.run(
                ["secret", "set", "x"], input: Array("v".utf8), database: database,
                environment: [Setting.secretKeyVariable: "not-a-key"])
            #expect(badKey.status == 2)
            #expect(!badKey.stderr.contains("not-a-key"))
            #expect(try TestDatabase.connect(url: database).execute("SELECT count(*) FROM httpq.secrets").scalar == "0")
        }
    }

    @Test("rekey reseals every secret under the first key; delete removes one")
    func rekeyAndDelete() throws {
        try withDatabase { database in
            let old = SecretKey.generateText()
            let new = SecretKey.generateText()
            let newID = try SecretKeyring(parsing: new).current.id
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("httpq-keys-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let valueFile = directory.appendingPathComponent("value")
            try Data("from-a-file".utf8).write(to: valueFile)
            for name in ["a", "b"] {
                let set = try CLI.run(
                    ["secret", "set", name, "--file", valueFile.path], database: database,
                    environment: [Setting.secretKeyVariable: old])
                #expect(set.status == 0, "\(set.stderr)")
            }
            let keyFile = directory.appendingPathComponent("keys")
            try Data("# new key first, the old one until rekey is done\n\(new)\n\(old)\n".utf8).write(to: keyFile)
            let rekey = try CLI.run(["secret", "rekey", "--secret-key-file", keyFile.path], database: database)
            #expect(rekey.status == 0, "\(rekey.stderr)")
            #expect(rekey.stdout == "resealed 2 secrets under key \(newID); 0 were already under it\n")
            let keys = try TestDatabase.connect(url: database).execute(
                "SELECT array_agg(DISTINCT key_id) FROM httpq.secrets"
            ).scalar
            #expect(keys == "{\(newID)}")
            let again = try CLI.run(["secret", "rekey"], database: database, environment: [Setting.secretKeyVariable: new])
            #expect(again.stdout == "resealed 0 secrets under key \(newID); 2 were already under it\n")

            let delete = try CLI.run(["secret", "delete", "a"], database: database)
            #expect(delete.status == 0, "\(delete.stderr)")
            #expect(delete.stdout == "deleted secret a\n")
            let missing = try CLI.run(["secret", "delete", "a"], database: database)
            #expect(missing.status == 1)
            #expect(missing.stderr == "httpq: there is no secret a\n")
        }
    }

    @Test("generate-key prints a key the keyring reads, and its id on standard error")
    func generateKey() throws {
        let run = try CLI.run(["secret", "generate-key"], database: nil)
        #expect(run.status == 0)
        let keyring = try SecretKeyring(parsing: run.stdout)
        #expect(run.stderr == "key id \(keyring.current.id)\n")
    }
}
