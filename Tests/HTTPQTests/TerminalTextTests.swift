import Foundation
import Testing
@testable import httpq

/// What the CLI prints for a terminal: control characters escaped, so a value cannot command it.
@Suite
struct TerminalTextTests {
    /// ESC with a CSI sequence, BEL, BS, bare CR, DEL and the C1 CSI (U+009B).
    static let hostile = "a\u{1B}[2Jb\u{07}c\u{08}d\re\u{7F}f\u{9B}31mg"

    @Test("Escapes C0, DEL and C1 controls as \\x and two hex digits")
    func escapesControls() {
        #expect(TerminalText.line(Self.hostile) == #"a\x1b[2Jb\x07c\x08d\x0de\x7ff\x9b31mg"#)
        #expect(TerminalText.lines(Self.hostile) == TerminalText.line(Self.hostile))
        #expect(TerminalText.line("\u{00}\u{1F}\u{80}\u{9F}") == #"\x00\x1f\x80\x9f"#)
    }

    @Test("Leaves printable text alone, U+00A0 and beyond included")
    func keepsPrintable() {
        let text = #"plain ~ \x1b é ü 😀 \u{a0}"# + "\u{A0}\u{2026}"
        #expect(TerminalText.line(text) == text)
    }

    @Test("A control followed by a combining mark is escaped too")
    func controlInsideCharacter() {
        #expect(TerminalText.line("\u{1B}\u{301}[2J") == "\\x1b\u{301}[2J")
    }

    @Test("On one line, LF, CRLF and tabs become spaces; a bare CR, VT, FF and NEL are escaped")
    func oneLine() {
        #expect(TerminalText.line("a\nb\r\nc\td\re\u{0B}f\u{0C}g\u{85}h") == #"a b c d\x0de\x0bf\x0cg\x85h"#)
    }

    @Test("Across lines, LF and CRLF are line breaks and tabs stay; a bare CR is escaped")
    func multiLine() {
        #expect(TerminalText.lines("a\r\nb\nc\td\re") == "a\nb\nc\td\\x0de")
    }

    @Test("A cut keeps the width and never splits an escape")
    func cut() {
        #expect(TerminalText.line("abcdef", width: 6) == "abcdef")
        #expect(TerminalText.line("abcdefg", width: 6) == "abcde…")
        // "ab\x1b" is 6 characters: with one left for the ellipsis the escape does not fit.
        #expect(TerminalText.line("ab\u{1B}cdef", width: 6) == "ab…")
        #expect(TerminalText.line("ab\u{1B}cdef", width: 7) == #"ab\x1b…"#)
        #expect(TerminalText.line("ab\u{1B}", width: 6) == #"ab\x1b"#)
    }

    @Test("JSON keeps its own escapes and gains \\u escapes for DEL and C1, parsing to the same value")
    func json() throws {
        let value = ["body": Self.hostile]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: value), as: UTF8.self)
        let escaped = TerminalText.json(text)
        #expect(!escaped.unicodeScalars.contains(where: TerminalText.isControl))
        #expect(escaped.contains(#"\u009b"#) && escaped.contains(#"\u007f"#))
        let parsed = try JSONSerialization.jsonObject(with: Data(escaped.utf8)) as? [String: String]
        #expect(parsed == value)
    }

    @Test("A table escapes its cells and aligns by the escaped width")
    func table() {
        let rows = [["x\u{1B}[31my\u{9B}", "1"], ["z", "22"]]
        var table = Table([.column("name"), .column("n", numeric: true)], rows: rows)
        #expect(table.render().split(separator: "\n") == [
            "NAME             N",
            #"x\x1b[31my\x9b   1"#,
            "z               22",
        ])
        table.widest = 8
        #expect(table.render().split(separator: "\n")[1] == #"x\x1b[3…   1"#)
    }

    @Test("Fields escape a value's controls and indent its lines")
    func fields() {
        let fields = Fields(pairs: [("body", "one\r\ntwo\rthree\u{07}\n\u{1B}[2J"), ("none", nil), ("url", "u")])
        #expect(fields.render().split(separator: "\n") == [
            "body  one",
            #"      two\x0dthree\x07"#,
            #"      \x1b[2J"#,
            "url   u",
        ])
    }
}
