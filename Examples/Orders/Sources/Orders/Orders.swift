import Foundation
import HTTPQClient
import HTTPQService
import Logging
import PostgresNIO
import ServiceLifecycle

/// Usage: `orders WEBHOOK_URL`, with the database in the PG* variables (PGHOST, PGPORT,
/// PGUSER, PGPASSWORD, PGDATABASE) and httpq installed in it. The worker reads DATABASE_URL
/// and HTTPQ_* like `httpq work`; a loopback destination needs its channel's allowed_networks.
@main
struct Orders {
    static func main() async throws {
        let environment = ProcessInfo.processInfo.environment
        let webhook = CommandLine.arguments.dropFirst().first ?? "https://hooks.example.com/orders"
        let logger = Logger(label: "orders")

        let postgres = PostgresClient(configuration: databaseConfiguration(environment))
        let httpq = HTTPQClient(postgres: postgres, logger: logger)
        // The worker in-process; in production `httpq work` can run it instead.
        let worker = try HTTPQWorkerService(environment: environment, logger: logger)
        // Services stop in reverse order: the worker first, the pool last.
        let services = ServiceGroup(
            services: [postgres, httpq, worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            do {
                try await placeOrder(postgres: postgres, httpq: httpq, webhook: webhook, logger: logger)
            } catch {
                print("failed: \(error)")
            }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }

    /// Records an order and its webhook in one transaction, then sends a second request and
    /// waits for the outcomes of both.
    static func placeOrder(postgres: PostgresClient, httpq: HTTPQClient, webhook: String, logger: Logger) async throws {
        struct OrderPlaced: Codable {
            var order: Int
            var total: Decimal
        }
        // The app's own write and the enqueue commit together, or neither happens.
        let id = try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS example_orders (id int, total numeric)", logger: logger)
            try await connection.query("INSERT INTO example_orders VALUES (\(42), \(Decimal(19.5)))", logger: logger)
            return try await httpq.enqueue(
                HTTPQRequest(
                    url: webhook,
                    headers: ["X-Source": "orders"],
                    body: try .json(encoding: OrderPlaced(order: 42, total: 19.5)),
                    channel: "orders",
                    orderingKey: "order-42",
                    notify: true),
                on: connection)
        }
        print("enqueued request \(id)")

        do {
            let outcome = try await httpq.response(for: id, timeout: .seconds(30))
            print("request \(id): \(outcome.state), status \(outcome.status.map(String.init) ?? "none")")

            // Enqueue, commit and wait in one call; the request stays queued if we stop waiting.
            let ping = try await httpq.send(
                HTTPQRequest(url: webhook, method: .get, channel: "orders"), timeout: .seconds(30))
            print("request \(ping.id): \(ping.state), status \(ping.status.map(String.init) ?? "none")")
        } catch HTTPQClientError.timeout(let id) {
            print("request \(id) is still queued; the worker will go on trying")
        } catch HTTPQClientError.invalidInput(let message, let sqlState) {
            print("refused (\(sqlState)): \(message)")
        }
    }

    /// The pool's settings from the PG* variables, a socket directory or a host.
    static func databaseConfiguration(_ environment: [String: String]) -> PostgresClient.Configuration {
        let host = environment["PGHOST"] ?? "localhost"
        let port = environment["PGPORT"].flatMap { Int($0) } ?? 5432
        let user = environment["PGUSER"] ?? "postgres"
        let database = environment["PGDATABASE"] ?? user
        let password = environment["PGPASSWORD"]
        if host.hasPrefix("/") {
            return .init(
                unixSocketPath: "\(host)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        return .init(
            host: host, port: port, username: user, password: password, database: database,
            tls: .prefer(.makeClientConfiguration()))
    }
}
