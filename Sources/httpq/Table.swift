/// Rows for a terminal: upper-case titles, columns two spaces apart, numbers right-aligned.
/// Line breaks and tabs inside a value become spaces, other control characters are escaped
/// (`TerminalText.line`) and long values are cut, so every row stays on one line.
struct Table {
    struct Column {
        var title: String
        var numeric = false

        /// A column titled `title`, whose values align right when `numeric`.
        static func column(_ title: String, numeric: Bool = false) -> Column {
            Column(title: title, numeric: numeric)
        }
    }

    var columns: [Column]
    /// One string per column; nil (SQL NULL) shows as an empty cell.
    var rows: [[String?]]
    /// Values longer than this are cut with an ellipsis.
    var widest = 60

    init(_ columns: [Column], rows: [[String?]]) {
        self.columns = columns
        self.rows = rows
    }

    func render() -> String {
        let cells = rows.map { row in row.map { TerminalText.line($0 ?? "", width: widest) } }
        let widths = columns.indices.map { index in
            cells.reduce(columns[index].title.count) { max($0, $1[index].count) }
        }
        func line(_ values: [String]) -> String {
            let padded = values.indices.map { index in
                let gap = String(repeating: " ", count: widths[index] - values[index].count)
                return columns[index].numeric ? gap + values[index] : values[index] + gap
            }
            return String(padded.joined(separator: "  ").reversed().drop(while: { $0 == " " }).reversed())
        }
        return ([line(columns.map { $0.title.uppercased() })] + cells.map(line)).joined(separator: "\n")
    }
}

/// One record for a terminal: a name, then its value, one pair a line. Pairs with no value
/// are left out; continuation lines of a value are indented under its first line, and its
/// other control characters are escaped (`TerminalText.lines`).
struct Fields {
    var pairs: [(String, String?)]

    func render() -> String {
        let shown = pairs.compactMap { name, value in value.map { (name, $0) } }
        let width = shown.reduce(0) { max($0, $1.0.count) } + 2
        return shown.map { name, value in
            let indent = String(repeating: " ", count: width)
            let lines = TerminalText.lines(value).split(separator: "\n", omittingEmptySubsequences: false)
            return name + String(repeating: " ", count: width - name.count) + lines.joined(separator: "\n" + indent)
        }.joined(separator: "\n")
    }
}

/// How a `boolean` column arrives in text format (`t`/`f`), shown as yes/no.
func yesNo(_ value: String?) -> String? {
    value.map { $0 == "t" ? "yes" : "no" }
}
