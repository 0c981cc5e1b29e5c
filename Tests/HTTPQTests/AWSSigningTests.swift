import Testing

@testable import HTTPQ

/// A channel that signs for AWS: what the claim hands over, what the worker makes of the
/// credentials secret, and what libcurl is given. The signature itself is libcurl's, checked
/// end to end against a local AWS-compatible server (Tests/aws/aws.sh).
@Suite struct AWSSigningTests {
    let keyring: SecretKeyring

    init() throws {
        keyring = try SecretKeyring(parsing: SecretKeyringTests.first)
    }

    /// A claimed SQS request on a channel whose aws_credentials secret holds `credentials`.
    func claim(credentials: String, headers: String = #"{"Content-Type": "application/x-amz-json-1.0"}"#) throws
        -> ClaimedRequest
    {
        let sealed = SecretBox.seal(Array(credentials.utf8), name: "aws-prod", key: keyring.current)
        let secrets = #"{"aws-prod": {"key_id": "\#(keyring.current.id)", "sealed": "\#(Base64.encode(sealed))"}}"#
        return try ClaimedRequest(row: [
            "9", "1", "sqs", "POST", "https://sqs.us-east-1.amazonaws.com/", headers, nil, "1000", "{}", "{}",
            secrets, "aws:amz:us-east-1:sqs", "aws-prod",
        ])
    }

    @Test("The claim's aws_sigv4 and aws_credentials are read, and make the request one to resolve")
    func claimed() throws {
        let claim = try claim(credentials: "AKIDEXAMPLE:secret")
        #expect(claim.secrets.aws == ClaimedAWSSigning(provider: "aws:amz:us-east-1:sqs", credentials: "aws-prod"))
        #expect(!claim.secrets.isEmpty)
        let unsigned = try ClaimedRequest(row: ["9", "1", "c", "GET", "http://x/", "{}", nil, "10", "{}", "{}", nil, nil, nil])
        #expect(unsigned.secrets.aws == nil)
        #expect(unsigned.secrets.isEmpty)
    }

    @Test("Credentials open into libcurl's user and password; a session token becomes X-Amz-Security-Token")
    func credentials() throws {
        var resolver = SecretResolver(keyring: keyring)
        let plain = try resolver.resolve(try claim(credentials: "AKIDEXAMPLE:wJalr/XUtnFEMI+K7MDENG"), unixTime: 0)
        #expect(
            plain.awsSigning
                == AWSSigning(provider: "aws:amz:us-east-1:sqs", accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalr/XUtnFEMI+K7MDENG"))
        #expect(!plain.headers.contains { $0.name.lowercased() == "x-amz-security-token" })

        let forged = #"{"Content-Type": "application/x-amz-json-1.0", "x-amz-security-token": "forged"}"#
        let session = try resolver.resolve(try claim(credentials: "ASIAEXAMPLE:secret:token/123=", headers: forged), unixTime: 0)
        #expect(session.awsSigning?.accessKeyID == "ASIAEXAMPLE")
        #expect(session.headers.filter { $0.name.lowercased() == "x-amz-security-token" }.map(\.value) == ["token/123="])
    }

    @Test("A credentials secret of another shape sends nothing, and says what shape it needs")
    func malformed() throws {
        for value in ["AKIDEXAMPLE", "AKIDEXAMPLE:", ":secret", "a:b:c:d", "AKID EXAMPLE:secret", "AKIDEXAMPLE:secret\n"] {
            var resolver = SecretResolver(keyring: keyring)
            #expect {
                try resolver.resolve(try claim(credentials: value), unixTime: 0)
            } throws: { error in
                (error as? SecretResolver.Unsendable)?.description
                    == "secret 'aws-prod' is not ACCESS_KEY_ID:SECRET_ACCESS_KEY or "
                    + "ACCESS_KEY_ID:SECRET_ACCESS_KEY:SESSION_TOKEN (no spaces or line breaks)"
            }
        }
    }

    @Test("A request libcurl signs for AWS gets no blank header overrides, which its SigV4 would sign")
    func noBlankOverrides() {
        var request = HTTPRequest(
            method: "POST", url: "https://sqs.us-east-1.amazonaws.com/", headers: [("X-Amz-Target", "AmazonSQS.SendMessage")],
            body: [], timeoutMilliseconds: 1000)
        #expect(Transfer.headerLines(request).contains("Accept:"))
        request.awsSigning = AWSSigning(provider: "aws:amz:us-east-1:sqs", accessKeyID: "a", secretAccessKey: "b")
        #expect(Transfer.headerLines(request) == ["X-Amz-Target: AmazonSQS.SendMessage"])
    }
}
