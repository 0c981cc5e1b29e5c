import HTTPQ

/// `/`: every channel the connected role may see (httpq.stats), with what waits and runs now
/// and what was delivered and died lately.
enum OverviewPage {
    static func render(_ database: Database, refresh: Int) throws(PostgresError) -> Page {
        let rows = try database.query("""
            SELECT channel, paused, waiting, running, \(Formats.seconds("oldest_waiting_age")),
                   delivered_last_hour, dead_last_hour, dead, last_error
            FROM httpq.stats
            ORDER BY channel
            """)
        let body: HTML
        if rows.isEmpty {
            body = "<p>No channels yet: a channel appears with its first request.</p>"
        } else {
            body = """
                <table>
                <thead>
                <tr class="group"><th></th><th></th><th class="sep" colspan="3">now</th>\
                <th class="sep" colspan="2">last hour</th><th class="sep" colspan="2">dead, all kept</th></tr>
                <tr><th>channel</th><th>state</th><th class="n sep">waiting</th><th class="n">running</th>\
                <th class="n">oldest waiting</th><th class="n sep">delivered</th><th class="n">dead</th>\
                <th class="n sep">dead</th><th>last error</th></tr>
                </thead>
                <tbody>
                \(rows.map(row))
                </tbody>
                </table>
                """
        }
        let header = try context(database, refresh: refresh)
        return Page(title: "channels", refresh: refresh, body: """
            <h1>Channels</h1>
            \(header)
            \(body)
            """)
    }

    /// One channel's row.
    private static func row(_ row: [String?]) -> HTML {
        let state: HTML = row[1] == "t" ? "<span class=\"tag warn\">paused</span>" : "<span class=\"good\">active</span>"
        return """
            <tr><td>\(Formats.channelLink(row[0]))</td><td>\(state)</td>\
            <td class="n sep">\(row[2])</td><td class="n">\(row[3])</td><td class="n">\(Formats.duration(row[4]))</td>\
            <td class="n sep">\(row[5])</td>\(Formats.deaths(row[6]))\
            <td class="n sep">\(row[7])</td><td class="error">\(row[8])</td></tr>

            """
    }

    /// Whom the page shows the queue to, and when: tenancy limits what a role sees.
    static func context(_ database: Database, refresh: Int?) throws(PostgresError) -> HTML {
        let row = try database.query("SELECT current_user, current_database(), \(Formats.time("now()"))").first
            ?? [nil, nil, nil]
        let reload: HTML = refresh.map { " · refreshes every \($0) s" } ?? ""
        return """
            <p class="meta">As role <b>\(row[0])</b> on database <b>\(row[1])</b> at \(row[2])\(reload)</p>
            """
    }
}
