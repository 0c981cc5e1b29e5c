import Foundation
import Glibc
import Synchronization
import Testing

@testable import HTTPQ

/// Reconnecting to a Postgres reached over TCP as `localhost`: the name is resolved off the
/// loop, and a lookup that hangs neither stalls the loop nor outlives the connect timeout.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"), .serialized)
struct HostResolutionTests {
    /// A lookup that waits until `release()`, then asks the system resolver.
    final class HeldLookup: Sendable {
        private let released = DispatchSemaphore(value: 0)
        private let names = Mutex<[String]>([])

        var asked: [String] { names.withLock { $0 } }

        func lookUp(_ name: String) -> Result<[String], HostLookupError> {
            names.withLock { $0.append(name) }
            released.wait()
            released.signal()
            return HostAddresses.lookUp(name)
        }

        func release() { released.signal() }
    }

    /// Opens a connection over TCP and makes a link of it, as `Worker.start` does.
    func link(
        _ cluster: TCPCluster, lookUp: @escaping HostResolver.LookUp = HostAddresses.lookUp,
        connectTimeout: Duration? = nil
    ) throws -> (DatabaseLink, backend: String) {
        let parameters = ConnectionParameters(url: cluster.url, environment: [:])
        let connection = try Connection.open(parameters)
        let backend = try #require(try connection.execute("SELECT pg_backend_pid()").scalar)
        let link = try DatabaseLink(
            connection: connection, parameters: parameters, lookUp: lookUp, connectTimeout: connectTimeout)
        return (link, backend)
    }

    @Test("A reconnect to host=localhost resolves the name and connects over TCP")
    func reconnectByName() throws {
        let cluster = try TCPCluster()
        defer { cluster.remove() }
        let (link, backend) = try link(cluster)
        try cut(link, backend: backend, cluster: cluster)
        #expect(try turns(link, until: connected))
        #expect(try serverAddress(link) == "127.0.0.1")
    }

    @Test("While the lookup hangs the loop keeps turning; the link connects once it answers")
    func lookupOffTheLoop() throws {
        let cluster = try TCPCluster()
        defer { cluster.remove() }
        let lookup = HeldLookup()
        let (link, backend) = try link(cluster, lookUp: lookup.lookUp)
        try cut(link, backend: backend, cluster: cluster)
        // Turns go on while the lookup is held: the loop never waits for it.
        var quiet = true
        let asked = try turns(link, until: { events in
            quiet = quiet && events.isEmpty
            return lookup.asked == ["localhost"]
        })
        #expect(asked && quiet)
        var turnsWhileHeld = 0
        _ = try turns(link, until: { events in
            #expect(events.isEmpty)
            turnsWhileHeld += 1
            return turnsWhileHeld == 5
        })
        guard case .connecting = link.state else {
            Issue.record("expected a connection attempt under way, found \(link.state)")
            return
        }
        lookup.release()
        #expect(try turns(link, until: connected))
        #expect(try serverAddress(link) == "127.0.0.1")
    }

    @Test("A lookup that outlives the connect timeout fails the attempt; the next attempt waits for the same lookup")
    func lookupTimeout() throws {
        let cluster = try TCPCluster()
        defer { cluster.remove() }
        let lookup = HeldLookup()
        // Long enough that, once the lookup is released, the connect and the server's startup
        // fit in it on a loaded machine: a second timeout would start a second lookup.
        let (link, backend) = try link(cluster, lookUp: lookup.lookUp, connectTimeout: .seconds(2))
        try cut(link, backend: backend, cluster: cluster)
        var failure: PostgresError?
        _ = try turns(link, until: { events in
            for case .connectFailed(let error, _) in events { failure = error }
            return failure != nil
        })
        #expect(failure == .connection(message: "timed out resolving host names after 2 s"))
        _ = try turns(link, until: { _ in
            if case .connecting = link.state { return true }
            return false
        })
        lookup.release()
        #expect(try turns(link, until: connected))
        // One lookup served both attempts: a hung query is never joined by another.
        #expect(lookup.asked == ["localhost"])
    }
}

/// A throwaway Postgres listening on TCP at 127.0.0.1 only, on a free port.
final class TCPCluster {
    let directory = "/tmp/httpq-tcp-\(UUID().uuidString.prefix(8))"
    let port: Int
    private let bin: String

    init() throws {
        port = try Self.freePort()
        bin = try Subprocess.run("/usr/bin/pg_config", ["--bindir"])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try Subprocess.run("/bin/chown", ["postgres:", directory]) }
        try asOwner("\(bin)/initdb", ["-D", "\(directory)/data", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
        let settings = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off"
        try asOwner("\(bin)/pg_ctl", ["-D", "\(directory)/data", "-l", "\(directory)/postgres.log", "-w", "-o", settings, "start"])
    }

    /// The conninfo the tests use: by name, so reaching the server needs a lookup.
    var url: String {
        "host=localhost port=\(port) user=postgres dbname=postgres"
    }

    func admin() throws -> Connection {
        try Connection.open(ConnectionParameters(url: "host=127.0.0.1 port=\(port) user=postgres dbname=postgres", environment: [:]))
    }

    func remove() {
        try? asOwner("\(bin)/pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func asOwner(_ executable: String, _ arguments: [String]) throws {
        if getuid() == 0 {
            try Subprocess.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
        } else {
            try Subprocess.run(executable, arguments)
        }
    }

    /// A TCP port nothing listens on at 127.0.0.1 now (the kernel picks it).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else { throw TestFailure("bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
