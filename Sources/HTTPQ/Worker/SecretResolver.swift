/// Opens the secrets a claimed request needs, just before it is sent, and puts them in:
/// the values of secret headers, the Standard Webhooks signature of the channel's signing
/// keys, and the AWS credentials libcurl signs with. Plaintext lives only here and in the transfer; nothing that is logged or
/// reported carries it. Opened values are kept by name until their sealed value changes.
struct SecretResolver {
    /// The worker's keys (`HTTPQ_SECRET_KEY`, `--secret-key-file`); nil when none was given.
    var keyring: SecretKeyring?
    private var values: [String: (sealed: SealedSecret, value: [UInt8])] = [:]
    private var signingKeys: [String: (sealed: SealedSecret, key: WebhookSigningKey)] = [:]

    init(keyring: SecretKeyring?) {
        self.keyring = keyring
    }

    /// Why a request was not sent: said in its attempt's error, never with a secret's value.
    struct Unsendable: Error, CustomStringConvertible {
        var description: String
    }

    /// The request with its secrets in, or why it cannot be sent. `unixTime` is the attempt's
    /// time, the signature's `webhook-timestamp`.
    mutating func resolve(_ claim: ClaimedRequest, unixTime: Int64) throws(Unsendable) -> HTTPRequest {
        var request = claim.request
        if !claim.secrets.headers.isEmpty {
            var headers: [(name: String, value: String)] = []
            headers.reserveCapacity(request.headers.count + claim.secrets.headers.count)
            var pending = claim.secrets.headers[...]
            for index in 0...request.headers.count {
                while let next = pending.first, next.position == index {
                    pending.removeFirst()
                    let value = try open(next.secret, in: claim.secrets)
                    guard !value.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) else {
                        throw Unsendable(
                            description: "secret '\(next.secret)' holds a line break or NUL, which the value of "
                                + "header \(next.name) cannot")
                    }
                    headers.append((next.name, next.prefix + String(decoding: value, as: UTF8.self)))
                }
                if index < request.headers.count { headers.append(request.headers[index]) }
            }
            request.headers = headers
        }
        if !claim.secrets.signingKeys.isEmpty {
            var keys: [WebhookSigningKey] = []
            for name in claim.secrets.signingKeys {
                keys.append(try signingKey(name, in: claim.secrets))
            }
            // Stable across retries and replays: the request's idempotency key, which enqueue
            // always sets.
            let id =
                request.headers.first { $0.name.lowercased() == "idempotency-key" }?.value ?? "httpq-\(claim.id)"
            request.headers.removeAll { Self.signatureHeaders.contains($0.name.lowercased()) }
            request.headers.append(("webhook-id", id))
            request.headers.append(("webhook-timestamp", String(unixTime)))
            request.headers.append(
                ("webhook-signature", WebhookSignature.header(id: id, timestamp: unixTime, body: request.body, keys: keys)))
        }
        if let aws = claim.secrets.aws {
            let credentials = try awsCredentials(aws.credentials, in: claim.secrets)
            request.awsSigning = AWSSigning(
                provider: aws.provider, accessKeyID: credentials.accessKeyID,
                secretAccessKey: credentials.secretAccessKey)
            request.headers.removeAll { $0.name.lowercased() == "x-amz-security-token" }
            if let token = credentials.sessionToken {
                request.headers.append(("X-Amz-Security-Token", token))
            }
        }
        return request
    }

    /// The credentials a channel's aws_credentials secret holds:
    /// `ACCESS_KEY_ID:SECRET_ACCESS_KEY`, optionally followed by `:SESSION_TOKEN`.
    private mutating func awsCredentials(
        _ name: String, in secrets: ClaimedSecrets
    ) throws(Unsendable) -> (accessKeyID: String, secretAccessKey: String, sessionToken: String?) {
        let value = try open(name, in: secrets)
        let parts = value.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, !parts.contains(where: \.isEmpty),
            !value.contains(where: { $0 < 33 || $0 == 127 })
        else {
            throw Unsendable(
                description: "secret '\(name)' is not ACCESS_KEY_ID:SECRET_ACCESS_KEY or "
                    + "ACCESS_KEY_ID:SECRET_ACCESS_KEY:SESSION_TOKEN (no spaces or line breaks)")
        }
        let text = parts.map { String(decoding: $0, as: UTF8.self) }
        return (text[0], text[1], parts.count == 3 ? text[2] : nil)
    }

    /// The headers a signature sets, replacing any the request carried.
    static let signatureHeaders: Set<String> = ["webhook-id", "webhook-timestamp", "webhook-signature"]

    private mutating func open(_ name: String, in secrets: ClaimedSecrets) throws(Unsendable) -> [UInt8] {
        guard let sealed = secrets.sealed[name] else {
            throw Unsendable(
                description: "secret '\(name)' is not in the store, or is not one its channel's owner may use "
                    + "(store it with: httpq secret set \(name) --owner ROLE)")
        }
        if let known = values[name], known.sealed == sealed { return known.value }
        guard let keyring else {
            throw Unsendable(
                description: "this worker has no secret key to open secret '\(name)': "
                    + "give it HTTPQ_SECRET_KEY or --secret-key-file")
        }
        do {
            let value = try SecretBox.open(sealed.sealed, name: name, keyID: sealed.keyID, keyring: keyring)
            values[name] = (sealed, value)
            return value
        } catch {
            throw Unsendable(description: error.description)
        }
    }

    private mutating func signingKey(_ name: String, in secrets: ClaimedSecrets) throws(Unsendable) -> WebhookSigningKey {
        if let known = signingKeys[name], let sealed = secrets.sealed[name], known.sealed == sealed { return known.key }
        let value = try open(name, in: secrets)
        do {
            let key = try WebhookSigningKey(secret: value, name: name)
            if let sealed = secrets.sealed[name] { signingKeys[name] = (sealed, key) }
            return key
        } catch {
            throw Unsendable(description: error.description)
        }
    }
}
