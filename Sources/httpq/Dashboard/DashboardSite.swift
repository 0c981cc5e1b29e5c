import HTTPQ

/// Which page a path shows, read from the database: `/`, `/channels/NAME`, `/requests/ID`.
/// Anything else is 404; a database that cannot answer is a 503 page, never a crash.
struct DashboardSite: Sendable {
    let database: DashboardDatabase
    /// Seconds between the overview's and the channel pages' reloads.
    let refresh: Int

    func page(method: String, path: String, query: [String: String]) -> Page {
        guard method == "GET" || method == "HEAD" else {
            return .problem(405, title: "method not allowed", "The dashboard only reads: GET a page.")
        }
        do {
            return try database.read { (database) throws(PostgresError) in
                try route(path, query, database)
            }
        } catch {
            return Self.unavailable(error)
        }
    }

    private func route(_ path: String, _ query: [String: String], _ database: Database) throws(PostgresError) -> Page {
        if path == "/" {
            return try OverviewPage.render(database, refresh: refresh)
        }
        if path.hasPrefix("/channels/"), let channel = Self.decoded(path.dropFirst("/channels/".count)),
           !channel.isEmpty {
            guard let before = Self.positive(query["before"]) else {
                return .problem(400, title: "bad request", "before= takes the id of a dead request, such as 42.")
            }
            return try ChannelPage.render(database, channel: channel, before: before, refresh: refresh)
                ?? .problem(404, title: "no such channel", "There is no channel \(channel), or this role may not see it.")
        }
        if path.hasPrefix("/requests/") {
            let text = String(path.dropFirst("/requests/".count))
            guard let id = Int64(text), id > 0 else {
                return .problem(404, title: "no such request", "\(text) is not a request id: ids are whole numbers.")
            }
            return try RequestPage.render(database, id: id)
                ?? .problem(404, title: "no such request", """
                    There is no request \(id): it was never enqueued, it finished and was purged after its \
                    channel's retention, or this role may not see it.
                    """)
        }
        return .problem(404, title: "not found", "There is no page \(path).")
    }

    /// The page for a database that could not answer: its message, and what to do about it.
    private static func unavailable(_ error: PostgresError) -> Page {
        switch error {
        case .connection(let message):
            return .problem(503, title: "database unavailable", "Cannot connect to the database: \(message)",
                            hint: "The page will work again once the database is back; reload it.")
        case .query(let sqlState, let message, _, let hint) where sqlState == "42501":
            return .problem(503, title: "not allowed", message,
                            hint: hint ?? "A DBA makes this role an ops role: SELECT httpq.grant_role('role', 'ops')")
        case .query(let sqlState, let message, _, let hint):
            return .problem(503, title: "database error", "The database refused the page's query: \(message) (SQLSTATE \(sqlState))",
                            hint: hint)
        }
    }

    /// A query parameter that must be a positive whole number when present: `.some(nil)` when
    /// absent, nil when malformed.
    private static func positive(_ text: String?) -> Int64?? {
        guard let text else { return .some(nil) }
        guard let value = Int64(text), value > 0 else { return nil }
        return .some(value)
    }

    /// A path segment with its percent-escapes decoded, or nil when they are malformed or
    /// the bytes are not UTF-8.
    static func decoded(_ segment: Substring) -> String? {
        var bytes: [UInt8] = []
        var rest = segment.utf8[...]
        while let byte = rest.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard rest.count >= 2, let value = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(value)
            rest = rest.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
