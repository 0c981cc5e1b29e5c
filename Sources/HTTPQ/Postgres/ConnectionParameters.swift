/// The keyword/value pairs handed to `PQconnectdbParams` / `PQconnectStartParams`.
///
/// The database URL (or conninfo string) is passed untouched as `dbname` with
/// `expand_dbname = 1`, never rebuilt by interpolation. libpq processes the pairs in order and
/// the last value of a keyword wins, so the defaults below come before `dbname`: anything the
/// URL says overrides them. Without a URL, libpq reads its own `PG*` variables.
/// `server`, when set, comes last: it names the one server to connect to.
struct ConnectionParameters: Sendable {
    /// `connect_timeout` when neither the URL nor `PGCONNECT_TIMEOUT` sets one.
    static let defaultConnectTimeout = "10"

    /// The `DATABASE_URL` / `--database` value, or nil to use libpq's `PG*` variables.
    var url: String?
    /// `PGCONNECT_TIMEOUT`, which libpq reads itself; without it `connect_timeout` defaults to 10 s.
    var environmentConnectTimeout: String?
    /// `host`, `hostaddr`, `port` (and for a second pass, `target_session_attrs`) naming one
    /// server by numeric address, overriding what the URL and the environment say (see
    /// `connectionsToTry`).
    var server: [(String, String)] = []

    init(url: String?, environment: [String: String]) {
        self.url = url
        self.environmentConnectTimeout = environment["PGCONNECT_TIMEOUT"]
    }

    /// The pairs in processing order.
    var pairs: [(String, String)] {
        var pairs = [("fallback_application_name", "httpq")]
        if environmentConnectTimeout == nil {
            pairs.append(("connect_timeout", Self.defaultConnectTimeout))
        }
        // Notice a dead peer in about a minute rather than the kernel's two hours (TCP only).
        pairs += [("keepalives_idle", "30"), ("keepalives_interval", "10"), ("keepalives_count", "3")]
        if let url {
            pairs.append(("dbname", url))
        }
        return pairs + server
    }
}
