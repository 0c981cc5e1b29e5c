/// One attempt to open a connection from the worker loop without blocking it: the host names
/// are resolved on a thread of their own (`HostResolver`), then libpq connects to each server
/// in turn (`ConnectionPlan`) without blocking, until one connection is made.
///
/// libpq ignores `connect_timeout` when it does not block, so each server gets it here: a
/// server that stays silent for that long is given up for the next, as a blocking connect
/// would. The lookup gets the same timeout.
///
/// libpq's protocol is followed to the letter: after `Connection.start`, wait until the socket
/// is writable, then call `pollConnect` only when the socket is ready for what it last asked.
/// A server whose time is up is never polled again (that could block): its connection is
/// dropped, and `PQfinish` sends nothing on a connection not yet made.
///
/// Not thread-safe: used only by the worker loop.
final class ConnectAttempt {
    enum Progress {
        case waiting
        case connected(Connection)
        case failed(PostgresError)
    }

    private enum Stage {
        case resolving(HostResolver.Resolution, until: Instant)
        /// libpq waits for the socket to be readable or writable; this server is given up at `until`.
        case connecting(Connection, wantsWrite: Bool, until: Instant)
        case finished
    }

    /// Stands for "no limit" (`connect_timeout` zero or less): the loop's timers need an instant.
    static let noLimit: Duration = .seconds(86_400)

    let since: Instant
    /// How long each server, and the lookup, may take; nil for no limit.
    let timeout: Duration?
    private var stage: Stage
    private var connections: [ConnectionParameters] = []
    private var next = 0
    /// Why each server tried so far failed, in order, worded as libpq words it.
    private var failures: [String] = []

    /// Starts an attempt at `now`; call `advance` at once, then after each wait.
    /// - Parameter timeout: overrides the `connect_timeout` the connection's settings give (tests).
    init(resolver: HostResolver, now: Instant, timeout: Duration? = nil) throws(PostgresError) {
        since = now
        self.timeout = timeout ?? resolver.connectTimeout
        do {
            stage = .resolving(try resolver.begin(), until: now + (self.timeout ?? Self.noLimit))
        } catch {
            throw .connection(message: "cannot resolve host names: \(error)")
        }
    }

    /// When the server (or lookup) under way is given up: the attempt needs a turn then.
    var deadline: Instant {
        switch stage {
        case .resolving(_, let until), .connecting(_, _, let until): return until
        case .finished: return since
        }
    }

    /// What to wait for this turn.
    var waitDescriptor: WaitDescriptor? {
        switch stage {
        case .resolving(let resolution, _): return WaitDescriptor(fd: resolution.fd, read: true)
        case .connecting(let connection, let wantsWrite, _):
            return WaitDescriptor(fd: connection.socket, read: !wantsWrite, write: wantsWrite)
        case .finished: return nil
        }
    }

    /// Moves the attempt forward; `ready` is the readiness of `waitDescriptor`.
    func advance(now: Instant, ready: Bool) -> Progress {
        switch stage {
        case .resolving(let resolution, let until):
            switch resolution.value {
            case .success(let plan)?:
                connections = plan.connections
                failures = plan.lookupFailures
                return connectToNext(now: now)
            case .failure(let error)?:
                return finish(.failed(error))
            case nil:
                guard now < until else {
                    return finish(.failed(.connection(message: "timed out resolving host names after \(timeoutText)")))
                }
                return .waiting
            }
        case .connecting(let connection, _, let until):
            guard now < until else {
                // Polling now could block: libpq would take the connect under way for made.
                failures.append("connection to \(connection.server) failed: timeout expired")
                return connectToNext(now: now)
            }
            guard ready else { return .waiting }
            return poll(connection, until: until, now: now)
        case .finished:
            return .waiting
        }
    }

    /// Starts the next server's connection, or fails the attempt when none is left.
    private func connectToNext(now: Instant) -> Progress {
        while next < connections.count {
            let parameters = connections[next]
            next += 1
            do {
                // The old connection, if any, is dropped here (PQfinish).
                stage = .connecting(
                    try Connection.start(parameters), wantsWrite: true, until: now + (timeout ?? Self.noLimit))
                return .waiting
            } catch {
                failures.append(error.description)
            }
        }
        let message = failures.isEmpty ? "no server to connect to" : failures.joined(separator: "; ")
        return finish(.failed(.connection(message: message)))
    }

    private func poll(_ connection: Connection, until: Instant, now: Instant) -> Progress {
        switch connection.pollConnect() {
        case .waitingToRead:
            stage = .connecting(connection, wantsWrite: false, until: until)
            return .waiting
        case .waitingToWrite:
            stage = .connecting(connection, wantsWrite: true, until: until)
            return .waiting
        case .ready:
            return finish(.connected(connection))
        case .failed(let error):
            failures.append(error.description)
            return connectToNext(now: now)
        }
    }

    private func finish(_ progress: Progress) -> Progress {
        stage = .finished  // drops a failed connection: PQfinish
        return progress
    }

    private var timeoutText: String {
        let seconds = (timeout ?? Self.noLimit).seconds
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}

@available(*, unavailable)
extension ConnectAttempt: Sendable {}
