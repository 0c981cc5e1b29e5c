internal import CLibPQ

/// Which servers a connection will try, read the way libpq reads them, and resolving their
/// host names before libpq sees them: libpq resolves synchronously inside
/// `PQconnectStartParams` and `PQconnectPoll`, which would stall the worker loop.
extension ConnectionParameters {
    /// One connection per server to try, in libpq's order, each naming its server alone by
    /// numeric address (`hostaddr`), so libpq connects without a DNS query of its own and each
    /// server gets a timeout of its own. Every other setting is left as it is, so each
    /// connection still checks `target_session_attrs`. Two libpq behaviours that span servers
    /// are kept: `prefer-standby` tries every server as `standby`, then every server as `any`;
    /// `load_balance_hosts=random` tries them in random order. One connection with these
    /// parameters unchanged when the servers cannot be known (see `servers`).
    /// Blocks for as long as DNS takes: call it off the loop.
    /// - Parameter defaults: libpq's defaults, from `PG*` variables and the service file.
    func connectionsToTry(
        lookUp: (String) -> Result<[String], HostLookupError>,
        defaults: [String: String] = ConnectionParameters.libpqDefaults()
    ) -> Result<ConnectionPlan, PostgresError> {
        guard let settings = settings(defaults: defaults),
            let servers = ServerList(host: settings["host"], hostaddr: settings["hostaddr"], port: settings["port"])
        else { return .success(ConnectionPlan(connections: [self])) }
        var addresses: [String: [String]] = [:]
        var failures: [String] = []
        for name in servers.namesToLookUp {
            switch lookUp(name) {
            case .success(let found): addresses[name] = found
            case .failure(let error): failures.append(error.description)
            }
        }
        guard var each = servers.connections(addresses: addresses) else {
            return .failure(.connection(message: failures.joined(separator: "; ")))
        }
        if settings["load_balance_hosts"] == "random" {
            each.shuffle()
        }
        if settings["target_session_attrs"] == "prefer-standby", each.count > 1 {
            // One server alone would take a primary on its own second pass, before any later standby.
            each =
                each.map { $0 + [("target_session_attrs", "standby")] }
                + each.map { $0 + [("target_session_attrs", "any")] }
        }
        let connections = each.map { server in
            var parameters = self
            parameters.server = server
            return parameters
        }
        return .success(ConnectionPlan(connections: connections, lookupFailures: failures))
    }

    /// The servers libpq will try: `host`, `hostaddr` and `port` from the URL, each else from
    /// `defaults`. nil when that cannot be known without libpq connecting: the URL does not
    /// parse (libpq reports why), or it names a service, whose file libpq reads only then.
    func servers(defaults: [String: String]) -> ServerList? {
        guard let settings = settings(defaults: defaults) else { return nil }
        return ServerList(host: settings["host"], hostaddr: settings["hostaddr"], port: settings["port"])
    }

    /// The settings libpq will use: the URL's, else `defaults`; nil when they cannot be known
    /// without libpq connecting (see `servers`).
    private func settings(defaults: [String: String]) -> [String: String]? {
        var explicit: [String: String] = [:]
        if let url, Self.isConnectionString(url) {
            guard let parsed = Self.parse(url), parsed["service"] == nil else { return nil }
            explicit = parsed
        }
        return explicit.merging(defaults) { explicit, _ in explicit }
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
    static func parse(_ url: String) -> [String: String]? {
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
