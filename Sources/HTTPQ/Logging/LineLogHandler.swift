import Glibc
import Logging

/// A swift-log handler formatting one line per event, as text or JSON, for a `LogWriter`.
///
/// text: `2025-01-01T12:00:00.123Z info connected worker=host:42`
/// json: `{"time":"2025-01-01T12:00:00.123Z","level":"info","message":"connected","worker":"host:42"}`
///
/// Logging never waits for the output: the writer queues the line, or drops and counts it.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public let writer: LogWriter

    public init(level: Logger.Level, writer: LogWriter) {
        self.logLevel = level
        self.writer = writer
    }

    /// Lines for standard error, through the process's one writer for `format`.
    public init(level: Logger.Level, format: LogFormat) {
        self.init(level: level, writer: .standardError(format))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata {
            fields.merge(extra) { _, new in new }
        }
        let sorted = fields.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
        let line = Self.line(
            time: Self.timestamp(), level: event.level, message: "\(event.message)",
            fields: sorted, format: writer.format)
        writer.write(line)
    }

    /// One formatted line without its newline.
    static func line(
        time: String, level: Logger.Level, message: String, fields: [(String, String)],
        format: LogFormat
    ) -> String {
        switch format {
        case .text:
            let pairs = fields.map { key, value in
                "\(key)=\(value.unicodeScalars.contains(where: needsQuotes) ? quote(value) : value)"
            }
            return ([time, level.rawValue, message] + pairs).joined(separator: " ")
        case .json:
            let pairs = [("time", time), ("level", level.rawValue), ("message", message)] + fields
            return "{" + pairs.map { "\(quote($0.0)):\(quote($0.1))" }.joined(separator: ",") + "}"
        }
    }

    /// Whether a text value is quoted: a space, quote or `=` would blur where it ends, and a
    /// control character would reach the terminal that shows the log.
    private static func needsQuotes(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\"" || scalar == "=" || isControl(scalar)
    }

    /// C0, DEL and C1.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
    }

    /// A JSON string in which every control character is an escape: JSON escapes C0 but lets
    /// DEL and C1 through, and an error or header a destination wrote may hold them. Still
    /// exact JSON.
    static func quote(_ value: String) -> String {
        let quoted = JSON.quote(value)
        guard quoted.unicodeScalars.contains(where: isControl) else { return quoted }
        var escaped = ""
        for scalar in quoted.unicodeScalars {
            if isControl(scalar) {
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// The current UTC time as ISO 8601 with milliseconds.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
