import HTTPQ

/// `/requests/ID`: one request as httpq.requests has it, each of its attempts
/// (httpq.attempts) and, once it finished, its last response (httpq.responses).
enum RequestPage {
    /// The page of request `id`, or nil when the role sees no such request.
    static func render(_ database: Database, id: Int64) throws(PostgresError) -> Page? {
        let fields = try database.query("""
            SELECT r.channel, r.state, s.key, s.value
            FROM httpq.requests r, json_each_text(row_to_json(r)) AS s
            WHERE r.id = $1::bigint
            """, [String(id)])
        guard let first = fields.first else { return nil }
        let attempts = try database.query("""
            SELECT attempt, \(Formats.time("at")), worker, status, error, round(duration_ms)
            FROM httpq.attempts
            WHERE id = $1::bigint
            ORDER BY attempt
            """, [String(id)])
        let response = try database.query("""
            SELECT status, \(Formats.time("finished_at")), encode(body, 'hex'), h.key, h.value
            FROM httpq.responses
            LEFT JOIN LATERAL jsonb_each_text(CASE jsonb_typeof(headers) WHEN 'object' THEN headers END) AS h ON true
            WHERE id = $1::bigint
            """, [String(id)])
        let header = try OverviewPage.context(database, refresh: nil)
        return Page(title: "request \(id)", body: """
            <h1>Request \(String(id)) <span class="tag">\(first[1])</span></h1>
            \(header)
            <p>In channel \(Formats.channelLink(first[0])).</p>
            <h2>Attempts</h2>
            \(attemptTable(attempts))
            <h2>Response</h2>
            \(responseSection(response))
            <h2>Request</h2>
            <dl class="fields">
            \(fields.map { "<dt>\($0[2])</dt><dd>\($0[3] ?? "—")</dd>\n" as HTML })
            </dl>
            """)
    }

    private static func attemptTable(_ rows: [[String?]]) -> HTML {
        guard !rows.isEmpty else { return "<p class=\"meta\">None finished yet.</p>" }
        return """
            <table>
            <thead><tr><th class="n">attempt</th><th>at</th><th>worker</th><th class="n">status</th><th>error</th>\
            <th class="n">duration ms</th></tr></thead>
            <tbody>
            \(rows.map { row in
                """
                <tr><td class="n">\(row[0])</td><td>\(row[1])</td><td>\(row[2])</td><td class="n">\(row[3])</td>\
                <td class="error">\(row[4])</td><td class="n">\(row[5])</td></tr>

                """ as HTML
            })
            </tbody>
            </table>
            """
    }

    /// The status, headers and body of the last response: one row per header (status and body
    /// repeated on each), or none before the request finished.
    private static func responseSection(_ rows: [[String?]]) -> HTML {
        guard let first = rows.first else { return "<p class=\"meta\">None yet: the request has not finished.</p>" }
        let headers = rows.filter { $0[3] != nil }
        let body = first[2].map(ResponseBody.describe) ?? "—"
        return """
            <dl class="fields">
            <dt>status</dt><dd>\(first[0] ?? "—")</dd>
            <dt>finished</dt><dd>\(first[1])</dd>
            \(headers.map { "<dt>\($0[3])</dt><dd>\($0[4])</dd>\n" as HTML })
            </dl>
            <h2>Response body</h2>
            <pre>\(body)</pre>
            """
    }
}
