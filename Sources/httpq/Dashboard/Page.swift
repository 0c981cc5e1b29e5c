/// One dashboard page: its status and a whole HTML document, styled inline (the page fetches
/// nothing, and its Content-Security-Policy lets it fetch nothing).
struct Page: Sendable {
    var status: Int
    var html: HTML

    /// A page titled `title` (the browser's tab says "title · httpq"), reloading itself every
    /// `refresh` seconds when given, with `body` under the heading.
    init(status: Int = 200, title: String, refresh: Int? = nil, body: HTML) {
        self.status = status
        let reload: HTML = refresh.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">\n" } ?? ""
        html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            \(reload)<title>\(title) · httpq</title>
            <style>\(Self.style)</style>
            </head>
            <body>
            <header><a class="home" href="/">httpq</a> <span class="where">\(title)</span></header>
            <main>
            \(body)
            </main>
            </body>
            </html>

            """
    }

    /// A page that says what went wrong, for an unknown path, channel or request (404) or a
    /// database that could not answer (503).
    static func problem(_ status: Int, title: String, _ message: String, hint: String? = nil) -> Page {
        let advice: HTML = hint.map { "<p class=\"hint\">\($0)</p>" } ?? ""
        return Page(status: status, title: title, body: """
            <section class="problem"><h1>\(title)</h1><p>\(message)</p>\(advice)</section>
            <p><a href="/">All channels</a></p>
            """)
    }

    private static let style: HTML = """
        :root { color-scheme: light dark; --line: #d8dce3; --muted: #667085; --band: #f4f6f9;
                --bad: #b42318; --warn: #9a6700; --good: #067647; --link: #175cd3; }
        @media (prefers-color-scheme: dark) {
            :root { --line: #343a46; --muted: #98a2b3; --band: #1b2029; --bad: #f97066; --warn: #f5b83d;
                    --good: #47cd89; --link: #84adff; } }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
        header { padding: 10px 24px; border-bottom: 1px solid var(--line); background: var(--band); }
        header .home { font-weight: 700; color: inherit; text-decoration: none; margin-right: 8px; }
        header .where { color: var(--muted); }
        main { padding: 16px 24px 32px; }
        h1 { font-size: 20px; margin: 0 0 4px; }
        h2 { font-size: 15px; margin: 24px 0 8px; }
        a { color: var(--link); }
        .meta, .hint { color: var(--muted); margin: 0 0 12px; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        thead th { font-size: 12px; font-weight: 600; color: var(--muted); white-space: nowrap; }
        thead tr.group th { text-align: center; border-bottom: none; padding-bottom: 0; }
        tbody tr:nth-child(even) { background: var(--band); }
        td.n, th.n { text-align: right; white-space: nowrap; }
        td.sep, th.sep { border-left: 1px solid var(--line); }
        td.error { max-width: 36em; overflow-wrap: anywhere; }
        .zero { color: var(--muted); }
        .why { color: var(--muted); font-size: 12px; min-width: 14em; max-width: 24em; }
        .bad { color: var(--bad); font-weight: 600; }
        .warn { color: var(--warn); font-weight: 600; }
        .good { color: var(--good); }
        .tag { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; font-weight: 600; white-space: nowrap;
               border: 1px solid currentColor; }
        dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; }
        dl.fields dt { color: var(--muted); }
        dl.fields dd { margin: 0; overflow-wrap: anywhere; }
        pre { margin: 0; padding: 10px; background: var(--band); border: 1px solid var(--line); border-radius: 4px;
              white-space: pre-wrap; overflow-wrap: anywhere; max-height: 30em; overflow: auto; }
        .problem p { margin: 4px 0; }
        nav.pages { margin-top: 10px; }
        """
}
