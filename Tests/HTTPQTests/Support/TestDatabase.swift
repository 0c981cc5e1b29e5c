import Foundation

@testable import HTTPQ

/// The database the integration tests use: `HTTPQ_TEST_DATABASE_URL` (set by `make test`),
/// reached with the PG* variables of the throwaway cluster. Each test works in its own
/// channels, so tests can share the database and run in parallel.
enum TestDatabase {
    static var url: String? {
        ProcessInfo.processInfo.environment["HTTPQ_TEST_DATABASE_URL"]
    }

    static var isConfigured: Bool { url != nil }

    static func connect(url: String? = TestDatabase.url) throws -> Connection {
        try Connection.open(ConnectionParameters(url: url, environment: ProcessInfo.processInfo.environment))
    }

    /// A channel no other test uses, allowed to reach the loopback addresses the test servers
    /// listen on (a channel's requests may reach only public addresses otherwise).
    static func channel(_ name: String, url: String? = TestDatabase.url) throws -> String {
        let channel = "t-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try connect(url: url).execute(
            "SELECT httpq.set_channel($1, allowed_networks => $2::cidr[])", [channel, loopbackNetworks])
        return channel
    }

    /// The loopback networks, as a cidr[].
    static let loopbackNetworks = "{127.0.0.0/8,::1/128}"
}

/// One request as `httpq.requests` shows it.
struct RequestRow {
    var state: String
    var attempts: Int
    var lastStatus: Int?
    var lastError: String?
    var idempotencyKey: String?
}

extension Connection {
    /// Makes retries of `channel` come quickly (10 ms base, 50 ms cap), plus any other settings.
    /// A Retry-After is still obeyed up to a minute (not capped at the 50 ms).
    func fastRetries(_ channel: String, maxAttempts: Int? = nil) throws {
        _ = try execute(
            """
            SELECT httpq.set_channel(channel => $1, backoff_base => '10 milliseconds',
                                     backoff_max => '50 milliseconds', max_attempts => $2::int,
                                     retry_after_max => '1 minute')
            """, [channel, maxAttempts.map(String.init)])
    }

    /// Enqueues a JSON POST; returns its id.
    func enqueue(
        url: String, body: String = #"{"hello":"world"}"#, channel: String, orderingKey: String? = nil,
        maxAttempts: Int? = nil, timeoutMilliseconds: Int? = nil
    ) throws -> Int64 {
        let result = try execute(
            """
            SELECT httpq.enqueue(url => $1, body => $2::jsonb, channel => $3, ordering_key => $4,
                                 max_attempts => $5::int, timeout_ms => $6::int)
            """, [url, body, channel, orderingKey, maxAttempts.map(String.init), timeoutMilliseconds.map(String.init)])
        guard let id = result.scalar.flatMap({ Int64($0) }) else { throw TestFailure("enqueue returned no id") }
        return id
    }

    func request(_ id: Int64) throws -> RequestRow {
        let rows = try execute(
            """
            SELECT state, attempts, last_status, last_error, idempotency_key FROM httpq.requests WHERE id = $1
            """, [String(id)]
        ).rows
        guard let row = rows.first else { throw TestFailure("request \(id) not found") }
        return RequestRow(
            state: row[0] ?? "", attempts: Int(row[1] ?? "") ?? -1, lastStatus: row[2].flatMap { Int($0) },
            lastError: row[3], idempotencyKey: row[4])
    }

    /// The states of `ids`, keyed by id.
    func states(_ ids: [Int64]) throws -> [Int64: String] {
        let rows = try execute(
            "SELECT id, state FROM httpq.requests WHERE id = ANY ($1::bigint[])",
            [DatabaseQuery.bigintArray(ids)]
        ).rows
        return Dictionary(uniqueKeysWithValues: rows.map { (Int64($0[0]!)!, $0[1]!) })
    }

    /// Waits until every one of `ids` has finished (delivered, dead or canceled).
    func waitFinished(_ ids: [Int64], timeout: Duration = .seconds(20)) throws -> Bool {
        try eventually(timeout: timeout) {
            try states(ids).values.filter { ["delivered", "dead", "canceled"].contains($0) }.count == ids.count
        }
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}
