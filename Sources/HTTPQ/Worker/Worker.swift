import CoreMetrics
import Glibc
import Logging

/// How a worker run ended.
public enum WorkerExit: Equatable, Sendable {
    /// Everything was reported or released.
    case clean
    /// Some outcomes or claims could not be handed to the database before exit; their leases
    /// will expire and the requests will be attempted again.
    case incomplete(String)

    /// 0 for a clean stop, 1 otherwise.
    public var code: Int32 {
        self == .clean ? 0 : 1
    }
}

/// The delivery loop: one thread, one `curl_multi_poll` over every transfer, the database
/// sockets (claims on one connection, reports on another) and the stop descriptors. Each
/// turn it waits, moves transfers forward, reads the database, then lets `WorkerPlan` decide
/// the next statement on each connection.
///
/// Not thread-safe: `run` is called once, on one thread, which owns every handle.
public final class Worker {
    let config: Config
    let logger: Logger
    let identity: WorkerIdentity
    let multi: Multi
    /// Claims and their wake-ups on one connection, reports on the other (`WorkerPlan.Lane`).
    let claimsLink: DatabaseLink
    let reportsLink: DatabaseLink
    /// `httpq.maintain` on its own connection; nil with `--no-maintenance`.
    let maintenance: Maintenance?
    let stopSources: [StopSource]
    var plan: WorkerPlan
    /// Each transfer in flight with its claim, by (id, attempt).
    var attempts = AttemptsInFlight()
    /// Idle transfers, reused for the next requests.
    var transfers: TransferPool
    /// How many claims were handed back during shutdown (for the exit log line).
    var releasedCount = 0
    /// Opens the secrets claimed requests name, and signs them.
    var secrets: SecretResolver
    /// What is counted and measured; nil when the worker was given no metrics factory.
    let metrics: WorkerMetrics?
    /// What the probes answer; nil when nobody asks.
    let health: WorkerHealth?
    /// Whether `LISTEN httpq` went through on the current claims connection.
    var listening = false

    /// The longest the loop waits without a turn, so a lost wake-up costs at most this much.
    public static let longestWait: Duration = .seconds(1)

    private init(
        config: Config, connections: (claims: Connection, reports: Connection), stopSources: [StopSource],
        logger: Logger, metrics: (any MetricsFactory)?, health: WorkerHealth?
    ) throws(StartupError) {
        self.config = config
        var logger = logger
        logger[metadataKey: LogKey.worker] = .string(config.workerID)
        self.logger = logger
        self.identity = WorkerIdentity(worker: config.workerID, channels: config.channels, lease: config.lease)
        self.stopSources = stopSources
        transfers = TransferPool(limit: config.concurrency)
        secrets = SecretResolver(keyring: config.secretKeyring)
        do {
            multi = try Multi(idleConnections: config.concurrency)
            claimsLink = try DatabaseLink(connection: connections.claims, parameters: config.connection)
            reportsLink = try DatabaseLink(connection: connections.reports, parameters: config.connection)
        } catch let error as CurlError {
            throw .system(error.description)
        } catch {
            throw .unreachable("\(error)")
        }
        let now = ContinuousClock.now
        plan = WorkerPlan(
            concurrency: config.concurrency, batch: config.batch, pollInterval: config.pollInterval,
            lease: config.lease, grace: config.grace, now: now)
        maintenance =
            config.maintenance
            ? Maintenance(parameters: config.connection, identity: identity, plan: MaintenancePlan(now: now)) : nil
        self.metrics = metrics.map(WorkerMetrics.init)
        self.health = health
        if metrics != nil {
            plan.queueStats = QueueStatsSchedule(now: now)
        }
    }

    /// Connects, checks the database, and prepares a worker; nothing is claimed until `run`.
    /// `signals` and `stopRequest` are what make it stop (each event counts as one signal).
    /// `metrics` receives the worker's metrics (README-metrics.md), and with it the worker reads
    /// the queue's own figures every 15 s; `health` is what its probes answer from.
    public static func start(
        config: Config, logger: Logger, signals: SignalDescriptor? = nil,
        stopRequest: StopRequest? = nil, metrics: (any MetricsFactory)? = nil, health: WorkerHealth? = nil
    ) throws(StartupError) -> Worker {
        // A peer closing a connection mid-write must be an error code, not a dead process.
        signal(SIGPIPE, SIG_IGN)
        let needed = config.concurrency + 64
        let limit = FileLimit.raise(toFit: needed)
        if limit < needed {
            logger.warning(
                "the open-files limit is below what --concurrency needs; raise it with ulimit -n",
                metadata: ["limit": "\(limit)", "needed": "\(needed)"])
        }
        let claims = try Startup.connect(config.connection, maintenance: config.maintenance)
        let reports = try Startup.connect(config.connection, maintenance: config.maintenance)
        let sources: [StopSource] = [signals as StopSource?, stopRequest as StopSource?].compactMap { $0 }
        return try Worker(
            config: config, connections: (claims, reports), stopSources: sources, logger: logger, metrics: metrics,
            health: health)
    }

    /// Delivers until stopped, then returns how the stop went.
    public func run() -> WorkerExit {
        logger.info(
            "started", metadata: Logger.Metadata(uniqueKeysWithValues: config.summary.map { ($0, .string($1)) }))
        logger.info("connected")
        while true {
            let now = ContinuousClock.now
            health?.turned(at: now)
            if advanceShutdown(now: now) == .exit { break }
            var sent = false
            for lane in WorkerPlan.Lane.allCases where usable(lane) {
                if let query = plan.nextQuery(now: now, inFlight: slotsTaken, lane: lane) {
                    handle(link(lane).send(withRoom(query), identity: identity, now: now), lane: lane)
                    sent = true
                }
            }
            if sent { continue }  // a send may have failed at once; decide again
            let ready = wait(until: deadline(now: now))
            finishTransfers()
            for _ in 0..<ready.stops { receivedStop() }
            handle(claimsLink.service(now: .now, ready: ready.claims), lane: .claims)
            handle(reportsLink.service(now: .now, ready: ready.reports), lane: .reports)
            if let maintenance {
                log(maintenance.service(now: .now, ready: ready.maintenance))
            }
            metrics?.inFlight(attempts.count)
            health?.set(readiness)
        }
        health?.set(.notRunning)
        return exitSummary()
    }

    /// What `/readyz` says this turn.
    private var readiness: WorkerHealth.Readiness {
        if !plan.shutdown.isClaiming { return .draining }
        if !claimsLink.isConnected || !reportsLink.isConnected { return .disconnected }
        return listening ? .ready : .notListening
    }

    /// The transfer slots the plan sees taken: all of them once the request bodies in flight
    /// use up `--in-flight-bytes`, so no claim is due until some finish.
    private var slotsTaken: Int {
        attempts.mayClaim(bytes: config.inFlightBytes) ? attempts.count : config.concurrency
    }

    /// A claim bounded by what the worker already holds (`ClaimRoom`), made only when one is sent.
    private func withRoom(_ query: DatabaseQuery) -> DatabaseQuery {
        guard case .claim(let count, nil) = query else { return query }
        return .claim(count: count, room: attempts.room(bytes: config.inFlightBytes, share: config.channelShare))
    }

    /// The connection of a lane.
    func link(_ lane: WorkerPlan.Lane) -> DatabaseLink {
        lane == .claims ? claimsLink : reportsLink
    }

    /// Whether a statement of `lane` can be sent now. Nothing is claimed while the reports
    /// connection is down: the outcomes could not be recorded, nor the leases extended.
    private func usable(_ lane: WorkerPlan.Lane) -> Bool {
        link(lane).isIdle && (lane == .reports || reportsLink.isConnected)
    }

    // MARK: - Waiting

    /// The next time the loop must act without input, capped so a lost wake-up costs at most a second.
    private func deadline(now: Instant) -> Instant {
        var times = [plan.shutdown.deadline, maintenance?.deadline, now + Self.longestWait]
        for lane in WorkerPlan.Lane.allCases {
            times.append(usable(lane) ? plan.queryDeadline(inFlight: slotsTaken, lane: lane) : nil)
            times.append(link(lane).deadline)
        }
        return times.compactMap { $0 }.min()!
    }

    /// What the wait found: how many stop requests arrived, and which database sockets are ready.
    private struct Readiness {
        var stops = 0
        var claims = false
        var reports = false
        var maintenance = false
    }

    /// Waits on transfers, both database sockets and the stop sources.
    private func wait(until deadline: Instant) -> Readiness {
        var descriptors = stopSources.map { WaitDescriptor(fd: $0.fd, read: true) }
        var claimsIndex: Int?
        if let claimsWait = claimsLink.waitDescriptor {
            claimsIndex = descriptors.count
            descriptors.append(claimsWait)
        }
        var reportsIndex: Int?
        if let reportsWait = reportsLink.waitDescriptor {
            reportsIndex = descriptors.count
            descriptors.append(reportsWait)
        }
        var maintenanceIndex: Int?
        if let maintenanceWait = maintenance?.waitDescriptor {
            maintenanceIndex = descriptors.count
            descriptors.append(maintenanceWait)
        }
        let timeout = Int32(clamping: max(0, (deadline - .now).milliseconds + 1))
        let ready: [WaitDescriptor]
        do {
            ready = try multi.wait(on: descriptors, timeoutMilliseconds: timeout)
        } catch {
            logger.error("waiting for transfers failed", metadata: [LogKey.error: "\(error)"])
            usleep(10_000)  // never spin on a persistent failure
            return Readiness(claims: true, reports: true, maintenance: true)
        }
        var readiness = Readiness()
        readiness.stops = zip(stopSources, ready).reduce(0) { count, pair in
            count + (pair.1.ready ? pair.0.drain() : 0)
        }
        readiness.claims = claimsIndex.map { ready[$0].ready } ?? false
        readiness.reports = reportsIndex.map { ready[$0].ready } ?? false
        readiness.maintenance = maintenanceIndex.map { ready[$0].ready } ?? false
        return readiness
    }
}

@available(*, unavailable)
extension Worker: Sendable {}
