/// A circuit breaker transition the database announces as a NOTICE during a claim or report:
/// `httpq breaker opened: channel "NAME": ...`, `httpq breaker half-open: ...` or
/// `httpq breaker closed: ...`.
struct BreakerNotice: Hashable {
    enum State: Hashable {
        case open, halfOpen, closed

        /// The `to` label of `httpq_breaker_transitions_total`.
        var label: String {
            switch self {
            case .open: return "open"
            case .halfOpen: return "half_open"
            case .closed: return "closed"
            }
        }
    }

    var channel: String
    var state: State

    private static let prefixes: [(String, State)] = [
        ("httpq breaker opened: ", .open), ("httpq breaker half-open: ", .halfOpen),
        ("httpq breaker closed: ", .closed),
    ]

    /// Reads a breaker notice's message; nil for any other message, or one whose channel
    /// cannot be read.
    init?(message: String) {
        guard let (prefix, state) = Self.prefixes.first(where: { message.hasPrefix($0.0) }) else { return nil }
        guard let channel = Self.quotedChannel(message.utf8.dropFirst(prefix.utf8.count)) else { return nil }
        self.channel = channel
        self.state = state
    }

    /// The name in `channel "NAME"`, where a doubled quote stands for one.
    private static func quotedChannel(_ text: Substring.UTF8View) -> String? {
        let opening = Array(#"channel ""#.utf8)
        guard text.starts(with: opening) else { return nil }
        var name: [UInt8] = []
        var rest = text.dropFirst(opening.count)
        while let byte = rest.first {
            rest = rest.dropFirst()
            guard byte == UInt8(ascii: "\"") else {
                name.append(byte)
                continue
            }
            guard rest.first == UInt8(ascii: "\"") else { return String(decoding: name, as: UTF8.self) }
            name.append(byte)
            rest = rest.dropFirst()
        }
        return nil  // no closing quote
    }
}
