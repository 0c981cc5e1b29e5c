import Glibc

/// Text shown on a terminal with its control characters made visible.
///
/// Values the CLI prints come from destinations and applications (bodies, headers, errors,
/// URLs, server messages quoting them). Printed raw, an escape sequence in one of them could
/// move the cursor, rewrite what is on screen, retitle the window or set the clipboard. So
/// every C0 control (U+0000–U+001F), DEL (U+007F) and every C1 control (U+0080–U+009F, which
/// some terminals obey as CSI, OSC, ...) is written as `\x` and two lower-case hex digits of
/// its code point: `\x1b[31m`, `\x07`, `\x9b`. That form is one rule for all three ranges,
/// cannot be mistaken for a terminal command, and is what `printf`, Python and most debuggers
/// read and write. It is for reading, not reversible (a backslash stays as it is): `--json`
/// gives the exact values.
enum TerminalText {
    /// Whether the terminal would obey `scalar` instead of showing it.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// `scalar` written as `\x` and two hex digits.
    static func escape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\x" + (hex.count < 2 ? "0" : "") + hex
    }

    /// For a table cell or a one-line message: line breaks (LF, CRLF, U+2028, U+2029) and tabs
    /// become spaces, every other control character is escaped, a bare CR included.
    static func line(_ text: String) -> String {
        pieces(text, lineBreak: " ", tab: " ").map(\.text).joined()
    }

    /// For a value that may span lines (a response body, headers, a message): LF and CRLF stay
    /// line breaks, written as LF, and tabs stay; both only move the cursor on, so nothing
    /// shown can be overwritten. Every other control character is escaped.
    static func lines(_ text: String) -> String {
        pieces(text, lineBreak: "\n", tab: "\t").map(\.text).joined()
    }

    /// `line(text)` in at most `width` characters: a longer one is cut and ends in "…", and the
    /// cut never splits an escape.
    static func line(_ text: String, width: Int) -> String {
        let pieces = pieces(text, lineBreak: " ", tab: " ")
        let whole = pieces.map(\.text).joined()
        guard whole.count > width else { return whole }
        var kept = ""
        var room = max(width - 1, 0)
        for piece in pieces {
            let length = piece.text.count
            if length <= room {
                kept += piece.text
                room -= length
            } else {
                if !piece.isEscape { kept += piece.text.prefix(room) }
                break
            }
        }
        return kept + "…"
    }

    /// JSON text with DEL and the C1 controls written as `\u` escapes. JSON escapes only
    /// U+0000–U+001F itself; these code points can only stand inside strings, so the
    /// document still parses to exactly the same values.
    static func json(_ text: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if (0x7F...0x9F).contains(scalar.value) {
                escaped.append(contentsOf: "\\u00\(String(scalar.value, radix: 16))".unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// A run of plain text, or one escape, which a cut keeps whole or leaves out.
    private struct Piece {
        var text: String
        var isEscape = false
    }

    /// `text` as runs of plain text and single escapes, with line breaks and tabs replaced.
    /// Works on Unicode scalars: a Character can hold a control followed by combining marks.
    private static func pieces(_ text: String, lineBreak: String, tab: String) -> [Piece] {
        var pieces: [Piece] = []
        var run = String.UnicodeScalarView()
        func escaped(_ scalar: Unicode.Scalar) {
            if !run.isEmpty { pieces.append(Piece(text: String(run))) }
            run = String.UnicodeScalarView()
            pieces.append(Piece(text: escape(scalar), isEscape: true))
        }
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "\r" where index + 1 < scalars.count && scalars[index + 1] == "\n":
                index += 1
                run.append(contentsOf: lineBreak.unicodeScalars)
            case "\n", "\u{2028}", "\u{2029}":
                run.append(contentsOf: lineBreak.unicodeScalars)
            case "\t":
                run.append(contentsOf: tab.unicodeScalars)
            case _ where isControl(scalar):
                escaped(scalar)
            default:
                run.append(scalar)
            }
            index += 1
        }
        if !run.isEmpty { pieces.append(Piece(text: String(run))) }
        return pieces
    }
}

/// Prints a human-readable result or message on standard output, control characters escaped
/// (see `TerminalText`). Line breaks and tabs in `text` are kept.
func say(_ text: String) {
    print(TerminalText.lines(text))
}

/// Prints JSON on standard output with no raw DEL or C1 character (see `TerminalText.json`).
func sayJSON(_ json: String) {
    print(TerminalText.json(json))
}
