/// The servers libpq tries, in order, as its `host`, `hostaddr` and `port` settings list them:
/// comma-separated lists matched by position, a single port serving every host.
///
/// Decides which host names need a lookup (not a Unix-socket directory, not a numeric address,
/// not already given one in `hostaddr`), and writes the settings that hand libpq the numeric
/// addresses, so that it connects without a DNS query of its own.
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
    }

    /// The host names to look up, each once, in order.
    var namesToLookUp: [String] {
        var names: [String] = []
        for server in servers where server.needsLookup && !names.contains(server.host) {
            names.append(server.host)
        }
        return names
    }

    /// `host`, `hostaddr` (and `port` when it is a list) naming each looked-up server once per
    /// address, in the resolver's order, so libpq still tries every address in turn; `host`
    /// keeps the names for TLS verification and `.pgpass`. A name without addresses is left
    /// out, as libpq skips a host it cannot resolve. nil when no server is left.
    func settings(addresses: [String: [String]]) -> [(String, String)]? {
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
