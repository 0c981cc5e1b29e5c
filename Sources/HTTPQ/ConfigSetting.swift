/// One configurable setting: its flag and its environment variable, named in one place.
public struct Setting: Sendable, Hashable {
    /// The flag without dashes, e.g. `concurrency` for `--concurrency`.
    public var flag: String
    /// The environment variable, e.g. `HTTPQ_CONCURRENCY`.
    public var variable: String

    init(flag: String, variable: String? = nil) {
        self.flag = flag
        self.variable = variable ?? "HTTPQ_" + flag.uppercased().replacingDashes()
    }

    public static let database = Setting(flag: "database", variable: "DATABASE_URL")
    public static let concurrency = Setting(flag: "concurrency")
    public static let batch = Setting(flag: "batch")
    public static let channelShare = Setting(flag: "channel-share")
    public static let inFlightBytes = Setting(flag: "in-flight-bytes")
    public static let channels = Setting(flag: "channels")
    public static let lease = Setting(flag: "lease")
    public static let pollInterval = Setting(flag: "poll-interval")
    public static let grace = Setting(flag: "grace")
    public static let maxResponseBytes = Setting(flag: "max-response-bytes")
    public static let proxy = Setting(flag: "proxy")
    public static let lowSpeedLimit = Setting(flag: "low-speed-limit")
    public static let lowSpeedTime = Setting(flag: "low-speed-time")
    public static let workerID = Setting(flag: "worker-id")
    public static let logLevel = Setting(flag: "log-level")
    public static let logFormat = Setting(flag: "log-format")
    public static let maintenance = Setting(flag: "maintenance")
    public static let secretKeyFile = Setting(flag: "secret-key-file")
    public static let listen = Setting(flag: "listen")
    /// The secret keys themselves: a variable only, never a flag.
    public static let secretKeyVariable = "HTTPQ_SECRET_KEY"
}

extension String {
    fileprivate func replacingDashes() -> String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}

/// Looks settings up (flag first, then variable) and checks them, throwing a `ConfigError`
/// that names where the bad value came from.
struct SettingReader {
    var environment: [String: String]
    var flags: [String: String]

    /// The raw value and the name of its source, or nil when unset.
    func lookup(_ setting: Setting) -> (value: String, source: String)? {
        if let value = flags[setting.flag] {
            return (value, "--" + setting.flag)
        }
        if let value = environment[setting.variable], !value.isEmpty {
            return (value, setting.variable)
        }
        return nil
    }

    func string(_ setting: Setting) throws(ConfigError) -> String? {
        guard let (value, source) = lookup(setting) else { return nil }
        guard !value.isEmpty else {
            throw ConfigError(
                source: source, value: value, rule: "must not be empty; leave it unset to use the default")
        }
        return value
    }

    /// The secret keyring from `HTTPQ_SECRET_KEY` or the key file; errors never quote a key.
    func secretKeyring() throws(ConfigError) -> SecretKeyring? {
        let variable = environment[Setting.secretKeyVariable].flatMap { $0.isEmpty ? nil : $0 }
        let file = lookup(.secretKeyFile)
        do {
            return try SecretKeyring.load(environment: variable, file: file?.value)
        } catch {
            throw ConfigError(
                source: file?.source ?? Setting.secretKeyVariable, value: file?.value ?? "(not shown)",
                rule: error.description)
        }
    }

    func integer(_ setting: Setting, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let (value, source) = lookup(setting) else { return nil }
        guard let number = Int(value), range.contains(number) else {
            throw ConfigError(
                source: source, value: value,
                rule: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func seconds(_ setting: Setting, in range: ClosedRange<Double>) throws(ConfigError) -> Duration? {
        guard let (value, source) = lookup(setting) else { return nil }
        guard let number = Double(value), number.isFinite, range.contains(number) else {
            throw ConfigError(
                source: source, value: value,
                rule: "must be a number of seconds from \(Self.format(range.lowerBound)) to "
                    + "\(Self.format(range.upperBound)), such as 30 or 1.5")
        }
        return .nanoseconds(Int64((number * 1e9).rounded()))
    }

    /// A proxy URL with an explicit scheme libcurl speaks and a host.
    func proxy(_ setting: Setting) throws(ConfigError) -> String? {
        guard let (value, source) = lookup(setting) else { return nil }
        let schemes = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"]
        let parts = value.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, schemes.contains(parts[0].lowercased()), !parts[1].isEmpty,
            !value.unicodeScalars.contains(where: { $0.value <= 32 || $0.value == 127 })
        else {
            throw ConfigError(
                source: source, value: Config.withoutCredentials(value),
                rule: "must be a proxy URL such as http://proxy.internal:3128, with scheme "
                    + schemes.joined(separator: ", "))
        }
        return value
    }

    func list(_ setting: Setting) throws(ConfigError) -> [String]? {
        guard let (value, source) = lookup(setting) else { return nil }
        let names = value.split(separator: ",", omittingEmptySubsequences: false)
            .map { String($0.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
        guard !names.contains(where: \.isEmpty) else {
            throw ConfigError(
                source: source, value: value,
                rule: "must be channel names separated by commas, none empty; leave it unset for all channels")
        }
        return names
    }

    func choice(_ setting: Setting, _ choices: [String]) throws(ConfigError) -> String? {
        guard let (value, source) = lookup(setting) else { return nil }
        guard choices.contains(value) else {
            throw ConfigError(source: source, value: value, rule: "must be one of " + choices.joined(separator: ", "))
        }
        return value
    }

    /// An address to serve on, `HOST:PORT` (a bracketed IPv6 host, or port 0 for any free one).
    func listenAddress(_ setting: Setting) throws(ConfigError) -> ListenAddress? {
        guard let (value, source) = lookup(setting) else { return nil }
        do {
            return try ListenAddress(parsing: value)
        } catch {
            throw ConfigError(source: source, value: value, rule: error.rule)
        }
    }

    func workerID(_ setting: Setting) throws(ConfigError) -> String? {
        guard let (value, source) = lookup(setting) else { return nil }
        guard (1...200).contains(value.count),
            !value.unicodeScalars.contains(where: { $0.value < 32 || $0.value == 127 })
        else {
            throw ConfigError(
                source: source, value: value,
                rule: "must be 1 to 200 characters without control characters")
        }
        return value
    }

    private static func format(_ number: Double) -> String {
        number == number.rounded() ? String(Int(number)) : String(number)
    }
}
