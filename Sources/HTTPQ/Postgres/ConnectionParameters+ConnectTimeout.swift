/// How long to wait for each server, read the way libpq reads `connect_timeout`: libpq
/// applies it only when it blocks, so the worker loop's non-blocking connect applies it itself.
extension ConnectionParameters {
    /// `connect_timeout` from the URL, else `PGCONNECT_TIMEOUT`, else 10 s; nil for no limit
    /// (zero or less). Like libpq, 1 s counts as 2 s. A value libpq rejects gives 10 s (libpq
    /// then fails the connection and says why); one set only in a service file is not seen.
    /// Only parses text: safe on the loop.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-CONNECT-TIMEOUT
    var connectTimeout: Duration? {
        var setting = environmentConnectTimeout ?? Self.defaultConnectTimeout
        if let url, Self.isConnectionString(url), let explicit = Self.parse(url)?["connect_timeout"] {
            setting = explicit
        }
        let digits = setting.drop { $0 == " " || $0 == "\t" }.prefix { $0 != " " && $0 != "\t" }
        guard let seconds = Int(digits) else { return .seconds(10) }
        guard seconds > 0 else { return nil }
        return .seconds(max(seconds, 2))
    }
}
