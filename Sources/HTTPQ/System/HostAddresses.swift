import Glibc

/// Resolving a host name to the numeric addresses a TCP connection can use.
enum HostAddresses {
    /// The addresses `name` resolves to (`getaddrinfo`, as libpq asks it: any family, TCP), as
    /// numeric text in the resolver's order without repeats. Blocks for as long as DNS takes.
    static func lookUp(_ name: String) -> Result<[String], HostLookupError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(name, nil, &hints, &list)
        guard code == 0, let list else {
            let reason = code == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(code))
            return .failure(HostLookupError(name: name, reason: reason))
        }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let converted = getnameinfo(
                current.pointee.ai_addr, current.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0,
                NI_NUMERICHOST)
            if converted == 0 {
                let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !addresses.contains(address) { addresses.append(address) }
            }
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else {
            return .failure(HostLookupError(name: name, reason: "no address"))
        }
        return .success(addresses)
    }

    /// Whether `host` is already a numeric IPv4 or IPv6 address, which needs no lookup.
    static func isNumeric(_ host: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
    }
}

/// A host name that did not resolve, worded as libpq words it.
struct HostLookupError: Error, Equatable, Sendable, CustomStringConvertible {
    var name: String
    var reason: String

    var description: String {
        "could not translate host name \"\(name)\" to address: \(reason)"
    }
}
