import Foundation
import HTTPQ
import HTTPQClient
import HTTPQService
import Logging
import PostgresNIO
import ServiceLifecycle

/// The database of the integration tests, as `HTTPQ_TEST_DATABASE_URL` names it (a libpq
/// conninfo such as `dbname=httpq_test`, completed by the PG* variables of the throwaway
/// cluster), for PostgresNIO.
enum TestPostgres {
    static var url: String? {
        ProcessInfo.processInfo.environment["HTTPQ_TEST_DATABASE_URL"]
    }

    static var isConfigured: Bool { url != nil }

    /// The pool's configuration: a socket directory as host (as the test clusters use), or
    /// a TCP host.
    static func configuration() -> PostgresClient.Configuration {
        let environment = ProcessInfo.processInfo.environment
        var settings = [
            "host": environment["PGHOST"], "port": environment["PGPORT"],
            "user": environment["PGUSER"], "dbname": environment["PGDATABASE"],
        ]
        for pair in (url ?? "").split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { settings[parts[0]] = parts[1] }
        }
        let host = settings["host"].flatMap { $0 } ?? "/tmp"
        let port = settings["port"].flatMap { $0 }.flatMap { Int($0) } ?? 5432
        let user = settings["user"].flatMap { $0 } ?? "postgres"
        let database = settings["dbname"].flatMap { $0 } ?? user
        if host.hasPrefix("/") {
            return .init(unixSocketPath: "\(host)/.s.PGSQL.\(port)", username: user, password: nil, database: database)
        }
        return .init(host: host, port: port, username: user, password: nil, database: database, tls: .disable)
    }
}

/// A pool, an `HTTPQClient`, optionally an in-process worker for `channel`, and a loopback
/// HTTP server, run in one `ServiceGroup` for the length of a test.
struct Harness: Sendable {
    let postgres: PostgresClient
    let client: HTTPQClient
    let channel: String
    let server: TestHTTPServer

    /// A URL of the test server.
    func url(_ path: String = "/hook") -> String {
        server.url(path)
    }

    /// Runs `body` with the services running; shuts them down gracefully afterwards.
    @discardableResult
    static func run<T: Sendable>(
        worker: Bool = true, connections: Int = 20, script: @escaping TestHTTPServer.Script = { _ in .status(200) },
        _ body: @Sendable (Harness) async throws -> T
    ) async throws -> T {
        let server = try TestHTTPServer(script: script)
        defer { server.stop() }
        let channel = "t-client-\(UUID().uuidString.prefix(8).lowercased())"
        var configuration = TestPostgres.configuration()
        configuration.options.maximumConnections = connections
        // So that a test can find its own pool's sessions in pg_stat_activity.
        configuration.options.additionalStartupParameters = [("application_name", channel)]
        let postgres = PostgresClient(configuration: configuration)
        let client = HTTPQClient(postgres: postgres, logger: testLogger())
        var services: [any Service] = [postgres, client]
        if worker {
            let config = try Config(
                environment: [:],
                flags: [
                    Setting.database.flag: TestPostgres.url!, Setting.channels.flag: channel,
                    Setting.pollInterval.flag: "0.2", Setting.workerID.flag: "test-\(channel)",
                    Setting.maintenance.flag: "off",
                ])
            services.append(HTTPQWorkerService(config: config, logger: testLogger()))
        }
        let group = ServiceGroup(services: services, logger: testLogger())
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let harness = Harness(postgres: postgres, client: client, channel: channel, server: server)
            let result: Result<T, any Error>
            do {
                try await harness.execute(
                    "SELECT httpq.set_channel($1, allowed_networks => '{127.0.0.0/8,::1/128}'::cidr[], max_attempts => 3)",
                    channel)
                result = .success(try await body(harness))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    /// Runs one statement with text parameters on a pooled connection; returns the first
    /// column of each row.
    @discardableResult
    func execute(_ sql: String, _ values: String?...) async throws -> [String?] {
        var binds = PostgresBindings()
        for value in values { binds.append(value) }
        var column: [String?] = []
        for try await value in try await postgres.query(PostgresQuery(unsafeSQL: sql, binds: binds)).decode(
            String?.self)
        {
            column.append(value)
        }
        return column
    }

    /// The state of request `id` in `httpq.requests`, nil when there is none.
    func state(_ id: Int64) async throws -> String? {
        try await execute("SELECT state FROM httpq.requests WHERE id = $1::bigint", String(id)).first ?? nil
    }
}

/// A JSON POST to the harness's server in its channel.
extension Harness {
    func request(_ path: String = "/hook", json: String = #"{"hello":"world"}"#, notify: Bool = true) -> HTTPQRequest {
        HTTPQRequest(url: url(path), body: .json(Data(json.utf8)), channel: channel, notify: notify)
    }
}

/// The logger tests hand out: silent unless HTTPQ_TEST_LOG_LEVEL names a level.
func testLogger() -> Logger {
    let level = ProcessInfo.processInfo.environment["HTTPQ_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) }
    var logger = Logger(label: "httpq-client-test") { label in
        guard level != nil else { return SwiftLogNoOpLogHandler() }
        return StreamLogHandler.standardError(label: label)
    }
    if let level { logger.logLevel = level }
    return logger
}
