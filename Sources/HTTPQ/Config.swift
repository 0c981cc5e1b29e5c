import Glibc
import Logging

/// Everything `httpq work` can be told, read from the environment with command-line flags
/// taking precedence. Each setting is a flag and an `HTTPQ_` variable (the database: `DATABASE_URL`).
public struct Config: Sendable {
    /// `--database` / `DATABASE_URL`: a `postgres://` URL or `key=value` conninfo, handed to libpq
    /// untouched. Default: none, so libpq reads `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, ...
    public var databaseURL: String?
    /// `--concurrency` / `HTTPQ_CONCURRENCY`: the most transfers in flight. Default 100.
    public var concurrency = 100
    /// `--batch` / `HTTPQ_BATCH`: the most requests one claim takes. Default 100.
    public var batch = 100
    /// `--channel-share` / `HTTPQ_CHANNEL_SHARE`: the most requests of one channel in flight in
    /// this worker, so a slow or black-holed channel cannot take every slot. Default: half of
    /// `concurrency`, rounded up; all of it for a worker of one channel (`--channels a`), which
    /// has no other channel to keep slots for.
    public var channelShare: Int
    /// `--in-flight-bytes` / `HTTPQ_IN_FLIGHT_BYTES`: the most request body bytes the worker
    /// holds at once; it claims while at least 16 MiB (the largest body) of it is left, each
    /// claim within what is left. Default 64 MiB, at least 32 MiB.
    public var inFlightBytes = 64 << 20
    /// `--channels` / `HTTPQ_CHANNELS`: the channels to deliver, comma-separated. Default: all (nil).
    public var channels: [String]?
    /// `--lease` / `HTTPQ_LEASE`: how long a claim holds a request before another worker may
    /// take it; extended at half-time while the transfer runs. Default 60 s.
    public var lease: Duration = .seconds(60)
    /// `--poll-interval` / `HTTPQ_POLL_INTERVAL`: the longest wait between claims with free
    /// slots, covering missed NOTIFYs. Default 1 s.
    public var pollInterval: Duration = .seconds(1)
    /// `--grace` / `HTTPQ_GRACE`: how long transfers in flight may finish after SIGTERM. Default 10 s.
    public var grace: Duration = .seconds(10)
    /// `--max-response-bytes` / `HTTPQ_MAX_RESPONSE_BYTES`: how much of each response body is
    /// recorded. Default 65536.
    public var maxResponseBytes = 65536
    /// `--proxy` / `HTTPQ_PROXY`: the proxy every request goes through, such as
    /// `http://egress.internal:3128`. Default none; `http_proxy`, `https_proxy`, `ALL_PROXY`
    /// and `NO_PROXY` are ignored either way, so only this setting decides. With a proxy,
    /// the worker connects only to the proxy and cannot check destination addresses against
    /// a channel's `allowed_networks`: the proxy must filter egress itself.
    public var proxy: String?
    /// `--low-speed-limit` / `HTTPQ_LOW_SPEED_LIMIT`: with `lowSpeedTime`, a transfer moving
    /// fewer bytes per second than this ends as stalled. Default 1.
    public var lowSpeedLimit = 1
    /// `--low-speed-time` / `HTTPQ_LOW_SPEED_TIME`: how many seconds in a row a transfer may
    /// stay under `lowSpeedLimit`, waiting for the response included; 0 turns the rule off.
    /// Default 60. Requests whose timeout_ms is no longer than this are ended by it instead.
    public var lowSpeedTime = 60
    /// `--worker-id` / `HTTPQ_WORKER_ID`: the name claims are held under. Default `host:pid`.
    public var workerID: String
    /// `--log-level` / `HTTPQ_LOG_LEVEL`: trace, debug, info, notice, warning, error or critical. Default info.
    public var logLevel = Logger.Level.info
    /// `--log-format` / `HTTPQ_LOG_FORMAT`: text or json. Default text.
    public var logFormat = LogFormat.text
    /// `--no-maintenance` / `HTTPQ_MAINTENANCE=off`: whether the worker runs `httpq.maintain`
    /// (partitions ahead, expired history) on a second connection, about once a minute. Turn
    /// it off when cron runs `SELECT httpq.maintain()` instead. Default on.
    public var maintenance = true
    /// `HTTPQ_SECRET_KEY`, or the file named by `--secret-key-file` / `HTTPQ_SECRET_KEY_FILE`:
    /// the keys that open the secret store's values (README, Secrets). The first seals, the
    /// others only open, while the store is resealed under a new key. Never a flag's value,
    /// which any user of the machine could read in the process list. Default none: requests
    /// that need a secret are then not sent, and say why.
    public var secretKeyring: SecretKeyring?
    /// `--listen` / `HTTPQ_LISTEN`: where `httpq work` serves `/metrics`, `/healthz` and
    /// `/readyz`, such as `127.0.0.1:9090`. Default none: nothing is served or counted.
    public var listen: ListenAddress?
    /// How to reach the database (the URL plus libpq defaults).
    var connection: ConnectionParameters

    /// Reads the settings from `environment`, with `flags` (keyed by flag name without dashes,
    /// as in `Setting.flag`) taking precedence. Unset and empty variables count as absent.
    public init(
        environment: [String: String], flags: [String: String] = [:],
        defaultWorkerID: @autoclosure () -> String = Config.hostAndProcess()
    ) throws(ConfigError) {
        let reader = SettingReader(environment: environment, flags: flags)
        databaseURL = try reader.string(.database)
        concurrency = try reader.integer(.concurrency, in: 1...10_000) ?? concurrency
        batch = try reader.integer(.batch, in: 1...1000) ?? batch
        channels = try reader.list(.channels)
        channelShare =
            try reader.integer(.channelShare, in: 1...concurrency)
            ?? (channels?.count == 1 ? concurrency : (concurrency + 1) / 2)
        inFlightBytes = try reader.integer(.inFlightBytes, in: (32 << 20)...(1 << 36)) ?? inFlightBytes
        lease = try reader.seconds(.lease, in: 1...86_400) ?? lease
        pollInterval = try reader.seconds(.pollInterval, in: 0.01...3600) ?? pollInterval
        grace = try reader.seconds(.grace, in: 0...3600) ?? grace
        maxResponseBytes = try reader.integer(.maxResponseBytes, in: 0...104_857_600) ?? maxResponseBytes
        proxy = try reader.proxy(.proxy)
        lowSpeedLimit = try reader.integer(.lowSpeedLimit, in: 1...104_857_600) ?? lowSpeedLimit
        lowSpeedTime = try reader.integer(.lowSpeedTime, in: 0...3600) ?? lowSpeedTime
        workerID = try reader.workerID(.workerID) ?? defaultWorkerID()
        logLevel =
            try reader.choice(.logLevel, Logger.Level.allCases.map(\.rawValue))
            .flatMap { Logger.Level(rawValue: $0) } ?? logLevel
        logFormat =
            try reader.choice(.logFormat, LogFormat.allCases.map(\.rawValue))
            .flatMap { LogFormat(rawValue: $0) } ?? logFormat
        maintenance = try reader.choice(.maintenance, ["on", "off"]).map { $0 == "on" } ?? maintenance
        secretKeyring = try reader.secretKeyring()
        listen = try reader.listenAddress(.listen)
        connection = ConnectionParameters(url: databaseURL, environment: environment)
    }

    /// The secret keyring alone, as `init` reads it (`HTTPQ_SECRET_KEY`, else the file of
    /// `--secret-key-file` / `HTTPQ_SECRET_KEY_FILE`), for commands that seal or open secrets.
    public static func secretKeyring(
        environment: [String: String], flags: [String: String] = [:]
    ) throws(ConfigError) -> SecretKeyring? {
        try SettingReader(environment: environment, flags: flags).secretKeyring()
    }

    /// `hostname:pid`, unique per process on a host and readable in `httpq.requests`.
    public static func hostAndProcess() -> String {
        var name = [UInt8](repeating: 0, count: 256)
        let host =
            gethostname(&name, name.count - 1) == 0
            ? String(decoding: name.prefix { $0 != 0 }, as: UTF8.self) : "localhost"
        return "\(host):\(getpid())"
    }

    /// What every transfer is set up with, beside its request.
    var transferSettings: TransferSettings {
        TransferSettings(
            maxResponseBytes: maxResponseBytes, proxy: proxy, lowSpeedLimit: lowSpeedLimit, lowSpeedTime: lowSpeedTime)
    }

    /// `url` with any user name and password replaced by `***`, for logs and errors.
    static func withoutCredentials(_ url: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        let authority = url[scheme.upperBound...].prefix { $0 != "/" }
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + "***" + String(url[at...])
    }

    /// The settings worth logging at start. The database URL is left out: it may hold a password;
    /// the proxy's credentials are masked.
    public var summary: [(String, String)] {
        [
            ("database", databaseURL == nil ? "from PG* variables" : "from --database/DATABASE_URL"),
            ("channels", channels?.joined(separator: ",") ?? "all"),
            ("concurrency", String(concurrency)),
            ("batch", String(batch)),
            ("channel_share", String(channelShare)),
            ("in_flight_bytes", String(inFlightBytes)),
            ("lease", "\(lease.seconds)s"),
            ("poll_interval", "\(pollInterval.seconds)s"),
            ("grace", "\(grace.seconds)s"),
            ("max_response_bytes", String(maxResponseBytes)),
            ("proxy", proxy.map(Self.withoutCredentials) ?? "none"),
            ("low_speed", lowSpeedTime == 0 ? "off" : "\(lowSpeedLimit) B/s for \(lowSpeedTime)s"),
            ("maintenance", maintenance ? "on" : "off"),
            ("listen", listen.map { "\($0)" } ?? "none"),
            ("secret_keys", secretKeyring?.ids.joined(separator: ",") ?? "none"),
        ]
    }
}

/// A setting that cannot be used, naming the flag or variable it came from and the rule it breaks.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// `--concurrency` or `HTTPQ_CONCURRENCY`, whichever supplied the value.
    public var source: String
    public var value: String
    public var rule: String

    public var description: String {
        "invalid \(source) \"\(value)\": \(rule)"
    }
}
