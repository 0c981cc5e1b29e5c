import Crypto
import Foundation
import Testing

@testable import HTTPQ

/// Secret headers and Standard Webhooks signatures as a running worker sends them: sealed
/// in the database, opened by the worker with its key, and failing closed without it.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct SecretDeliveryTests {
    /// The worker's key in its HTTPQ_SECRET_KEY form, and as a keyring.
    let keyText = SecretKey.generateText()
    let keyring: SecretKeyring
    let database: Connection

    init() throws {
        keyring = try SecretKeyring(parsing: keyText)
        database = try TestDatabase.connect()
    }

    /// A secret name no other test uses.
    func secretName(_ name: String) -> String {
        "t-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Seals `value` under the test's key and stores it, as `httpq secret set` does.
    func store(_ name: String, _ value: String) throws {
        let sealed = SecretBox.seal(Array(value.utf8), name: name, key: keyring.current)
        _ = try database.execute(
            "SELECT httpq.set_secret($1, $2, $3::bytea)", [name, keyring.current.id, Bytea.hex(sealed)])
    }

    func enqueue(_ url: String, channel: String, headers: String = "{}") throws -> Int64 {
        let result = try database.execute(
            "SELECT httpq.enqueue($1, '{\"order\": 42}', headers => $2::jsonb, channel => $3)", [url, headers, channel])
        guard let id = result.scalar.flatMap({ Int64($0) }) else { throw TestFailure("enqueue returned no id") }
        return id
    }

    @Test("A secret header goes out with its value, while the request keeps only the reference")
    func secretHeader() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let channel = try TestDatabase.channel("secret-header")
        let name = secretName("token")
        let value = "tok-\(UUID().uuidString)"
        try store(name, value)
        let id = try enqueue(
            server.url("/orders"), channel: channel,
            headers: #"{"Authorization": {"secret": "\#(name)", "prefix": "Bearer "}}"#)
        let worker = try InProcessWorker(
            channels: [channel], environment: [Setting.secretKeyVariable: keyText])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)
        #expect(try database.request(id).state == "delivered")
        #expect(server.requests.first?.headers["authorization"] == "Bearer \(value)")
        let stored = try database.execute(
            "SELECT h.headers -> 'Authorization' FROM httpq.history h WHERE h.id = $1", [String(id)]
        ).scalar
        #expect(stored == #"{"prefix": "Bearer ", "secret": "\#(name)"}"#)
        #expect(stored?.contains(value) == false)
    }

    @Test("A worker without the right key sends nothing and burns no attempt; the right key then delivers")
    func failsClosed() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let channel = try TestDatabase.channel("secret-closed")
        try database.fastRetries(channel, maxAttempts: 1)
        let name = secretName("token")
        try store(name, "tok-\(UUID().uuidString)")
        let id = try enqueue(server.url("/closed"), channel: channel, headers: #"{"X-Key": {"secret": "\#(name)"}}"#)

        let wrong = try InProcessWorker(
            channels: [channel], environment: [Setting.secretKeyVariable: SecretKey.generateText()])
        // Several unsent attempts, each retried after backoff_max (50 ms here), none counted,
        // and one log entry that counts the repeats.
        let tried = try eventually(timeout: .seconds(20)) {
            try database.execute("SELECT attempt >= 3 FROM httpq.request WHERE id = $1", [String(id)]).scalar == "t"
        }
        #expect(wrong.stop() == .clean)
        #expect(tried)
        let row = try database.request(id)
        #expect(row.state == "waiting")
        #expect(row.lastError?.contains("is sealed with key \(keyring.current.id)") == true, "\(row.lastError ?? "")")
        #expect(server.requests.isEmpty)
        let counted = try database.execute(
            "SELECT attempt - attempt_floor FROM httpq.request WHERE id = $1", [String(id)]
        ).scalar
        #expect(counted == "0")
        let entries = try database.execute(
            "SELECT jsonb_array_length(log), (log -> -1 ->> 'repeated')::int >= 2 FROM httpq.request WHERE id = $1",
            [String(id)]
        ).rows.first
        #expect(entries?[0] == "1")
        #expect(entries?[1] == "t")

        let right = try InProcessWorker(channels: [channel], environment: [Setting.secretKeyVariable: keyText])
        #expect(try database.waitFinished([id]))
        #expect(right.stop() == .clean)
        #expect(try database.request(id).state == "delivered")
        #expect(server.requests.count == 1)
    }

    @Test("A signing channel signs each attempt with every key: two while a key is rotated, then one")
    func signsAndRotates() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let channel = try TestDatabase.channel("signed")
        let old = secretName("whsec-old")
        let new = secretName("whsec-new")
        let oldKey = [UInt8](repeating: 1, count: 32)
        let newKey = [UInt8](repeating: 2, count: 32)
        try store(old, "whsec_" + Data(oldKey).base64EncodedString())
        try store(new, "whsec_" + Data(newKey).base64EncodedString())
        _ = try database.execute("SELECT httpq.set_channel($1, signing_keys => $2::text[])", [channel, "{\(old),\(new)}"])
        let worker = try InProcessWorker(channels: [channel], environment: [Setting.secretKeyVariable: keyText])
        let both = try enqueue(server.url("/both"), channel: channel)
        #expect(try database.waitFinished([both]))
        _ = try database.execute("SELECT httpq.set_channel($1, signing_keys => $2::text[])", [channel, "{\(new)}"])
        let one = try enqueue(server.url("/one"), channel: channel)
        #expect(try database.waitFinished([one]))
        #expect(worker.stop() == .clean)

        let received = server.requests
        #expect(received.count == 2)
        for (request, keys) in zip(received, [[oldKey, newKey], [newKey]]) {
            let id = request.headers["webhook-id"] ?? ""
            let timestamp = request.headers["webhook-timestamp"] ?? ""
            let signatures = (request.headers["webhook-signature"] ?? "").split(separator: " ").map(String.init)
            let content = Array("\(id).\(timestamp).".utf8) + request.body
            let expected = keys.map { key in
                "v1," + Data(HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))).base64EncodedString()
            }
            #expect(signatures == expected, "\(request.path)")
            #expect(abs((Int(timestamp) ?? 0) - Int(Date().timeIntervalSince1970)) < 60)
        }
        #expect(received.first?.headers["webhook-id"] == (try database.request(both).idempotencyKey))
    }

    @Test("A secret deleted after the enqueue stops the request, uncounted, until it is stored again")
    func missingSecret() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let channel = try TestDatabase.channel("secret-missing")
        try database.fastRetries(channel, maxAttempts: 1)
        let name = secretName("token")
        try store(name, "first")
        let id = try enqueue(server.url("/missing"), channel: channel, headers: #"{"X-Key": {"secret": "\#(name)"}}"#)
        _ = try database.execute("SELECT httpq.delete_secret($1)", [name])
        let worker = try InProcessWorker(channels: [channel], environment: [Setting.secretKeyVariable: keyText])
        let stopped = try eventually(timeout: .seconds(20)) {
            try database.request(id).lastError?.hasPrefix("secret '\(name)' is not in the store") == true
        }
        #expect(stopped)
        #expect(server.requests.isEmpty)
        #expect(try database.request(id).state == "waiting")
        try store(name, "second")
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)
        #expect(try database.request(id).state == "delivered")
        #expect(server.requests.map { $0.headers["x-key"] } == ["second"])
    }

    @Test("A whsk_ key signs with Ed25519 (v1a), verifiable with its public key")
    func signsWithEd25519() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let channel = try TestDatabase.channel("signed-ed25519")
        let name = secretName("whsk")
        let privateKey = Curve25519.Signing.PrivateKey()
        try store(name, "whsk_" + privateKey.rawRepresentation.base64EncodedString())
        _ = try database.execute("SELECT httpq.set_channel($1, signing_keys => $2::text[])", [channel, "{\(name)}"])
        let id = try enqueue(server.url("/ed25519"), channel: channel)
        let worker = try InProcessWorker(channels: [channel], environment: [Setting.secretKeyVariable: keyText])
        #expect(try database.waitFinished([id]))
        #expect(worker.stop() == .clean)
        let request = try #require(server.requests.first)
        let signature = try #require(request.headers["webhook-signature"])
        #expect(signature.hasPrefix("v1a,"))
        let bytes = try #require(Data(base64Encoded: String(signature.dropFirst(4))))
        let content = Array("\(request.headers["webhook-id"] ?? "").\(request.headers["webhook-timestamp"] ?? "").".utf8) + request.body
        #expect(privateKey.publicKey.isValidSignature(bytes, for: content))
    }
}
