import HTTPQ

/// `/`: every channel the connected role may see (httpq.stats): its state (paused, circuit
/// breaker), what waits and runs now, and for the last 5 minutes and the last hour what was
/// delivered, retried and died, the success ratio and the enqueue-to-delivery latency
/// percentiles (httpq.performance).
enum OverviewPage {
    /// The windows of httpq.performance, in the order the columns show them.
    private static let periods = ["5 minutes", "1 hour"]

    static func render(_ database: Database, refresh: Int) throws(PostgresError) -> Page {
        let rows = try database.query("""
            SELECT s.channel, s.paused, s.paused_reason, s.breaker_state, s.breaker_reason,
                   \(Formats.seconds("s.breaker_probe_at - now()")),
                   s.waiting, s.running, \(Formats.seconds("s.oldest_waiting_age")),
                   p5.delivered, p5.retried, p5.dead, p5.success_ratio, p5.latency_p50, p5.latency_p95, p5.latency_p99,
                   ph.delivered, ph.retried, ph.dead, ph.success_ratio, ph.latency_p50, ph.latency_p95, ph.latency_p99,
                   s.dead, s.last_error
            FROM httpq.stats s
            LEFT JOIN httpq.performance p5 ON p5.channel = s.channel AND p5.period = '\(periods[0])'
            LEFT JOIN httpq.performance ph ON ph.channel = s.channel AND ph.period = '\(periods[1])'
            ORDER BY s.channel
            """)
        let body: HTML
        if rows.isEmpty {
            body = "<p>No channels yet: a channel appears with its first request.</p>"
        } else {
            let window: HTML = """
                <th class="n sep">delivered</th><th class="n">retried</th><th class="n">dead</th>\
                <th class="n">success</th><th class="n">latency p50 / p95 / p99</th>
                """
            body = """
                <table>
                <thead>
                <tr class="group"><th></th><th></th><th class="sep" colspan="3">now</th>\
                <th class="sep" colspan="5">last 5 minutes</th><th class="sep" colspan="5">last hour</th>\
                <th class="sep" colspan="2">dead, all kept</th></tr>
                <tr><th>channel</th><th>state</th><th class="n sep">waiting</th><th class="n">running</th>\
                <th class="n">oldest waiting</th>\(window)\(window)\
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
        let stateCell = state(paused: row[1], pausedReason: row[2], breaker: row[3], breakerReason: row[4], probeIn: row[5])
        let recent = window(Array(row[9...15]))
        let hour = window(Array(row[16...22]))
        return """
        <tr><td>\(Formats.channelLink(row[0]))</td>\
        <td>\(stateCell)</td>\
        <td class="n sep">\(row[6])</td><td class="n">\(row[7])</td><td class="n">\(Formats.duration(row[8]))</td>\
        \(recent)\(hour)\
        \(Formats.deaths(row[23]))<td class="error">\(row[24])</td></tr>

        """
    }

    /// Paused (and why), the breaker when it is not closed (and why, and when it probes), or
    /// active: from httpq.stats, `probeIn` in whole seconds.
    static func state(paused: String?, pausedReason: String?, breaker: String?, breakerReason: String?,
                      probeIn: String?) -> HTML {
        var parts: [HTML] = []
        if paused == "t" {
            parts.append("<span class=\"tag warn\">paused</span> <div class=\"why\">\(pausedReason)</div>")
        }
        switch breaker {
        case "open":
            var probe = ""
            if let wait = Formats.duration(probeIn) { probe = ", probe in " + wait }
            parts.append("<span class=\"tag bad\">breaker open\(probe)</span> <div class=\"why\">\(breakerReason)</div>")
        case "half_open":
            parts.append("<span class=\"tag warn\">breaker half-open</span> <div class=\"why\">\(breakerReason)</div>")
        default:
            break
        }
        if parts.isEmpty {
            return "<span class=\"good\">active</span>"
        }
        return "\(parts)"
    }

    /// One window's cells: delivered, retried, dead, success ratio, latency percentiles (ms).
    private static func window(_ cells: [String?]) -> HTML {
        let retries: String = cells[1] ?? "0"
        let retried: HTML
        if retries == "0" {
            retried = "<td class=\"n zero\">0</td>"
        } else {
            retried = "<td class=\"n warn\">\(retries)</td>"
        }
        let ratio: String? = Formats.percent(cells[3])
        let latency: String? = Formats.milliseconds(Array(cells[4...6]))
        return """
            <td class="n sep">\(cells[0])</td>\(retried)\(Formats.deaths(cells[2]))\
            <td class="n">\(ratio)</td><td class="n">\(latency)</td>
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
