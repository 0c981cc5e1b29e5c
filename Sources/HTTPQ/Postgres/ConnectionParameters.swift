/// The keyword/value pairs handed to `PQconnectdbParams` / `PQconnectStartParams`.
///
/// The database URL (or conninfo string) is passed untouched as `dbname` with
/// `expand_dbname = 1`, never rebuilt by interpolation. libpq processes the pairs in order and
/// the last value of a keyword wins, so the defaults below come before `dbname`: anything the
/// URL says overrides them. Without a URL, libpq reads its own `PG*` variables.
/// `resolvedServers`, when set, come last: they name the servers by numeric address.
struct ConnectionParameters: Sendable {
    /// The `DATABASE_URL` / `--database` value, or nil to use libpq's `PG*` variables.
    var url: String?
    /// Whether to default `connect_timeout` to 10 seconds (skipped when `PGCONNECT_TIMEOUT` is set).
    var defaultConnectTimeout: Bool
    /// `host`, `hostaddr` and `port` with every host name already resolved (see
    /// `resolvingHostNames`), overriding what the URL and the environment say.
    var resolvedServers: [(String, String)] = []

    init(url: String?, environment: [String: String]) {
        self.url = url
        self.defaultConnectTimeout = environment["PGCONNECT_TIMEOUT"] == nil
    }

    /// The pairs in processing order.
    var pairs: [(String, String)] {
        var pairs = [("fallback_application_name", "httpq")]
        if defaultConnectTimeout {
            pairs.append(("connect_timeout", "10"))
        }
        // Notice a dead peer in about a minute rather than the kernel's two hours (TCP only).
        pairs += [("keepalives_idle", "30"), ("keepalives_interval", "10"), ("keepalives_count", "3")]
        if let url {
            pairs.append(("dbname", url))
        }
        return pairs + resolvedServers
    }
}
