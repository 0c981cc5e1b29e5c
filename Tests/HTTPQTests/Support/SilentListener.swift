import Glibc

/// A TCP port on 127.0.0.1 whose connects neither succeed nor fail, like a server behind a
/// firewall that drops packets: a listener with backlog 0 that never accepts, its queue filled
/// by a few connects of its own, so the kernel drops every further SYN.
final class SilentListener {
    let port: Int
    private var descriptors: [Int32] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestFailure("socket failed") }
        descriptors.append(listener)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(listener, address, length) == 0 && listen(listener, 0) == 0
                    && getsockname(listener, address, &length) == 0
            }
        }
        guard listening else { throw TestFailure("bind or listen failed: \(String(cString: strerror(errno)))") }
        port = Int(UInt16(bigEndian: address.sin_port))
        // Backlog 0 holds one connection on Linux; the rest wait in SYN_SENT.
        for _ in 0..<3 {
            descriptors.append(try connectWithoutWaiting(to: address))
        }
        // Check that this kernel drops the next SYN: a connect that completes (or is refused)
        // would make every test built on this listener meaningless.
        let probe = try connectWithoutWaiting(to: address)
        descriptors.append(probe)
        var wait = pollfd(fd: probe, events: Int16(POLLOUT), revents: 0)
        guard poll(&wait, 1, 300) == 0 else {
            throw TestFailure("a connect to a full listen queue did not hang (revents \(wait.revents))")
        }
    }

    deinit {
        for descriptor in descriptors { close(descriptor) }
    }

    private func connectWithoutWaiting(to address: sockaddr_in) throws -> Int32 {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard client >= 0 else { throw TestFailure("socket failed") }
        var address = address
        let started = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                connect(client, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 || errno == EINPROGRESS
            }
        }
        guard started else {
            close(client)
            throw TestFailure("connect failed: \(String(cString: strerror(errno)))")
        }
        return client
    }
}
