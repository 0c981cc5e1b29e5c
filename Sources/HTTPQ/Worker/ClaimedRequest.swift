/// One row of `httpq.claim`: a request this worker now holds, to be sent as it stands.
struct ClaimedRequest: Sendable {
    var id: Int64
    var attempt: Int
    var channel: String
    /// The request as claimed; headers that refer to secrets are not in it yet (`secrets`).
    var request: HTTPRequest
    /// What the worker must open and add before sending: secret headers and signatures.
    var secrets = ClaimedSecrets()

    /// The claim this row is: what its lease, heartbeats and report are fenced by.
    var key: ClaimKey { ClaimKey(id: id, attempt: attempt) }

    /// A row that could not be read as a request.
    struct Unreadable: Error {
        /// The id and attempt when at least those could be read, so the failure can be reported.
        var id: Int64?
        var attempt: Int?
        var reason: String
    }

    /// Reads one row in the column order of the claim statement:
    /// id, attempt, channel, method, url, headers (jsonb), body (bytea), timeout_ms,
    /// allowed_networks (cidr[]; NULL reads as none), signing_keys (text[]), secrets (jsonb),
    /// aws_sigv4, aws_credentials.
    init(row: [String?]) throws(Unreadable) {
        guard row.count == 13, let id = row[0].flatMap({ Int64($0) }) else {
            throw Unreadable(reason: "the claim returned a row without a request id")
        }
        guard let attempt = row[1].flatMap({ Int($0) }) else {
            throw Unreadable(id: id, reason: "the claim returned no attempt number")
        }
        func unreadable(_ reason: String) -> Unreadable {
            Unreadable(id: id, attempt: attempt, reason: reason)
        }
        guard let method = row[3], let url = row[4] else {
            throw unreadable("the claimed request has no method or URL")
        }
        var headers: [(name: String, value: String)] = []
        var secrets = ClaimedSecrets()
        if let text = row[5] {
            let members: [(String, JSON.Value)]
            do {
                members = try JSON.parseObject(text)
            } catch {
                throw unreadable("the claimed headers are not an object of strings and secret references: \(error)")
            }
            for (name, value) in members {
                switch value {
                case .string(let text):
                    headers.append((name, text))
                case .object(let reference):
                    guard let secret = reference.first(where: { $0.0 == "secret" })?.1 else {
                        throw unreadable("the claimed header \(name) is an object without a secret name")
                    }
                    let prefix = reference.first(where: { $0.0 == "prefix" })?.1 ?? ""
                    secrets.headers.append(
                        SecretHeader(position: headers.count, name: name, secret: secret, prefix: prefix))
                }
            }
        }
        var body: [UInt8]?
        if let text = row[6] {
            guard let bytes = Bytea.decodeHex(text) else {
                throw unreadable("the claimed body is not hex-format bytea")
            }
            body = bytes
        }
        guard let timeout = row[7].flatMap({ Int($0) }) else {
            throw unreadable("the claimed request has no timeout")
        }
        var allowedNetworks: [IPNetwork] = []
        if let text = row[8] {
            do {
                allowedNetworks = try IPNetwork.list(postgresArray: text)
            } catch {
                throw unreadable("the claimed allowed_networks are not a cidr[]: \(error)")
            }
        }
        if let text = row[9] {
            secrets.signingKeys = PostgresArray.simpleElements(text)
        }
        if let text = row[10] {
            do {
                secrets.sealed = try ClaimedSecrets.readSealed(text)
            } catch {
                throw unreadable("the claimed secrets are not an object of sealed values: \(error)")
            }
        }
        if let provider = row[11], let credentials = row[12] {
            secrets.aws = ClaimedAWSSigning(provider: provider, credentials: credentials)
        }
        self.id = id
        self.attempt = attempt
        self.secrets = secrets
        self.channel = row[2] ?? ""
        self.request = HTTPRequest(
            method: method, url: url, headers: headers,
            body: body, timeoutMilliseconds: timeout,
            addressPolicy: AddressPolicy(channel: channel, allowedNetworks: allowedNetworks))
    }
}
