/// One attempt to open a connection from the worker loop without blocking it: the host names
/// are resolved on a thread of their own (`HostResolver`), then libpq connects without
/// blocking. The whole attempt gets `timeout`, since libpq ignores `connect_timeout` when it
/// does not block.
///
/// Not thread-safe: used only by the worker loop.
final class ConnectAttempt {
    enum Progress {
        case waiting
        case connected(Connection)
        case failed(PostgresError)
    }

    private enum Stage {
        case resolving(HostResolver.Resolution)
        /// libpq waits for the socket to be readable or writable.
        case connecting(Connection, wantsWrite: Bool)
        case finished
    }

    let since: Instant
    let timeout: Duration
    private var stage: Stage

    /// Starts an attempt at `now`; call `advance` at once, then after each wait.
    init(resolver: HostResolver, now: Instant, timeout: Duration) throws(PostgresError) {
        since = now
        self.timeout = timeout
        do {
            stage = .resolving(try resolver.begin())
        } catch {
            throw .connection(message: "cannot resolve host names: \(error)")
        }
    }

    /// When the attempt gives up.
    var deadline: Instant {
        since + timeout
    }

    /// What to wait for this turn.
    var waitDescriptor: WaitDescriptor? {
        switch stage {
        case .resolving(let resolution): return WaitDescriptor(fd: resolution.fd, read: true)
        case .connecting(let connection, let wantsWrite):
            return WaitDescriptor(fd: connection.socket, read: !wantsWrite, write: wantsWrite)
        case .finished: return nil
        }
    }

    /// Moves the attempt forward; `ready` is the readiness of `waitDescriptor`.
    func advance(now: Instant, ready: Bool) -> Progress {
        switch stage {
        case .resolving(let resolution):
            switch resolution.value {
            case .success(let parameters)?:
                return connect(parameters, now: now)
            case .failure(let error)?:
                return finish(.failed(error))
            case nil:
                guard now < deadline else {
                    return finish(.failed(.connection(message: "timed out resolving host names after \(timeoutText)")))
                }
                return .waiting
            }
        case .connecting(let connection, _):
            guard ready || now >= deadline else { return .waiting }
            return poll(connection, now: now)
        case .finished:
            return .waiting
        }
    }

    private func connect(_ parameters: ConnectionParameters, now: Instant) -> Progress {
        do {
            return poll(try Connection.start(parameters), now: now)
        } catch {
            return finish(.failed(error))
        }
    }

    private func poll(_ connection: Connection, now: Instant) -> Progress {
        let progress = connection.pollConnect()
        if progress != .ready, now >= deadline {
            return finish(.failed(.connection(message: "timed out connecting after \(timeoutText)")))
        }
        switch progress {
        case .waitingToRead:
            stage = .connecting(connection, wantsWrite: false)
            return .waiting
        case .waitingToWrite:
            stage = .connecting(connection, wantsWrite: true)
            return .waiting
        case .ready:
            return finish(.connected(connection))
        case .failed(let error):
            return finish(.failed(error))
        }
    }

    private func finish(_ progress: Progress) -> Progress {
        stage = .finished  // drops a failed connection: PQfinish
        return progress
    }

    private var timeoutText: String {
        let seconds = timeout.seconds
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}

@available(*, unavailable)
extension ConnectAttempt: Sendable {}
