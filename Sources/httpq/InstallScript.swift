/// The install script, carried in the binary so that `httpq sql` and `httpq install --plain`
/// need nothing but the binary: sql/*.sql in name order, exactly what `make` writes to
/// extension/httpq--<version>.sql after its header line. Also the upgrade scripts, with which
/// `httpq install` brings a plain install of an older version up to this one.
///
/// The EmbedSQL build plugin lists sql/ and extension/ at each build and embeds every file as
/// EmbeddedSQL.files, so a new file needs no edit here.
enum InstallScript {
    /// sql/*.sql in name order.
    static let parts: [String] = EmbeddedSQL.files.filter { $0.name.hasPrefix("sql/") }.map(\.text)

    /// One upgrade script, extension/httpq--`from`--`to`.sql.
    struct Upgrade {
        let from: String
        let to: String
        let text: String
    }

    /// Every upgrade script of extension/, one per release after 0.1.0.
    static let upgrades: [Upgrade] = EmbeddedSQL.files.compactMap { file in
        // extension/httpq--A--B.sql
        guard file.name.hasPrefix("extension/httpq--"), file.name.hasSuffix(".sql") else { return nil }
        let versions = file.name.dropFirst("extension/httpq--".count).dropLast(".sql".count)
            .components(separatedBy: "--")
        guard versions.count == 2 else { return nil }
        return Upgrade(from: versions[0], to: versions[1], text: file.text)
    }

    /// The whole script.
    static var text: String {
        parts.joined()
    }

    /// The version the script installs: `default_version` in extension/httpq.control.
    static var version: String {
        let control = EmbeddedSQL.files.first { $0.name == "extension/httpq.control" }?.text ?? ""
        for line in control.split(separator: "\n") where line.hasPrefix("default_version") {
            return String(line.split(separator: "'").dropFirst().first ?? "unknown")
        }
        return "unknown"
    }

    /// The upgrade scripts that lead from `installed` to `version`, in the order to apply them,
    /// or nil when this binary carries no such chain.
    static func upgradePath(from installed: String) -> [Upgrade]? {
        var path: [Upgrade] = []
        var at = installed
        while at != version {
            guard let next = upgrades.first(where: { $0.from == at }), path.count < upgrades.count else { return nil }
            path.append(next)
            at = next.to
        }
        return path
    }
}
