/// The servers libpq tries, in order, as its `host`, `hostaddr` and `port` settings list them:
/// comma-separated lists matched by position, a single port serving every host.
///
/// Decides which host names need a lookup (not a Unix-socket directory, not a numeric address,
/// not already given one in `hostaddr`), and writes the settings that name each server alone by
/// numeric address, so that libpq connects without a DNS query of its own and the worker can
/// give each server its own timeout.
struct ServerList: Equatable, Sendable {
    struct Server: Equatable, Sendable {
        var host: String
        var address: String
        /// nil when one port (or libpq's default) serves every server.
        var port: String?

        var needsLookup: Bool {
            address.isEmpty && !host.isEmpty && !host.hasPrefix("/") && !host.hasPrefix("@")
                && !HostAddresses.isNumeric(host)
        }
    }

    var servers: [Server]
    /// Whether `host` and `hostaddr` are set at all: an empty entry in a list can only be
    /// overridden by leaving the setting out, which works only when it is not set.
    private var listsHosts: Bool
    private var listsAddresses: Bool

    /// nil when the lists do not line up; libpq then says so itself when connecting.
    init?(host: String?, hostaddr: String?, port: String?) {
        func list(_ setting: String?) -> [String]? {
            guard let setting, !setting.isEmpty else { return nil }
            return setting.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let hosts = list(host)
        let addresses = list(hostaddr)
        let ports = list(port) ?? []
        let count = addresses?.count ?? hosts?.count ?? 1
        guard hosts == nil || hosts!.count == count, ports.count <= 1 || ports.count == count else { return nil }
        servers = (0..<count).map { index in
            Server(
                host: hosts?[index] ?? "", address: addresses?[index] ?? "",
                port: ports.count > 1 ? ports[index] : nil)
        }
        listsHosts = hosts != nil
        listsAddresses = addresses != nil
    }

    /// The host names to look up, each once, in order.
    var namesToLookUp: [String] {
        var names: [String] = []
        for server in servers where server.needsLookup && !names.contains(server.host) {
            names.append(server.host)
        }
        return names
    }

    /// The settings for each connection to try, in order: a looked-up server once per address,
    /// in the resolver's order, each naming one server alone (`host` keeps the name for TLS
    /// verification and `.pgpass`). A name without addresses is left out, as libpq skips a
    /// host it cannot resolve. nil when no server is left.
    ///
    /// When some server cannot be named alone (an empty entry in a `hostaddr` or `port` list,
    /// or an empty host among several), one connection gets every server, as libpq lists them.
    func connections(addresses: [String: [String]]) -> [[(String, String)]]? {
        var resolved: [Server] = []
        for server in servers {
            guard server.needsLookup else {
                resolved.append(server)
                continue
            }
            for address in addresses[server.host] ?? [] {
                resolved.append(Server(host: server.host, address: address, port: server.port))
            }
        }
        guard !resolved.isEmpty else { return nil }
        let each = resolved.map(alone)
        guard each.allSatisfy({ $0 != nil }) else { return [together(resolved)] }
        return each.map { $0! }
    }

    /// `host`, `hostaddr` and `port` naming `server` alone, nil when an empty entry would have
    /// to override a list (libpq ignores an empty setting, so the list would stay).
    private func alone(_ server: Server) -> [(String, String)]? {
        // A numeric host is its own address: this overrides a list with an empty entry there.
        let address = server.address.isEmpty && HostAddresses.isNumeric(server.host) ? server.host : server.address
        var settings: [(String, String)] = []
        if !server.host.isEmpty {
            settings.append(("host", server.host))
        } else if listsHosts && servers.count > 1 {
            return nil
        }
        if !address.isEmpty {
            settings.append(("hostaddr", address))
        } else if listsAddresses && servers.count > 1 {
            return nil
        }
        if let port = server.port {
            guard !port.isEmpty else { return nil }
            settings.append(("port", port))
        }
        return settings
    }

    /// `host`, `hostaddr` (and `port` when it is a list) naming every server, for one connection.
    private func together(_ resolved: [Server]) -> [(String, String)] {
        var settings = [
            ("host", resolved.map(\.host).joined(separator: ",")),
            ("hostaddr", resolved.map(\.address).joined(separator: ",")),
        ]
        if resolved.contains(where: { $0.port != nil }) {
            settings.append(("port", resolved.map { $0.port ?? "" }.joined(separator: ",")))
        }
        return settings
    }
}
