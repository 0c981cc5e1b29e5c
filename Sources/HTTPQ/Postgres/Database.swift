internal import CLibPQ
import Glibc

/// A blocking connection for commands that run a few statements and exit (`httpq status`,
/// `httpq enqueue`, ...). The worker keeps its own non-blocking connection instead.
///
/// Not thread-safe: used only by the thread that opened it.
public final class Database {
    private let connection: Connection
    /// The warnings the server raised (`RAISE WARNING`) and nobody has taken yet.
    private var warnings: [String] = []

    /// Connects to the database `config` names (`--database`, `DATABASE_URL` or libpq's `PG*`).
    public init(config: Config) throws(PostgresError) {
        connection = try Connection.open(config.connection)
        // Replaces the silent notice processor `Connection` installs: warnings are worth showing.
        let context = Unmanaged.passUnretained(self).toOpaque()
        PQsetNoticeReceiver(connection.handle, { context, result in
            guard let context, let result else { return }
            Unmanaged<Database>.fromOpaque(context).takeUnretainedValue().receive(result)
        }, context)
    }

    /// Runs one statement with text-format parameters (`$1`, `$2`, ...) and returns its rows,
    /// one string per column, nil for SQL NULL.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-exec.html#LIBPQ-PQEXECPARAMS
    public func query(_ statement: String, _ parameters: [String?] = []) throws(PostgresError) -> [[String?]] {
        try connection.execute(statement, parameters).rows
    }

    /// Runs a script of many statements, which the server runs as one transaction unless the
    /// script says otherwise. Takes no parameters: only for text that is not user input.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-exec.html#LIBPQ-PQEXEC
    public func run(script: String) throws(PostgresError) {
        guard let result = PQexec(connection.handle, script) else {
            throw .connection(message: connection.errorMessage)
        }
        _ = try QueryResult.consume(result)
    }

    /// Whether the connection broke (the server went away, or closed it): a new `Database`
    /// is then needed.
    public var isBroken: Bool {
        connection.isBroken
    }

    /// The warnings raised since the last call, each as "message: detail", oldest first.
    public func takeWarnings() -> [String] {
        defer { warnings = [] }
        return warnings
    }

    /// Keeps a notice of severity WARNING; NOTICE and below stay quiet.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-notice-processing.html
    private func receive(_ result: OpaquePointer) {
        func field(_ code: Unicode.Scalar) -> String? {
            PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
        }
        guard field("V") == "WARNING", let message = field("M") else { return }
        warnings.append(field("D").map { message + ": " + trimmed($0) } ?? message)
    }
}

@available(*, unavailable)
extension Database: Sendable {}

extension Database {
    /// The payloads of the notifications received on the channels this connection LISTENs
    /// to, oldest first, waiting up to `milliseconds` for the first when none has arrived
    /// yet; empty when none came.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-notify.html
    public func notifications(waitingUpTo milliseconds: Int32) throws(PostgresError) -> [String] {
        var received = connection.notifications()
        if received.isEmpty {
            var socket = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
            if poll(&socket, 1, milliseconds) > 0 {
                try connection.consumeInput()
                received = connection.notifications()
            }
        }
        return received.map(\.payload)
    }
}

extension Database {
    /// `bytes` as a `bytea` parameter in text format: `\x` and two hex digits a byte.
    public static func byteaParameter(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes of a `bytea` column as it arrives in text format, or nil when it is not hex.
    public static func bytes(fromBytea text: String) -> [UInt8]? {
        Bytea.decodeHex(text)
    }

    /// `values` as a `text[]` parameter, every element quoted so commas, braces and spaces survive.
    public static func textArrayParameter(_ values: [String]) -> String {
        let quoted = values.map { value in
            "\"" + String(value.flatMap { $0 == "\\" || $0 == "\"" ? ["\\", $0] : [$0] }) + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }
}
