internal import CLibPQ
import Logging

/// A NOTICE, WARNING or other message the server sent during a statement (`RAISE NOTICE`, ...).
struct ServerNotice: Equatable, Sendable {
    /// The severity as the server names it, never localized: WARNING, NOTICE, INFO, LOG, DEBUG.
    var severity: String
    var message: String
    var detail: String?

    /// Reads the fields of a notice result.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-notice-processing.html
    init(result: OpaquePointer) {
        func field(_ code: Unicode.Scalar) -> String? {
            PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
        }
        self.init(severity: field("V") ?? "NOTICE", message: field("M") ?? "", detail: field("D"))
    }

    init(severity: String, message: String, detail: String? = nil) {
        self.severity = severity
        self.message = message
        self.detail = detail
    }

    /// The log level of the same name: WARNING at warning, NOTICE at notice, INFO and LOG at
    /// info, DEBUG at debug.
    var level: Logger.Level {
        switch severity {
        case "WARNING": return .warning
        case "NOTICE": return .notice
        case "INFO", "LOG": return .info
        default: return severity.hasPrefix("DEBUG") ? .debug : .notice
        }
    }
}

/// Collects the notices of the worker's connections as they arrive, for the loop to log after
/// the read that brought them. libpq calls the receiver on the loop's thread, within the
/// call that reads input, so nothing here needs a lock.
final class NoticeInbox {
    private(set) var notices: [ServerNotice] = []

    /// Sends `connection`'s notices here instead of nowhere (what `Connection` sets up).
    /// The inbox must outlive the connection.
    func receive(from connection: Connection) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        PQsetNoticeReceiver(
            connection.handle,
            { context, result in
                guard let context, let result else { return }
                Unmanaged<NoticeInbox>.fromOpaque(context).takeUnretainedValue().notices.append(
                    ServerNotice(result: result))
            }, context)
    }

    /// The notices received since the last call, oldest first.
    func take() -> [ServerNotice] {
        defer { notices = [] }
        return notices
    }
}

@available(*, unavailable)
extension NoticeInbox: Sendable {}
