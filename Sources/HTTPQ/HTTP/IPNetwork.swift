import Glibc

/// An IPv4 or IPv6 address as its bytes in network order: 4 for IPv4, 16 for IPv6.
struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    let bytes: [UInt8]

    /// An address of exactly 4 or 16 bytes.
    init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Reads the strict text forms only: dotted quad for IPv4 (no `127.1`, no `0x7f.1`) and
    /// RFC 4291 text for IPv6, as `inet_pton` does.
    init?(_ text: String) {
        if text.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
            bytes = withUnsafeBytes(of: address) { Array($0) }
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            bytes = withUnsafeBytes(of: address) { Array($0) }
        }
    }

    var isIPv4: Bool { bytes.count == 4 }

    /// The usual text form (`127.0.0.1`, `::1`, `::ffff:127.0.0.1`).
    var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        guard written != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An IP network in CIDR form, as PostgreSQL's `cidr` type prints it (`10.0.0.0/8`, `::1/128`).
struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network address: every bit past the prefix is zero.
    let address: IPAddress
    let prefixLength: Int

    /// Text that is not a network, and why.
    struct Invalid: Error, Equatable, CustomStringConvertible {
        var text: String
        var rule: String
        var description: String { "\"\(text)\" is not a network: \(rule)" }
    }

    /// Reads `address/length`, or a bare address as a network of one. Like `cidr`, it refuses
    /// bits set past the prefix (`10.0.0.1/8`), since the text would not mean what it says.
    init(_ text: String) throws(Invalid) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else {
            throw Invalid(text: text, rule: "the address must be a dotted-quad IPv4 or an IPv6 address")
        }
        let maximum = address.bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber), let number = Int(parts[1]),
                (0...maximum).contains(number)
            else {
                throw Invalid(text: text, rule: "the prefix length must be a whole number from 0 to \(maximum)")
            }
            length = number
        }
        guard Self.masked(address.bytes, to: length) == address.bytes else {
            throw Invalid(text: text, rule: "bits are set to the right of the /\(length) prefix")
        }
        self.init(address: address, prefixLength: length)
    }

    private init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// A network from trusted literal text, for the tables built into this program.
    static func literal(_ text: String) -> IPNetwork {
        do {
            return try IPNetwork(text)
        } catch {
            preconditionFailure("\(error)")
        }
    }

    var description: String { "\(address)/\(prefixLength)" }

    /// Whether `address` is of the same family and starts with this network's prefix.
    func contains(_ address: IPAddress) -> Bool {
        address.bytes.count == self.address.bytes.count
            && Self.masked(address.bytes, to: prefixLength) == self.address.bytes
    }

    /// `bytes` with every bit past the first `length` cleared.
    private static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let kept = min(8, max(0, length - index * 8))
            return kept == 8 ? byte : byte & ~(UInt8(0xff) >> kept)
        }
    }

    /// Reads a PostgreSQL `cidr[]` in text form (`{127.0.0.0/8,::1/128}`, `{}`). Elements of
    /// `cidr` never need quotes, so a quote, a nested array or a NULL element is refused.
    static func list(postgresArray text: String) throws(Invalid) -> [IPNetwork] {
        guard text.hasPrefix("{"), text.hasSuffix("}"), text.count >= 2 else {
            throw Invalid(text: text, rule: "a cidr[] is written {network,network,...}")
        }
        let inner = text.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var networks: [IPNetwork] = []
        for element in inner.split(separator: ",", omittingEmptySubsequences: false) {
            guard element != "NULL" else {
                throw Invalid(text: text, rule: "an allowed network cannot be NULL")
            }
            networks.append(try IPNetwork(String(element)))
        }
        return networks
    }
}
