import Testing

@testable import HTTPQ

@Suite struct HTTPValueTests {
    @Test("Keeps only the final response's headers, lower-case, repeated ones joined")
    func responseHeaders() {
        var headers = ResponseHeaders()
        for line in [
            "HTTP/1.1 100 Continue\r\n", "X-Interim: 1\r\n", "\r\n", "HTTP/1.1 200 OK\r\n",
            "Content-Type: text/plain\r\n", "Set-Cookie: a=1\r\n", "set-cookie:  b=2 \r\n", "\r\n",
        ] {
            headers.add(line: Array(line.utf8))
        }
        #expect(headers.fields.map(\.name) == ["content-type", "set-cookie"])
        #expect(headers.fields.map(\.value) == ["text/plain", "a=1, b=2"])
    }

    @Test("Reads ASCII and non-ASCII header lines alike: names lower-cased, values trimmed")
    func responseHeaderText() {
        var headers = ResponseHeaders()
        for line in [
            "HTTP/1.1 200 OK\r\n", "X-A:\t value \t\r\n", "X-Empty: \r\n", "X-Name: café \r\n",
            "X-Ünï: 1\r\n", "x-a: again\r\n", "no colon\r\n",
        ] {
            headers.add(line: Array(line.utf8))
        }
        #expect(headers.fields.map(\.name) == ["x-a", "x-empty", "x-name", "x-ünï"])
        #expect(headers.fields.map(\.value) == ["value, again", "", "café", "1"])
    }

    func request(headers: [(String, String)], method: String = "POST") -> HTTPRequest {
        HTTPRequest(
            method: method, url: "http://127.0.0.1/", headers: headers.map { (name: $0.0, value: $0.1) },
            body: [], timeoutMilliseconds: 1000)
    }

    @Test("Sends the claimed headers and blanks the ones libcurl would add on its own")
    func headerLines() {
        let lines = Transfer.headerLines(request(headers: [("Content-Type", "application/json"), ("X-Empty", "")]))
        #expect(lines == ["Content-Type: application/json", "X-Empty;", "Expect:", "Accept:"])
        let withAccept = Transfer.headerLines(request(headers: [("accept", "text/html")]))
        #expect(withAccept == ["accept: text/html", "Expect:", "Content-Type:"])
    }

    @Test("Refuses a request whose headers could smuggle in others")
    func problems() {
        #expect(request(headers: [("X-Ok", "fine")]).problem == nil)
        #expect(request(headers: [("X-Bad", "a\r\nHost: evil")]).problem != nil)
        #expect(request(headers: [("X Bad", "a")]).problem != nil)
        #expect(request(headers: [], method: "GET /x").problem != nil)
    }

    @Test("An outcome is the JSON httpq.report takes: a response, or a null status with the error")
    func outcomeJSON() {
        var headers = ResponseHeaders()
        headers.add(line: Array("Retry-After: 5\r\n".utf8))
        let response = Outcome(
            id: 7, attempt: 2,
            result: HTTPResult(
                status: 429, headers: headers, body: Array("no".utf8),
                error: nil, durationMilliseconds: 12))
        #expect(
            response.json
                == #"{"id":7,"attempt":2,"status":429,"headers":{"retry-after":"5"},"body":"bm8=","error":null,"duration_ms":12}"#
        )
        let failure = Outcome(
            id: 8, attempt: 1,
            result: HTTPResult(
                status: nil, headers: ResponseHeaders(), body: [],
                error: "Connection refused", durationMilliseconds: 3))
        #expect(
            failure.json
                == #"{"id":8,"attempt":1,"status":null,"headers":null,"body":null,"error":"Connection refused","duration_ms":3}"#
        )
        let refused = Outcome(
            id: 9, attempt: 1,
            result: HTTPResult(
                status: nil, headers: ResponseHeaders(), body: [], error: "refused", durationMilliseconds: 0,
                refused: true))
        #expect(
            refused.json
                == #"{"id":9,"attempt":1,"status":null,"headers":null,"body":null,"error":"refused","refused":true,"duration_ms":0}"#
        )
        #expect(refused.jsonLength == refused.json.utf8.count)
        #expect(Outcome.jsonArray([]) == "[]")
    }

    @Test("Reads a claimed row: headers from jsonb, body from hex bytea, NULL body as none")
    func claimedRow() throws {
        let claim = try ClaimedRequest(row: [
            "5", "1", "billing", "PUT", "https://example.com/x",
            #"{"Idempotency-Key": "k1", "Content-Type": "text/plain"}"#, #"\x6869"#, "3000",
            "{10.0.0.0/8,::1/128}", "{}", nil, nil, nil,
        ])
        #expect(claim.id == 5)
        #expect(claim.attempt == 1)
        #expect(claim.channel == "billing")
        #expect(claim.request.method == "PUT")
        #expect(claim.request.headers.map(\.name) == ["Idempotency-Key", "Content-Type"])
        #expect(claim.request.body == Array("hi".utf8))
        #expect(claim.request.timeoutMilliseconds == 3000)
        #expect(claim.request.addressPolicy.channel == "billing")
        #expect(claim.request.addressPolicy.allowedNetworks.map(\.description) == ["10.0.0.0/8", "::1/128"])
        let bodiless = try ClaimedRequest(row: ["6", "1", "c", "GET", "http://x/", "{}", nil, "10", "{}", "{}", nil, nil, nil])
        #expect(bodiless.request.body == nil)
        #expect(bodiless.request.addressPolicy.allowedNetworks.isEmpty)
        let unlisted = try ClaimedRequest(row: ["7", "1", "c", "GET", "http://x/", "{}", nil, "10", nil, nil, nil, nil, nil])
        #expect(unlisted.request.addressPolicy.allowedNetworks.isEmpty)
    }

    @Test("Reads secret headers in place, the signing keys, and the sealed values a claim hands over")
    func claimedSecrets() throws {
        let claim = try ClaimedRequest(row: [
            "8", "1", "c", "POST", "https://example.com/",
            #"{"A": "1", "Authorization": {"prefix": "Bearer ", "secret": "token"}, "B": "2"}"#, nil, "10", "{}",
            #"{whsec-1,"NULL"}"#,
            #"{"token": {"key_id": "0123456789abcdef", "sealed": "AAEC"}}"#, nil, nil,
        ])
        #expect(claim.request.headers.map(\.name) == ["A", "B"])
        #expect(claim.secrets.headers == [SecretHeader(position: 1, name: "Authorization", secret: "token", prefix: "Bearer ")])
        #expect(claim.secrets.signingKeys == ["whsec-1", "NULL"])
        #expect(claim.secrets.sealed["token"] == SealedSecret(keyID: "0123456789abcdef", sealed: [0, 1, 2]))
        #expect(throws: ClaimedRequest.Unreadable.self) {
            try ClaimedRequest(row: ["8", "1", "c", "GET", "http://x/", "{}", nil, "10", "{}", "{}", #"{"token": "x"}"#, nil, nil])
        }
    }

    @Test("A claimed row that cannot be read still names its id and attempt, so the failure is reported")
    func unreadableRow() {
        #expect {
            try ClaimedRequest(row: ["6", "2", "c", "GET", "http://x/", #"{"a": 1}"#, nil, "10", "{}", "{}", nil, nil, nil])
        } throws: { error in
            let unreadable = error as? ClaimedRequest.Unreadable
            return unreadable?.id == 6 && unreadable?.attempt == 2
        }
        #expect {
            try ClaimedRequest(row: ["6", "2", "c", "GET", "http://x/", "{}", nil, "10", "{10.0.0.1/8}", "{}", nil, nil, nil])
        } throws: { error in
            let unreadable = error as? ClaimedRequest.Unreadable
            return unreadable?.id == 6 && unreadable?.reason.contains("allowed_networks") == true
        }
    }

    @Test("Statements carry the worker, the channels as a quoted text[] and the lease in milliseconds")
    func statements() {
        let identity = WorkerIdentity(worker: "w", channels: ["a", #"b"c"#], lease: .milliseconds(1500))
        let (sql, parameters) = DatabaseQuery.claim(count: 5).statement(identity)
        #expect(
            sql.contains(
                "httpq.claim(worker => $1, max_count => $2::int, channels => $3::text[], lease => $4::interval, "
                    + "max_bytes => $5::bigint, per_channel => $6::int, channel_room => $7::jsonb)"))
        #expect(parameters == ["w", "5", #"{"a","b\"c"}"#, "1500 milliseconds", nil, nil, nil])
        let room = ClaimRoom(bytes: 1000, perChannel: 3, channels: ["a": 1, #"b"c"#: 0])
        #expect(
            DatabaseQuery.claim(count: 5, room: room).statement(identity).parameters.suffix(3)
                == ["1000", "3", #"{"a":1,"b\"c":0}"#])
        #expect(WorkerIdentity(worker: "w", channels: nil, lease: .seconds(1)).channelsArray == nil)
        let heartbeat = DatabaseQuery.heartbeat([ClaimKey(id: 1, attempt: 3), ClaimKey(id: 2, attempt: 1)])
        #expect(heartbeat.statement(identity).parameters == ["w", "{1,2}", "{3,1}", "1500 milliseconds"])
    }
}
