import ArgumentParser
import HTTPQ
import Logging

/// `httpq work`: the delivery worker.
struct WorkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "Deliver queued requests until stopped.",
        discussion: """
            Claims requests from the database, sends them, and reports each outcome; the \
            database decides retries, backoff and dead letters. Run as many workers as you \
            like, on any hosts that reach the database and the destinations: they share the \
            work through the database alone.

            SIGTERM or SIGINT stops claiming and lets transfers in flight finish within the \
            grace period; what is left is handed back for another worker, every outcome is \
            reported, and the worker exits 0. A second signal hands everything back at once.

            While reports fail for a reason that is not one outcome's own (a lost connection, a \
            missing function or privilege, a statement timeout), the worker keeps every \
            outcome, sends the report again with growing delays up to 5 seconds, claims nothing \
            new, and logs one error until a report goes through again. An outcome the database \
            refuses for its own data (SQLSTATE class 22 or 23) is found by sending the report \
            again in halves, logged and dropped; its request is attempted again once its lease \
            expires.

            Exit status: 0 after a clean stop; 1 when outcomes or claims could not be handed \
            to the database before exit (their requests are attempted again after the lease); \
            2 when the worker cannot start (a bad option or variable, an unreachable database, \
            or a database without the httpq extension).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            """
            The most requests in flight at once. Also HTTPQ_CONCURRENCY. Defaults to 100, which \
            keeps a worker's connections well inside the usual limit of 1024 open files; the \
            worker raises its soft limit when a larger value needs it.
            """, valueName: "n"))
    var concurrency: String?

    @Option(
        help: ArgumentHelp(
            """
            The most requests taken by one claim. Also HTTPQ_BATCH. Defaults to 100. A claim never \
            asks for more than the free slots.
            """, valueName: "n"))
    var batch: String?

    @Option(
        name: .customLong("channel-share"),
        help: ArgumentHelp(
            """
            The most requests of one channel in flight at once in this worker, so that a slow or \
            unresponsive destination cannot take every slot from the others. Also \
            HTTPQ_CHANNEL_SHARE. Defaults to half of --concurrency, or all of it when --channels \
            names one channel.
            """, valueName: "n"))
    var channelShare: String?

    @Option(
        name: .customLong("in-flight-bytes"),
        help: ArgumentHelp(
            """
            The most request body bytes held at once: each claim stays within what is left, and \
            the worker claims while at least 16 MiB (the largest body) is left, so a batch of \
            large bodies cannot exhaust memory. Also HTTPQ_IN_FLIGHT_BYTES. Defaults to \
            67108864 (64 MiB); at least 33554432 (32 MiB).
            """, valueName: "bytes"))
    var inFlightBytes: String?

    @Option(
        help: ArgumentHelp(
            """
            The channels to deliver, separated by commas. Also HTTPQ_CHANNELS. Defaults to every \
            channel.
            """, valueName: "a,b"))
    var channels: String?

    @Option(
        help: ArgumentHelp(
            """
            How long a claim holds a request, in seconds (fractions such as 1.5 are allowed); if the \
            worker dies, another worker may take the request after this long. Also HTTPQ_LEASE. Defaults to 60. Leases of long \
            transfers are extended at half-time.
            """, valueName: "seconds"))
    var lease: String?

    @Option(
        name: .customLong("poll-interval"),
        help: ArgumentHelp(
            """
            The longest wait between claims while slots are free, in seconds (fractions such as 0.5 \
            are allowed), in case a notification was missed. Also HTTPQ_POLL_INTERVAL. Defaults to 1.
            """, valueName: "seconds"))
    var pollInterval: String?

    @Option(
        help: ArgumentHelp(
            """
            How long transfers in flight may take to finish after SIGTERM or SIGINT, in seconds \
            (fractions allowed). Also HTTPQ_GRACE. Defaults to 10. Handing back and reporting then take at most 5 more.
            """, valueName: "seconds"))
    var grace: String?

    @Option(
        name: .customLong("max-response-bytes"),
        help: ArgumentHelp(
            """
            How many bytes of each response body are recorded; the rest is read and dropped. Also \
            HTTPQ_MAX_RESPONSE_BYTES. Defaults to 65536.
            """, valueName: "n"))
    var maxResponseBytes: String?

    @Option(
        help: ArgumentHelp(
            """
            The proxy every request goes through, such as http://egress.internal:3128 (also \
            https://, socks5://, socks5h://). Also HTTPQ_PROXY. Defaults to none. The variables \
            http_proxy, https_proxy, ALL_PROXY and NO_PROXY are ignored either way. Without a \
            proxy, the worker refuses to connect to loopback, private, link-local and other \
            non-public addresses unless the channel's allowed_networks lists them; with one, it \
            connects only to the proxy and cannot check destinations, so the proxy must filter \
            egress itself.
            """, valueName: "url"))
    var proxy: String?

    @Option(
        help: ArgumentHelp(
            """
            A file holding the keys that open the secret store's values (README, Secrets). Also \
            HTTPQ_SECRET_KEY_FILE, or the keys themselves in HTTPQ_SECRET_KEY. Defaults to none: \
            requests that name a secret or a signing key are then not sent, and their attempts \
            say why without counting.
            """, valueName: "path"))
    var secretKeyFile: String?

    @Option(
        name: .customLong("low-speed-limit"),
        help: ArgumentHelp(
            """
            With --low-speed-time, the speed in bytes per second under which a transfer counts \
            as stalled. Also HTTPQ_LOW_SPEED_LIMIT. Defaults to 1.
            """, valueName: "bytes"))
    var lowSpeedLimit: String?

    @Option(
        name: .customLong("low-speed-time"),
        help: ArgumentHelp(
            """
            How many seconds in a row a transfer may stay under --low-speed-limit before it \
            ends as stalled, the wait for the response included; 0 turns the rule off. Also \
            HTTPQ_LOW_SPEED_TIME. Defaults to 60. A request whose timeout_ms is no longer ends \
            by its timeout instead. Raise it for destinations that are silent for longer \
            before they answer.
            """, valueName: "seconds"))
    var lowSpeedTime: String?

    @Option(
        name: .customLong("worker-id"),
        help: ArgumentHelp(
            """
            The name this worker holds its claims under, shown in httpq.requests. Also \
            HTTPQ_WORKER_ID. Defaults to the host name and process id, as host:pid. Two running \
            workers must not share one.
            """, valueName: "id"))
    var workerID: String?

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            """
            Whether this worker maintains the history: about once a minute, on a second \
            connection opened only for it, it calls httpq.maintain(), which creates partitions \
            ahead and drops expired history; one worker at a time does the work, the others \
            skip. Also HTTPQ_MAINTENANCE=on or off. Defaults to on. Use --no-maintenance when \
            cron runs SELECT httpq.maintain() instead.
            """))
    var maintenance: Bool?

    @Option(
        help: ArgumentHelp(
            """
            Serve /metrics (Prometheus text format), /healthz and /readyz over HTTP on this \
            address, such as 127.0.0.1:9090 or [::1]:9090; port 0 takes any free port, which \
            is logged. Also HTTPQ_LISTEN. Defaults to none: nothing is served and no metrics \
            are kept. Nothing is authenticated: bind to loopback or a private address.
            """, valueName: "host:port"))
    var listen: String?

    func run() throws {
        // Before anything can start a thread: the signals must be blocked in every thread.
        let signals: SignalDescriptor
        do {
            signals = try SignalDescriptor()
        } catch {
            throw Failure.exit("cannot watch for signals: \(error)", ExitCode.failure)
        }
        let config: Config
        do {
            config = try Config(environment: ProcessEnvironment.current(), flags: flags)
        } catch {
            throw Failure.exit("\(error)", Failure.configuration)
        }
        // Log lines are queued for a thread of their own, so a slow stderr never stalls
        // delivery; what is queued at exit is written first, for at most 2 seconds.
        let logWriter = LogWriter.standardError(config.logFormat)
        defer { logWriter.flush(timeout: .seconds(2)) }
        LoggingSystem.bootstrap { _ in LineLogHandler(level: config.logLevel, writer: logWriter) }
        let logger = Logger(label: "httpq")
        // Served before the worker connects, so probes say why it is not ready yet.
        let monitor = config.listen.map { _ in WorkerMonitor(droppedLines: { logWriter.droppedLines }) }
        let server = try config.listen.map { address in try serve(monitor!, on: address, logger: logger) }
        defer { server?.stop() }
        let worker: Worker
        do {
            worker = try Worker.start(
                config: config, logger: logger, signals: signals, metrics: monitor?.factory, health: monitor?.health)
        } catch {
            throw Failure.exit("\(error)", Failure.configuration)
        }
        let exit = worker.run()
        if exit != .clean {
            throw ExitCode(exit.code)
        }
    }

    /// Starts serving `monitor` on `address`, on threads of the server's own.
    private func serve(_ monitor: WorkerMonitor, on address: ListenAddress, logger: Logger) throws -> HTTPServer {
        let server: HTTPServer
        do {
            server = try HTTPServer(listen: address, handler: monitor.respond(to:))
            try server.start()
        } catch {
            throw Failure.exit("cannot serve on --listen \(address): \(error)", Failure.configuration)
        }
        logger.info(
            "serving /metrics, /healthz and /readyz",
            metadata: ["listen": "\(address.host.contains(":") ? "[\(address.host)]" : address.host):\(server.port)"])
        return server
    }

    /// The flags given on the command line, keyed as `Config` expects.
    private var flags: [String: String] {
        var flags = global.flags
        flags[Setting.concurrency.flag] = concurrency
        flags[Setting.batch.flag] = batch
        flags[Setting.channelShare.flag] = channelShare
        flags[Setting.inFlightBytes.flag] = inFlightBytes
        flags[Setting.channels.flag] = channels
        flags[Setting.lease.flag] = lease
        flags[Setting.pollInterval.flag] = pollInterval
        flags[Setting.grace.flag] = grace
        flags[Setting.maxResponseBytes.flag] = maxResponseBytes
        flags[Setting.proxy.flag] = proxy
        flags[Setting.secretKeyFile.flag] = secretKeyFile
        flags[Setting.lowSpeedLimit.flag] = lowSpeedLimit
        flags[Setting.lowSpeedTime.flag] = lowSpeedTime
        flags[Setting.workerID.flag] = workerID
        flags[Setting.maintenance.flag] = maintenance.map { $0 ? "on" : "off" }
        flags[Setting.listen.flag] = listen
        return flags
    }
}
