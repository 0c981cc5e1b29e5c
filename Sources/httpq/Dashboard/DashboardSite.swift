import HTTPQ

/// Which page a request shows, read from the database: `/`, `/channels/NAME` (a slash in the
/// name as %2F), `/requests/ID`. Anything else is 404; a database that cannot answer is a 503
/// page, never a crash.
struct DashboardSite: Sendable {
    let database: DashboardDatabase
    /// Seconds between the overview's and the channel pages' reloads.
    let refresh: Int

    /// The page `request` asks for. (The server answers methods other than GET and HEAD.)
    func page(for request: ServedRequest) -> Page {
        do {
            return try database.read { (database) throws(PostgresError) in
                try route(request, database)
            }
        } catch {
            return Self.unavailable(error)
        }
    }

    private func route(_ request: ServedRequest, _ database: Database) throws(PostgresError) -> Page {
        switch request.segments {
        case []:
            return try OverviewPage.render(database, refresh: refresh)
        case let segments where segments.count == 2 && segments[0] == "channels":
            guard let before = Self.positive(request.query["before"]) else {
                return .problem(400, title: "bad request", "before= takes the id of a dead request, such as 42.")
            }
            return try ChannelPage.render(database, channel: segments[1], before: before, refresh: refresh)
                ?? .problem(404, title: "no such channel", "There is no channel \(segments[1]), or this role may not see it.")
        case let segments where segments.count == 2 && segments[0] == "requests":
            guard let id = Int64(segments[1]), id > 0 else {
                return .problem(404, title: "no such request", "\(segments[1]) is not a request id: ids are whole numbers.")
            }
            return try RequestPage.render(database, id: id)
                ?? .problem(404, title: "no such request", """
                    There is no request \(id): it was never enqueued, it finished and was purged after its \
                    channel's retention, or this role may not see it.
                    """)
        default:
            return .problem(404, title: "not found", "There is no page \(request.path).")
        }
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
}
