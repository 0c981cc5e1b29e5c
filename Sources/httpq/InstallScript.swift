/// The install script, carried in the binary so that `httpq sql` and `httpq install --plain`
/// need nothing but the binary: sql/*.sql in name order, exactly what `make` writes to
/// extension/httpq--<version>.sql after its header line. Also the upgrade scripts, with which
/// `httpq install` brings a plain install of an older version up to this one.
///
/// SwiftPM embeds each file (Package.swift lists sql/ and extension/ through the links of
/// the same names in this folder) as a `PackageResources` member named after the file, with
/// its leading digit and every other character a name cannot hold replaced by `_`. SwiftPM
/// gives no list of them, so they are written here: a file added to sql/ goes into `parts`,
/// an upgrade script added to extension/ into `upgrades`, and CLIInstallTests fails until it does.
enum InstallScript {
    static let parts: [[UInt8]] = [
        PackageResources._0_schema_sql,        // 00_schema.sql
        PackageResources._0_channel_sql,       // 10_channel.sql
        PackageResources._2_secret_sql,        // 12_secret.sql
        PackageResources._5_tenant_sql,        // 15_tenant.sql
        PackageResources._0_request_sql,       // 20_request.sql
        PackageResources._5_ordering_sql,      // 25_ordering.sql
        PackageResources._0_validate_sql,      // 30_validate.sql
        PackageResources._2_wakeup_sql,        // 32_wakeup.sql
        PackageResources._5_enqueue_sql,       // 35_enqueue.sql
        PackageResources._7_topic_sql,         // 37_topic.sql
        PackageResources._8_aws_sql,           // 38_aws.sql
        PackageResources._0_backoff_sql,       // 40_backoff.sql
        PackageResources._5_finish_sql,        // 45_finish.sql
        PackageResources._7_await_sql,         // 47_await.sql
        PackageResources._8_claim_position_sql, // 48_claim_position.sql
        PackageResources._0_claim_sql,         // 50_claim.sql
        PackageResources._2_outcome_sql,       // 52_outcome.sql
        PackageResources._5_report_sql,        // 55_report.sql
        PackageResources._7_breaker_sql,       // 57_breaker.sql
        PackageResources._0_lease_sql,         // 60_lease.sql
        PackageResources._2_tail_sql,          // 62_tail.sql
        PackageResources._5_manage_sql,        // 65_manage.sql
        PackageResources._0_history_sql,       // 80_history.sql
        PackageResources._5_rollup_sql,        // 85_rollup.sql
        PackageResources._0_views_sql,         // 90_views.sql
        PackageResources._2_queue_stats_sql,   // 92_queue_stats.sql
        PackageResources._9_privileges_sql,    // 99_privileges.sql
    ]

    /// One upgrade script, extension/httpq--`from`--`to`.sql.
    struct Upgrade {
        let from: String
        let to: String
        let bytes: [UInt8]

        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// Every upgrade script of extension/, one per release after 0.1.0.
    static let upgrades: [Upgrade] = [
        Upgrade(from: "0.1.0", to: "0.2.0", bytes: PackageResources.httpq__0_1_0__0_2_0_sql),
    ]

    /// The whole script.
    static var text: String {
        String(decoding: parts.joined(), as: UTF8.self)
    }

    /// The version the script installs: `default_version` in extension/httpq.control.
    static var version: String {
        let control = String(decoding: PackageResources.httpq_control, as: UTF8.self)
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
