import HTTPQ

/// `/channels/NAME`: one channel's figures and settings, and its dead requests, newest first,
/// a page at a time.
enum ChannelPage {
    /// Dead requests on one page.
    static let pageSize = 50

    /// The page of `channel`, or nil when the role sees no such channel. `before` is the id of
    /// the last dead request of the previous page.
    static func render(_ database: Database, channel: String, before: Int64?, refresh: Int) throws(PostgresError)
        -> Page?
    {
        let settings = try database.query("""
            SELECT s.key, s.value
            FROM httpq.channels c, json_each_text(row_to_json(c)) AS s
            WHERE c.channel = $1
            """, [channel])
        guard !settings.isEmpty else { return nil }
        let figures = try database.query("""
            SELECT paused, waiting, running, \(Formats.seconds("oldest_waiting_age")), delivered_last_hour,
                   dead_last_hour, dead, paused_reason, breaker_state, breaker_reason,
                   \(Formats.seconds("breaker_probe_at - now()"))
            FROM httpq.stats
            WHERE channel = $1
            """, [channel]).first ?? Array(repeating: nil, count: 11)
        let performance = try database.query("""
            SELECT period, delivered, retried, dead, success_ratio, latency_p50, latency_p95, latency_p99,
                   attempt_p50, attempt_p95, attempt_p99
            FROM httpq.performance
            WHERE channel = $1
            ORDER BY period
            """, [channel])
        let dead = try database.query("""
            SELECT id, method, url, attempts, last_status, last_error, \(Formats.time("finished_at"))
            FROM httpq.requests
            WHERE channel = $1 AND state = 'dead'
              AND ($2::bigint IS NULL
                   OR (finished_at, id) < (SELECT finished_at, id FROM httpq.requests
                                           WHERE id = $2::bigint AND channel = $1 AND state = 'dead'))
            ORDER BY finished_at DESC, id DESC
            LIMIT $3
            """, [channel, before.map(String.init), String(pageSize + 1)])
        let header = try OverviewPage.context(database, refresh: refresh)
        let state = OverviewPage.state(paused: figures[0], pausedReason: figures[7], breaker: figures[8],
                                       breakerReason: figures[9], probeIn: figures[10])
        return Page(title: channel, refresh: refresh, body: """
            <h1>\(channel) \(state)</h1>
            \(header)
            <table>
            <thead><tr><th class="n">waiting</th><th class="n">running</th><th class="n">oldest waiting</th>\
            <th class="n">delivered last hour</th><th class="n">dead last hour</th><th class="n">dead, all kept</th></tr></thead>
            <tbody><tr><td class="n">\(figures[1])</td><td class="n">\(figures[2])</td>\
            <td class="n">\(Formats.duration(figures[3]))</td><td class="n">\(figures[4])</td>\
            \(Formats.deaths(figures[5]))<td class="n">\(figures[6])</td></tr></tbody>
            </table>
            <h2>Outcomes</h2>
            <table>
            <thead><tr><th>period</th><th class="n">delivered</th><th class="n">retried</th><th class="n">dead</th>\
            <th class="n">success</th><th class="n">latency p50 / p95 / p99</th><th class="n">attempt p50 / p95 / p99</th></tr></thead>
            <tbody>
            \(performance.map(outcomes))
            </tbody>
            </table>
            <h2>Dead requests, newest first</h2>
            \(deadTable(Array(dead.prefix(pageSize)), channel: channel, before: before, more: dead.count > pageSize))
            <h2>Settings</h2>
            <dl class="fields">
            \(settings.map { "<dt>\($0[0])</dt><dd>\($0[1] ?? "—")</dd>\n" as HTML })
            </dl>
            """)
    }

    /// One period's row of httpq.performance.
    private static func outcomes(_ row: [String?]) -> HTML {
        let period: String = row[0] == "01:00:00" ? "last hour" : "last 5 minutes"
        let latency: String? = Formats.milliseconds(Array(row[5...7]))
        let attempt: String? = Formats.milliseconds(Array(row[8...10]))
        return """
            <tr><td>\(period)</td><td class="n">\(row[1])</td><td class="n">\(row[2])</td>\
            \(Formats.deaths(row[3]))<td class="n">\(Formats.percent(row[4]))</td>\
            <td class="n">\(latency)</td><td class="n">\(attempt)</td></tr>

            """
    }

    /// The dead requests of one page, with links to the first page and the next.
    private static func deadTable(_ rows: [[String?]], channel: String, before: Int64?, more: Bool) -> HTML {
        let link = "/channels/" + HTML.pathSegment(channel)
        var pages: [HTML] = []
        if before != nil { pages.append("<a href=\"\(link)\">newest</a>") }
        if more, let last = rows.last?[0] { pages.append(" <a href=\"\(link)?before=\(last)\">older</a>") }
        guard !rows.isEmpty else {
            return before == nil ? "<p class=\"meta\">None.</p>" : "<p class=\"meta\">No older dead requests.</p>"
        }
        return """
            <table>
            <thead><tr><th class="n">id</th><th>finished</th><th class="n">attempts</th><th class="n">status</th>\
            <th>last error</th><th>request</th></tr></thead>
            <tbody>
            \(rows.map { row in
                """
                <tr><td class="n">\(Formats.requestLink(row[0]))</td><td>\(row[6])</td><td class="n">\(row[3])</td>\
                <td class="n">\(row[4])</td><td class="error">\(row[5])</td><td class="error">\(row[1]) \(row[2])</td></tr>

                """ as HTML
            })
            </tbody>
            </table>
            <nav class="pages">\(pages)</nav>
            """
    }
}
