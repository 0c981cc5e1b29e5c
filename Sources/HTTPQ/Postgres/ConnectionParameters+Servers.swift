internal import CLibPQ

/// Which servers a connection will try, read the way libpq reads them, and resolving their
/// host names before libpq sees them: libpq resolves synchronously inside
/// `PQconnectStartParams` and `PQconnectPoll`, which would stall the worker loop.
extension ConnectionParameters {
    /// These parameters with every host name resolved to numeric addresses (`hostaddr`), so
    /// libpq connects without a DNS query of its own. Unchanged when no name needs a lookup.
    /// Blocks for as long as DNS takes: call it off the loop.
    /// - Parameter defaults: libpq's defaults, from `PG*` variables and the service file.
    func resolvingHostNames(
        lookUp: (String) -> Result<[String], HostLookupError>,
        defaults: [String: String] = ConnectionParameters.libpqDefaults()
    ) -> Result<ConnectionParameters, PostgresError> {
        guard let servers = servers(defaults: defaults) else { return .success(self) }
        let names = servers.namesToLookUp
        guard !names.isEmpty else { return .success(self) }
        var addresses: [String: [String]] = [:]
        var failures: [String] = []
        for name in names {
            switch lookUp(name) {
            case .success(let found): addresses[name] = found
            case .failure(let error): failures.append(error.description)
            }
        }
        guard let settings = servers.settings(addresses: addresses) else {
            return .failure(.connection(message: failures.joined(separator: "; ")))
        }
        var resolved = self
        resolved.resolvedServers = settings
        return .success(resolved)
    }

    /// The servers libpq will try: `host`, `hostaddr` and `port` from the URL, each else from
    /// `defaults`. nil when that cannot be known without libpq connecting: the URL does not
    /// parse (libpq reports why), or it names a service, whose file libpq reads only then.
    func servers(defaults: [String: String]) -> ServerList? {
        var explicit: [String: String] = [:]
        if let url, Self.isConnectionString(url) {
            guard let parsed = Self.parse(url), parsed["service"] == nil else { return nil }
            explicit = parsed
        }
        func setting(_ keyword: String) -> String? {
            explicit[keyword] ?? defaults[keyword]
        }
        return ServerList(host: setting("host"), hostaddr: setting("hostaddr"), port: setting("port"))
    }

    /// libpq's defaults: its `PG*` variables, the service `PGSERVICE` names, compiled-in values.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PQCONNDEFAULTS
    static func libpqDefaults() -> [String: String] {
        guard let options = PQconndefaults() else { return [:] }
        defer { PQconninfoFree(options) }
        return settings(options)
    }

    /// Whether libpq expands `url` as a connection string rather than taking it as a database name.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING
    static func isConnectionString(_ url: String) -> Bool {
        url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") || url.contains("=")
    }

    /// The settings a connection string gives explicitly, nil when it does not parse.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PQCONNINFOPARSE
    private static func parse(_ url: String) -> [String: String]? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        return settings(options)
    }

    /// The keywords with a non-empty value in a `PQconninfoOption` array (empty means unset to libpq).
    private static func settings(_ options: UnsafeMutablePointer<PQconninfoOption>) -> [String: String] {
        var settings: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val, value.pointee != 0 {
                settings[String(cString: keyword)] = String(cString: value)
            }
            option += 1
        }
        return settings
    }
}
