internal import Foundation

/// What a claimed request needs from the secret store before it can be sent: the headers
/// that refer to secrets, the keys that sign it, and the sealed values of both, as the
/// claim returned them. Only the worker holds the key that opens them (`SecretResolver`).
struct ClaimedSecrets: Sendable {
    /// Headers given as `{"secret": NAME, "prefix": ...}`, in the order they were given.
    var headers: [SecretHeader] = []
    /// The channel's signing keys, secret names, in order.
    var signingKeys: [String] = []
    /// The channel's AWS Signature Version 4 settings, or nil when it does not sign for AWS.
    var aws: ClaimedAWSSigning?
    /// The sealed values the claim handed over, by secret name. A name missing here is
    /// not in the store.
    var sealed: [String: SealedSecret] = [:]

    /// Whether the request can be sent as claimed.
    var isEmpty: Bool { headers.isEmpty && signingKeys.isEmpty && aws == nil }

    /// Reads the claim's `secrets` column: `{"name": {"key_id": ..., "sealed": base64}}`.
    static func readSealed(_ text: String) throws(SealedSecret.Unreadable) -> [String: SealedSecret] {
        let members: [(String, JSON.Value)]
        do {
            members = try JSON.parseObject(text)
        } catch {
            throw SealedSecret.Unreadable(reason: "\(error)")
        }
        var sealed: [String: SealedSecret] = [:]
        for (name, value) in members {
            guard case .object(let fields) = value,
                let keyID = fields.first(where: { $0.0 == "key_id" })?.1,
                let base64 = fields.first(where: { $0.0 == "sealed" })?.1,
                let bytes = Data(base64Encoded: base64).map({ Array($0) })
            else {
                throw SealedSecret.Unreadable(reason: "secret '\(name)' is not {\"key_id\", \"sealed\"}")
            }
            sealed[name] = SealedSecret(keyID: keyID, sealed: bytes)
        }
        return sealed
    }
}

/// A channel's `aws_sigv4` and `aws_credentials`: libcurl signs each attempt for `provider`
/// (such as `aws:amz:us-east-1:sqs`) with the credentials the secret holds.
struct ClaimedAWSSigning: Sendable, Equatable {
    var provider: String
    /// The secret's name in the store; its value is `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`.
    var credentials: String
}

/// A header whose value is a secret's, sent as `prefix` followed by the value.
struct SecretHeader: Sendable, Equatable {
    /// Where the header goes among the request's literal headers (their count before it).
    var position: Int
    var name: String
    /// The secret's name in the store.
    var secret: String
    var prefix: String
}

/// One secret as the store keeps it: sealed under the key with id `keyID`.
struct SealedSecret: Sendable, Equatable {
    var keyID: String
    var sealed: [UInt8]

    struct Unreadable: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}

/// PostgreSQL arrays in text form, for the few whose elements need no unescaping.
enum PostgresArray {
    /// The elements of a one-dimensional array of names (`{a,b}`, `{}`): Postgres quotes an
    /// element only when it must (a name like NULL), and names hold no quote or backslash.
    static func simpleElements(_ text: String) -> [String] {
        let inner = text.dropFirst().dropLast()
        guard !inner.isEmpty else { return [] }
        return inner.split(separator: ",", omittingEmptySubsequences: false).map { element in
            element.hasPrefix("\"") && element.hasSuffix("\"") && element.count >= 2
                ? String(element.dropFirst().dropLast()) : String(element)
        }
    }
}
