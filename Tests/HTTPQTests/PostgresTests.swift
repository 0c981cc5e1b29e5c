import Foundation
import Glibc
import Testing

@testable import HTTPQ

/// The libpq wrapper on its own: the non-blocking protocol the loop uses, errors and NOTIFY.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct PostgresTests {
    /// Drives one statement through send, flush, consume and collect, waiting with poll(2).
    func roundTrip(_ connection: Connection, _ sql: String, _ parameters: [String?] = []) throws -> QueryResult {
        try connection.send(sql, parameters)
        var flushed = try connection.flush()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            var descriptor = pollfd(
                fd: connection.socket, events: Int16(POLLIN) | (flushed ? 0 : Int16(POLLOUT)), revents: 0)
            _ = poll(&descriptor, 1, 100)
            if !flushed { flushed = try connection.flush() }
            try connection.consumeInput()
            if let result = try connection.takeResult() { return result }
        }
        throw TestFailure("no result within 10 s")
    }

    @Test("Runs statements without blocking and copies rows out in text format, NULL as nil")
    func nonBlockingRoundTrip() throws {
        let connection = try TestDatabase.connect()
        try connection.enterNonBlockingMode()
        let result = try roundTrip(connection, "SELECT $1::int + 1, NULL::text, '\\x00ff'::bytea", ["41"])
        #expect(result.rows == [["42", nil, "\\x00ff"]])
        #expect(try roundTrip(connection, "SELECT generate_series(1, 3)").rows.count == 3)
    }

    @Test("A failed statement throws its SQLSTATE, and the connection stays usable")
    func queryError() throws {
        let connection = try TestDatabase.connect()
        try connection.enterNonBlockingMode()
        #expect(throws: PostgresError.query(sqlState: "22012", message: "division by zero", detail: nil, hint: nil)) {
            try roundTrip(connection, "SELECT 1 / 0")
        }
        #expect(try roundTrip(connection, "SELECT 'still here'").scalar == "still here")
        #expect(PostgresError.query(sqlState: "40001", message: "", detail: nil, hint: nil).isTransient)
        // A statement_timeout or pg_cancel_backend: the same report may well pass next time.
        #expect(PostgresError.query(sqlState: "57014", message: "", detail: nil, hint: nil).isTransient)
        #expect(!PostgresError.query(sqlState: "42883", message: "", detail: nil, hint: nil).isTransient)
    }

    @Test("Receives a NOTIFY sent from another connection")
    func notifications() throws {
        let listener = try TestDatabase.connect()
        try listener.enterNonBlockingMode()
        _ = try roundTrip(listener, "LISTEN httpq_test_channel")
        _ = try TestDatabase.connect().execute("NOTIFY httpq_test_channel, 'hi'")
        let received = try eventually(timeout: .seconds(5)) {
            try listener.consumeInput()
            return listener.notifications().contains { $0.channel == "httpq_test_channel" && $0.payload == "hi" }
        }
        #expect(received)
    }

    @Test("Connects without blocking through pollConnect")
    func asyncConnect() throws {
        let connection = try Connection.start(ConnectionParameters(url: TestDatabase.url, environment: [:]))
        // libpq's protocol: wait for writable first, then for whatever each poll asks.
        var wantsWrite = true
        let ready = eventually(timeout: .seconds(5)) {
            var wait = pollfd(fd: connection.socket, events: Int16(wantsWrite ? POLLOUT : POLLIN), revents: 0)
            guard poll(&wait, 1, 50) == 1 else { return false }
            switch connection.pollConnect() {
            case .ready: return true
            case .failed(let error):
                Issue.record("connect failed: \(error)")
                return true
            case .waitingToRead:
                wantsWrite = false
                return false
            case .waitingToWrite:
                wantsWrite = true
                return false
            }
        }
        #expect(ready)
        #expect(try connection.execute("SELECT 1").scalar == "1")
    }

    @Test("Passes the database URL to libpq untouched, after the defaults it may override")
    func connectionParameters() {
        let url = "postgres://u:p@h/db?connect_timeout=3"
        let parameters = ConnectionParameters(url: url, environment: [:])
        #expect(parameters.pairs.last! == ("dbname", url))
        #expect(parameters.pairs.first! == ("fallback_application_name", "httpq"))
        #expect(parameters.pairs.contains { $0 == ("connect_timeout", "10") })
        let fromEnvironment = ConnectionParameters(url: nil, environment: ["PGCONNECT_TIMEOUT": "3"])
        #expect(!fromEnvironment.pairs.contains { $0.0 == "connect_timeout" || $0.0 == "dbname" })
    }

    @Test("Reads connect_timeout as libpq does: the URL's, else PGCONNECT_TIMEOUT, else 10 s")
    func connectTimeout() {
        func timeout(_ url: String?, _ environment: [String: String] = [:]) -> Duration? {
            ConnectionParameters(url: url, environment: environment).connectTimeout
        }
        #expect(timeout("postgres://u@h/db?connect_timeout=3") == .seconds(3))
        #expect(timeout("host=h connect_timeout=30", ["PGCONNECT_TIMEOUT": "5"]) == .seconds(30))
        #expect(timeout("host=h", ["PGCONNECT_TIMEOUT": "5"]) == .seconds(5))
        #expect(timeout(nil, ["PGCONNECT_TIMEOUT": " 7 "]) == .seconds(7))
        #expect(timeout("mydb") == .seconds(10))
        // libpq: at least 2 s; zero or less waits without limit; a value it rejects fails the connect.
        #expect(timeout("host=h connect_timeout=1") == .seconds(2))
        #expect(timeout("host=h connect_timeout=0") == nil)
        #expect(timeout("host=h connect_timeout=-1") == nil)
        #expect(timeout("host=h connect_timeout=soon") == .seconds(10))
    }
}
