import Foundation
import Glibc
import Testing

@testable import HTTPQ

/// Reconnecting when a server never answers (its SYNs dropped): the worker loop keeps turning,
/// the silent server is given up at its timeout, and the next server listed is reached.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"), .serialized)
struct ReconnectTests {
    /// A link whose first connection is to `cluster` and whose reconnects use `url`.
    func link(
        _ cluster: TCPCluster, reconnectingTo url: String, connectTimeout: Duration? = nil
    ) throws -> (DatabaseLink, backend: String) {
        let connection = try cluster.admin()
        let backend = try #require(try connection.execute("SELECT pg_backend_pid()").scalar)
        let link = try DatabaseLink(
            connection: connection, parameters: ConnectionParameters(url: url, environment: [:]),
            connectTimeout: connectTimeout)
        return (link, backend)
    }

    @Test("A reconnect to a silent server returns every turn and fails at its timeout")
    func silentServer() throws {
        let cluster = try TCPCluster()
        defer { cluster.remove() }
        let silent = try SilentListener()
        let (link, backend) = try link(
            cluster, reconnectingTo: "host=127.0.0.1 port=\(silent.port) user=postgres dbname=postgres",
            connectTimeout: .milliseconds(500))
        try cut(link, backend: backend, cluster: cluster)
        var turnsConnecting = 0
        var failure: PostgresError?
        _ = try turns(
            link,
            until: { events in
                if case .connecting = link.state { turnsConnecting += 1 }
                for case .connectFailed(let error, _) in events { failure = error }
                return failure != nil
            })
        #expect(
            failure
                == .connection(
                    message: "connection to server at \"127.0.0.1\", port \(silent.port) failed: timeout expired"))
        #expect(turnsConnecting > 2)
        guard case .down = link.state else {
            Issue.record("expected the link down until its next attempt, found \(link.state)")
            return
        }
    }

    @Test("A reconnect gives up a silent first server after connect_timeout and reaches the second")
    func secondServer() throws {
        let cluster = try TCPCluster()
        defer { cluster.remove() }
        let silent = try SilentListener()
        let url =
            "host=127.0.0.1,127.0.0.1 port=\(silent.port),\(cluster.port) user=postgres dbname=postgres connect_timeout=2"
        let (link, backend) = try link(cluster, reconnectingTo: url)
        try cut(link, backend: backend, cluster: cluster)
        var events: [DatabaseLink.Event] = []
        #expect(
            try turns(
                link,
                until: { turn in
                    events += turn
                    return connected(turn)
                }))
        #expect(!events.contains { if case .connectFailed = $0 { true } else { false } })
        guard case .ready(let connection) = link.state else {
            Issue.record("expected a connection, found \(link.state)")
            return
        }
        #expect(try connection.execute("SELECT inet_server_port()").scalar == String(cluster.port))
    }
}
