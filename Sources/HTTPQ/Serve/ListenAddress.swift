import Glibc

/// Where an HTTP server of httpq's listens: a numeric IPv4 or IPv6 address and a TCP port,
/// written `HOST:PORT` (`127.0.0.1:9090`, `[::1]:9090`, `0.0.0.0:9090`). `localhost` means
/// 127.0.0.1. Port 0 takes any free port (the server's `port` then tells which).
///
/// Numeric on purpose: a name that resolves to several addresses, or to a different one
/// tomorrow, would leave open which interface a page with no login is served on.
public struct ListenAddress: Equatable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(parsing text: String) throws(ListenAddressError) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ListenAddressError(text: text, rule: "an IPv6 address goes in brackets: [::1]:9090")
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ListenAddressError(text: text, rule: "must be HOST:PORT, such as 127.0.0.1:9090 or [::1]:9090")
            }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let number = Int(port), (0...65535).contains(number), port.allSatisfy(\.isASCII) else {
            throw ListenAddressError(text: text, rule: "the port must be a number from 0 to 65535")
        }
        let address = host == "localhost" ? "127.0.0.1" : String(host)
        guard Self.family(of: address) != nil else {
            throw ListenAddressError(text: text, rule: "the host must be a numeric IPv4 or IPv6 address, or localhost")
        }
        self.host = address
        self.port = number
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// AF_INET or AF_INET6 for a numeric address, nil for anything else.
    static func family(of host: String) -> Int32? {
        var address = in6_addr()
        if inet_pton(AF_INET, host, &address) == 1 { return AF_INET }
        if inet_pton(AF_INET6, host, &address) == 1 { return AF_INET6 }
        return nil
    }
}

/// A listen address that does not parse, with the rule it broke.
public struct ListenAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    public var text: String
    public var rule: String

    public var description: String {
        "\"\(text)\": \(rule)"
    }
}
