/// Which addresses a channel's requests may connect to: public unicast addresses, plus any
/// address inside the channel's `allowed_networks`.
///
/// Refused unless allowed (IPv4):
/// - `0.0.0.0/8` unspecified, `127.0.0.0/8` loopback, `255.255.255.255/32` broadcast
/// - `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` private; `100.64.0.0/10` carrier-grade NAT
/// - `169.254.0.0/16` link-local; `224.0.0.0/4` multicast; `240.0.0.0/4` reserved
/// - `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24` documentation; `198.18.0.0/15` benchmarking
/// - `192.0.0.0/24` IETF protocol assignments; `192.88.99.0/24` 6to4 relay anycast (deprecated);
///   `192.31.196.0/24`, `192.175.48.0/24` AS112 DNS sinks; `192.52.193.0/24` AMT anycast
///
/// Refused unless allowed (IPv6):
/// - `::/128` unspecified, `::1/128` loopback, `fe80::/10` link-local, `fec0::/10` site-local
///   (deprecated), `fc00::/7` unique-local, `ff00::/8` multicast
/// - `100::/64` discard-only, `64:ff9b:1::/48` local-use NAT64, `2001::/23` IETF protocol
///   assignments (Teredo, benchmarking, ORCHID, ...), `2001:db8::/32` and `3fff::/20`
///   documentation, `2620:4f:8000::/48` AS112 DNS sink
/// - everything outside `2000::/3`, the only block IANA allocates for global unicast
/// - forms that embed an IPv4 address are judged by that address: `::ffff:0:0/96` IPv4-mapped,
///   `::/96` IPv4-compatible (deprecated), `64:ff9b::/96` NAT64, `2002::/16` 6to4.
///
/// The principle: the whole of IANA's IPv4 and IPv6 Special-Purpose Address Registries
/// (RFC 6890 and updates), whatever an entry's "globally reachable" flag, since none of them
/// is a place a request is delivered to, plus multicast, broadcast and unallocated space.
///
/// An address inside an allowed network is allowed whatever its kind. An IPv6 form that
/// embeds an IPv4 address is also allowed when the embedded address is, so allowing
/// `127.0.0.0/8` allows `::ffff:127.0.0.1` too: both reach the same host, and one rule for
/// both forms is what an operator expects.
struct AddressPolicy: Equatable, Sendable {
    /// The channel the request belongs to, named in the refusal's advice.
    var channel: String = ""
    /// The channel's `allowed_networks`.
    var allowedNetworks: [IPNetwork] = []

    /// Why `address` must not be connected to, or nil when it may be.
    func refusal(of address: IPAddress) -> AddressRefusal? {
        if allowedNetworks.contains(where: { $0.contains(address) }) { return nil }
        if let (embedded, form) = Self.embeddedIPv4(address) {
            if allowedNetworks.contains(where: { $0.contains(embedded) }) { return nil }
            guard let (range, kind) = Self.special(embedded) else { return nil }
            return AddressRefusal(address: address, kind: kind, range: range, form: form)
        }
        guard let (range, kind) = Self.special(address) else { return nil }
        return AddressRefusal(address: address, kind: kind, range: range, form: nil)
    }

    /// The error an attempt ends with when its connection is refused: what, why, and the
    /// setting that would allow it.
    func message(_ refusal: AddressRefusal, port: Int) -> String {
        // A quote in the channel name is doubled, so the advice runs as printed; set_channel
        // replaces the whole list, so the advice keeps the networks already allowed.
        let channel = String(channel.flatMap { $0 == "'" ? ["'", "'"] : [$0] })
        let networks = (allowedNetworks.map(\.description) + [refusal.range.description]).joined(separator: ",")
        return "refused to connect to \(refusal.address) port \(port): \(refusal.reason); allow it with "
            + "SELECT httpq.set_channel('\(channel)', allowed_networks => '{\(networks)}')"
    }

    // MARK: - Classification

    /// The special range holding `address` and its kind, or nil for a public unicast address.
    static func special(_ address: IPAddress) -> (IPNetwork, String)? {
        let table = address.isIPv4 ? ipv4Ranges : ipv6Ranges
        if let match = table.first(where: { $0.0.contains(address) }) { return match }
        if !address.isIPv4, !globalUnicast.contains(address) {
            return (IPNetwork.literal("\(address)/128"), "reserved (outside 2000::/3)")
        }
        return nil
    }

    /// The IPv4 address an IPv6 address stands for, and the name of the form, or nil.
    static func embeddedIPv4(_ address: IPAddress) -> (IPAddress, String)? {
        guard !address.isIPv4, address != unspecified, address != loopback else { return nil }
        for (network, form, offset) in embeddingForms where network.contains(address) {
            return IPAddress(bytes: Array(address.bytes[offset..<(offset + 4)])).map { ($0, form) }
        }
        return nil
    }

    private static let unspecified = IPAddress("::")!
    private static let loopback = IPAddress("::1")!
    private static let globalUnicast = IPNetwork.literal("2000::/3")

    /// IPv6 prefixes whose addresses carry an IPv4 address, and where it starts.
    private static let embeddingForms: [(IPNetwork, String, Int)] = [
        (.literal("::ffff:0:0/96"), "IPv4-mapped", 12),
        (.literal("::/96"), "IPv4-compatible", 12),
        (.literal("64:ff9b::/96"), "NAT64", 12),
        (.literal("2002::/16"), "6to4", 2),
    ]

    /// Broadcast comes before the reserved block that contains it, so it gets its own name.
    private static let ipv4Ranges: [(IPNetwork, String)] = [
        ("0.0.0.0/8", "unspecified"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"), ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"), ("192.0.2.0/24", "documentation"),
        ("192.31.196.0/24", "AS112 DNS sink"), ("192.52.193.0/24", "AMT anycast"),
        ("192.88.99.0/24", "6to4 relay anycast"), ("192.168.0.0/16", "private"),
        ("192.175.48.0/24", "AS112 DNS sink"), ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"), ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"), ("255.255.255.255/32", "broadcast"), ("240.0.0.0/4", "reserved"),
    ].map { (IPNetwork.literal($0.0), $0.1) }

    private static let ipv6Ranges: [(IPNetwork, String)] = [
        ("::/128", "unspecified"), ("::1/128", "loopback"), ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"), ("2001::/23", "IETF protocol assignment"),
        ("2001:db8::/32", "documentation"), ("2620:4f:8000::/48", "AS112 DNS sink"),
        ("3fff::/20", "documentation"), ("fc00::/7", "unique-local"), ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"), ("ff00::/8", "multicast"),
    ].map { (IPNetwork.literal($0.0), $0.1) }
}

/// An address a request may not connect to, and why.
struct AddressRefusal: Equatable, Sendable {
    var address: IPAddress
    /// A short phrase: loopback, private, link-local, ...
    var kind: String
    /// The special range the address (or the IPv4 address it embeds) falls in: the network to
    /// list in `allowed_networks` to allow it.
    var range: IPNetwork
    /// The IPv6 form the address was judged through (IPv4-mapped, NAT64, ...), if any.
    var form: String?

    /// "loopback address (127.0.0.0/8)", "loopback address (127.0.0.0/8) in IPv4-mapped form".
    var reason: String {
        "\(kind) address (\(range))" + (form.map { " in \($0) form" } ?? "")
    }
}
