import Glibc
import Testing

@testable import HTTPQ

/// A connection attempt against servers that never answer: every turn returns at once (libpq
/// is never polled before its socket is ready, nor after its server's time is up), a silent
/// server is given up at its timeout, and the next server is tried.
@Suite struct ConnectAttemptTests {
    /// Drives `attempt` as the worker loop does (poll its descriptor until its deadline, then
    /// advance) until it finishes; also counts the turns that returned while it went on.
    func run(_ attempt: ConnectAttempt) -> (ConnectAttempt.Progress, turns: Int) {
        var turns = 0
        var progress = attempt.advance(now: .now, ready: false)
        while case .waiting = progress {
            turns += 1
            var descriptors = [pollfd]()
            if let wait = attempt.waitDescriptor {
                descriptors.append(
                    pollfd(
                        fd: wait.fd, events: (wait.read ? Int16(POLLIN) : 0) | (wait.write ? Int16(POLLOUT) : 0),
                        revents: 0))
            }
            let until = max(0, (attempt.deadline - .now).milliseconds + 1)
            _ = poll(&descriptors, nfds_t(descriptors.count), Int32(min(until, 20)))
            progress = attempt.advance(now: .now, ready: descriptors.first.map { $0.revents != 0 } ?? false)
        }
        return (progress, turns)
    }

    func attempt(_ url: String, timeout: Duration? = .milliseconds(300)) throws -> ConnectAttempt {
        let resolver = HostResolver(parameters: ConnectionParameters(url: url, environment: [:]))
        return try ConnectAttempt(resolver: resolver, now: .now, timeout: timeout)
    }

    func failure(_ progress: ConnectAttempt.Progress) -> String? {
        if case .failed(let error) = progress { return error.description }
        return nil
    }

    @Test("A silent server is given up at its timeout, and the loop turns meanwhile")
    func silentServer() throws {
        let silent = try SilentListener()
        let (progress, turns) = run(try attempt("host=127.0.0.1 port=\(silent.port) user=postgres dbname=postgres"))
        #expect(
            failure(progress) == "connection to server at \"127.0.0.1\", port \(silent.port) failed: timeout expired")
        // More than the turns spent resolving: the loop kept turning while the connect hung.
        #expect(turns > 2)
    }

    @Test("After a silent server the next is tried; the failure names each, as libpq does")
    func everyServerNamed() throws {
        let silent = try SilentListener()
        let closed = try ClosedPort()
        let url = "host=127.0.0.1,127.0.0.1 port=\(silent.port),\(closed.port) user=postgres dbname=postgres"
        let (progress, _) = run(try attempt(url))
        #expect(
            failure(progress)
                == "connection to server at \"127.0.0.1\", port \(silent.port) failed: timeout expired; "
                + "connection to server at \"127.0.0.1\", port \(closed.port) failed: Connection refused "
                + "Is the server running on that host and accepting TCP/IP connections?")
    }

    @Test("Each server waits connect_timeout from the settings, else 10 s")
    func timeoutFromSettings() throws {
        #expect(try attempt("host=127.0.0.1 connect_timeout=3", timeout: nil).timeout == .seconds(3))
        #expect(try attempt("host=127.0.0.1", timeout: nil).timeout == .seconds(10))
        #expect(try attempt("host=127.0.0.1 connect_timeout=3", timeout: .seconds(1)).timeout == .seconds(1))
    }
}
