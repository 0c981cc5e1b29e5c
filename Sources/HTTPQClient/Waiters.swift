/// The callers waiting for requests to finish, each under a token of its own (several may
/// wait for one id), and whether the listening connection is up.
///
/// A waiter is registered before anything is read, so an outcome that arrives before the
/// caller suspends is kept for it; each waiter is resolved once, and then forgotten.
actor Waiters {
    private struct Entry {
        var id: Int64
        var continuation: CheckedContinuation<HTTPQOutcome, any Error>?
        var result: Result<HTTPQOutcome, any Error>?
    }

    private var entries: [UInt64: Entry] = [:]
    private var tokens: [Int64: Set<UInt64>] = [:]
    private var nextToken: UInt64 = 0
    /// Whether LISTEN is established: waiters registered from then on check their request
    /// themselves, the ones before are checked by the listener.
    private var listening = false

    /// Registers a waiter for `id`; returns its token and whether LISTEN is established.
    func register(_ id: Int64) -> (token: UInt64, listening: Bool) {
        nextToken += 1
        entries[nextToken] = Entry(id: id)
        tokens[id, default: []].insert(nextToken)
        return (nextToken, listening)
    }

    /// Waits for the waiter's result and forgets the waiter.
    func result(_ token: UInt64) async throws -> HTTPQOutcome {
        guard let entry = entries[token] else { throw CancellationError() }
        if let result = entry.result {
            forget(token)
            return try result.get()
        }
        return try await withCheckedThrowingContinuation { entries[token]?.continuation = $0 }
    }

    /// Resolves every waiter of `id`.
    func resolve(id: Int64, _ result: Result<HTTPQOutcome, any Error>) {
        for token in tokens[id] ?? [] {
            resolve(token: token, result)
        }
    }

    /// Resolves one waiter, unless it was resolved already.
    func resolve(token: UInt64, _ result: Result<HTTPQOutcome, any Error>) {
        guard let entry = entries[token], entry.result == nil else { return }
        if let continuation = entry.continuation {
            forget(token)
            continuation.resume(with: result)
        } else {
            entries[token]?.result = result
        }
    }

    /// Records whether LISTEN is established; when it is, returns every id waited for, to be
    /// checked once (what finished while nobody listened sent its notification to no one).
    func setListening(_ listening: Bool) -> [Int64] {
        self.listening = listening
        return listening ? Array(tokens.keys) : []
    }

    /// Those of `ids` that someone waits for.
    func waited(among ids: [Int64]) -> [Int64] {
        ids.filter { tokens[$0] != nil }
    }

    /// Fails every waiter (the client stopped).
    func failAll(_ error: any Error) {
        for token in Array(entries.keys) {
            resolve(token: token, .failure(error))
        }
    }

    private func forget(_ token: UInt64) {
        guard let id = entries.removeValue(forKey: token)?.id else { return }
        tokens[id]?.remove(token)
        if tokens[id]?.isEmpty == true {
            tokens[id] = nil
        }
    }
}
