import Glibc
import Testing

@testable import HTTPQ

// Driving a `DatabaseLink` the way the worker loop does, against a `TCPCluster`.

/// Cuts the link's connection from the server side and lets the link notice.
func cut(_ link: DatabaseLink, backend: String, cluster: TCPCluster) throws {
    _ = try cluster.admin().execute("SELECT pg_terminate_backend($1::int)", [backend])
    let lost = try turns(
        link,
        until: { events in
            events.contains { if case .lost = $0 { true } else { false } }
        })
    #expect(lost)
}

/// Runs the link the way the worker loop does (poll on its descriptor until its deadline,
/// then `service`) until `done` holds for the events of one turn.
func turns(_ link: DatabaseLink, until done: ([DatabaseLink.Event]) -> Bool) throws -> Bool {
    eventually(timeout: .seconds(30)) {
        var descriptors = [pollfd]()
        if let wait = link.waitDescriptor {
            descriptors.append(
                pollfd(
                    fd: wait.fd, events: (wait.read ? Int16(POLLIN) : 0) | (wait.write ? Int16(POLLOUT) : 0), revents: 0
                ))
        }
        let until = link.deadline.map { max(0, ($0 - .now).milliseconds + 1) } ?? 50
        _ = poll(&descriptors, nfds_t(descriptors.count), Int32(min(until, 50)))
        return done(link.service(now: .now, ready: descriptors.first.map { $0.revents != 0 } ?? false))
    }
}

func connected(_ events: [DatabaseLink.Event]) -> Bool {
    events.contains { if case .connected = $0 { true } else { false } }
}

/// The server address of the link's current connection.
func serverAddress(_ link: DatabaseLink) throws -> String? {
    guard case .ready(let connection) = link.state else { return nil }
    return try connection.execute("SELECT host(inet_server_addr())").scalar
}
