/// How the pages write values: times in the session's time zone to the second, ages and
/// waits in the two largest units, deaths in red.
enum Formats {
    /// SQL that writes the timestamptz `expression` as `2026-12-02 00:41:07 UTC`.
    static func time(_ expression: String) -> String {
        "to_char(\(expression), 'YYYY-MM-DD HH24:MI:SS TZ')"
    }

    /// SQL that gives the interval `expression` in whole seconds, for `duration`.
    static func seconds(_ expression: String) -> String {
        "round(extract(epoch FROM \(expression)))::bigint"
    }

    /// Whole seconds (as `seconds` gives them) in the two largest units: `45s`, `3m 05s`,
    /// `2h 10m`, `4d 03h`. Negative values count as zero.
    static func duration(_ text: String?) -> String? {
        guard let text, let total = Int64(text) else { return nil }
        let seconds = max(total, 0)
        let (days, hours, minutes) = (seconds / 86400, seconds / 3600 % 24, seconds / 60 % 60)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        if days > 0 { return "\(days)d \(two(hours))h" }
        if hours > 0 { return "\(hours)h \(two(minutes))m" }
        if minutes > 0 { return "\(minutes)m \(two(seconds % 60))s" }
        return "\(seconds)s"
    }

    /// A ratio from 0 to 1 as a percentage with one decimal: `99.5%`; nothing for none.
    static func percent(_ text: String?) -> String? {
        guard let text, let ratio = Double(text) else { return nil }
        let tenths = (ratio * 1000).rounded()
        return "\(Int(tenths) / 10).\(Int(tenths) % 10)%"
    }

    /// Milliseconds (httpq.performance's percentiles) as `12 / 48 / 95 ms`, each rounded to
    /// a whole millisecond (`<1` below one); nothing when there was nothing to estimate from.
    static func milliseconds(_ values: [String?]) -> String? {
        let numbers = values.compactMap { $0.flatMap(Double.init) }
        guard numbers.count == values.count, !numbers.isEmpty else { return nil }
        return numbers.map { $0 < 1 ? "<1" : String(Int($0.rounded())) }.joined(separator: " / ") + " ms"
    }

    /// A count of dead requests in a numeric cell: in red unless it is zero, then dimmed.
    static func deaths(_ text: String?) -> HTML {
        guard let text, text != "0" else { return "<td class=\"n zero\">0</td>" }
        return "<td class=\"n bad\">\(text)</td>"
    }

    /// A link to a channel's page.
    static func channelLink(_ channel: String?) -> HTML {
        "<a href=\"/channels/\(HTML.pathSegment(channel ?? ""))\">\(channel)</a>"
    }

    /// A link to a request's page.
    static func requestLink(_ id: String?) -> HTML {
        "<a href=\"/requests/\(HTML.pathSegment(id ?? ""))\">\(id)</a>"
    }
}
