import Foundation
import HTTPQ
import Logging
import ServiceLifecycle

/// The httpq worker as a swift-service-lifecycle `Service`, for an application that delivers
/// its requests in-process instead of running `httpq work`.
///
/// `run()` starts the same worker as `httpq work` on a thread of its own (the worker loop is
/// synchronous and blocks it). Graceful shutdown of the `ServiceGroup` acts as SIGTERM does:
/// claiming stops, transfers in flight get `config.grace` to finish, the rest are handed back,
/// every outcome is reported, and `run()` returns. Cancelling the task acts as a second
/// signal: everything is handed back at once. The `ServiceGroup` handles the process signals;
/// the worker watches none of its own.
public struct HTTPQWorkerService: Service {
    let config: Config
    let logger: Logger

    /// - Parameter config: as `httpq work` reads it; `Config(environment:flags:)` takes the
    ///   same variables (`DATABASE_URL`, `HTTPQ_CONCURRENCY`, ...).
    public init(config: Config, logger: Logger = Logger(label: "httpq")) {
        self.config = config
        self.logger = logger
    }

    /// Reads the configuration from `environment` as `httpq work` does.
    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger = Logger(label: "httpq")
    ) throws(ConfigError) {
        self.init(config: try Config(environment: environment), logger: logger)
    }

    /// Delivers until graceful shutdown or cancellation. Throws `StartupError` when the worker
    /// cannot start, and `HTTPQWorkerServiceError.incomplete` when some outcomes or claims
    /// could not be handed to the database before the stop (their requests are attempted
    /// again once their leases expire).
    public func run() async throws {
        let stop = try StopRequest()
        let exit = try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await runOnThread(stop: stop)
            } onGracefulShutdown: {
                stop.request()
            }
        } onCancel: {
            stop.request()
            stop.request()
        }
        if case .incomplete(let reason) = exit {
            throw HTTPQWorkerServiceError.incomplete(reason)
        }
    }

    /// Starts and runs the worker on a thread of its own; a stop requested before it started
    /// is seen at its first turn.
    /// With `config.listen` (`HTTPQ_LISTEN`) it serves /metrics, /healthz and /readyz as
    /// `httpq work --listen` does, less the count of dropped log lines (the logs are the app's).
    private func runOnThread(stop: StopRequest) async throws -> WorkerExit {
        let (config, logger) = (self.config, self.logger)
        let monitor = config.listen.map { _ in WorkerMonitor(droppedLines: nil) }
        let server = try config.listen.map { address in
            let server = try HTTPServer(listen: address, handler: monitor!.respond(to:))
            try server.start()
            logger.info("serving /metrics, /healthz and /readyz", metadata: ["listen": "\(address.host):\(server.port)"])
            return server
        }
        defer { server?.stop() }
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    let worker = try Worker.start(
                        config: config, logger: logger, stopRequest: stop, metrics: monitor?.factory,
                        health: monitor?.health)
                    continuation.resume(returning: worker.run())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}

/// How `HTTPQWorkerService.run()` can end badly after a start.
public enum HTTPQWorkerServiceError: Error, CustomStringConvertible {
    /// Some outcomes or claims were not handed to the database before the stop.
    case incomplete(String)

    public var description: String {
        switch self {
        case .incomplete(let reason): "the worker stopped without handing everything back: \(reason)"
        }
    }
}
