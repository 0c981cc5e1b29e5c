import Logging

/// What the worker does with each database event.
extension Worker {
    func handle(_ events: [DatabaseLink.Event]) {
        let now = ContinuousClock.now
        for event in events {
            switch event {
            case .connected:
                logger.info("reconnected")
                plan.connected()
            case .connectFailed(let error, let retryAt):
                logger.warning(
                    "cannot reconnect to the database",
                    metadata: [
                        LogKey.error: "\(error)", "retry_in_ms": "\((retryAt - now).milliseconds)",
                    ])
            case .lost(let error, let inFlight, let retryAt):
                lost(error, inFlight: inFlight, retryIn: retryAt - now, now: now)
            case .completed(let query, let sentAt, .success(let result)):
                succeeded(query, result: result, sentAt: sentAt, now: now)
            case .completed(let query, _, .failure(let error)):
                logger.error("\(query.name) failed", metadata: [LogKey.error: "\(error)"])
                plan.failed(query, transient: error.isTransient, now: now)
            case .notified:
                plan.notified()
            }
        }
    }

    private func lost(_ error: PostgresError, inFlight: DatabaseQuery?, retryIn: Duration, now: Instant) {
        var metadata: Logger.Metadata = [
            LogKey.error: "\(error)", "retry_in_ms": "\(retryIn.milliseconds)",
            "transfers": "\(attempts.count)", "unreported": "\(plan.reports.pending.count)",
        ]
        if let inFlight { metadata["in_flight"] = "\(inFlight.name)" }
        logger.warning("lost the database connection; transfers continue and outcomes are kept", metadata: metadata)
        if case .claim = inFlight {
            // The claim may have committed without our seeing its rows; those requests wait
            // for their lease to expire, then any worker takes them again.
            logger.warning(
                "a claim was unanswered when the connection broke; its requests return when their lease expires")
        }
        if let inFlight {
            plan.failed(inFlight, transient: true, now: now)
        }
    }

    private func succeeded(_ query: DatabaseQuery, result: QueryResult, sentAt: Instant, now: Instant) {
        switch query {
        case .claim(let count):
            claimed(result.rows, asked: count, sentAt: sentAt, now: now)
        case .report(let outcomes):
            let applied = result.scalar.flatMap { Int($0) } ?? 0
            logger.trace("reported", metadata: [LogKey.count: "\(outcomes.count)", "applied": "\(applied)"])
            plan.succeeded(query, sentAt: sentAt, now: now)
        case .heartbeat(let ids):
            let extended = result.scalar.flatMap { Int($0) } ?? 0
            if extended < ids.count {
                logger.warning(
                    "some leases could not be extended; those requests may be delivered twice",
                    metadata: [LogKey.count: "\(ids.count - extended)"])
            }
            plan.succeeded(query, sentAt: sentAt, now: now)
        case .release(let ids):
            releasedCount += ids.count
            plan.succeeded(query, sentAt: sentAt, now: now)
        case .schedule:
            let delay = result.scalar.flatMap { Double($0) }.map { Duration.nanoseconds(Int64($0 * 1e9)) }
            plan.succeeded(query, sentAt: sentAt, now: now, delay: delay)
        case .purge:
            if let purged = result.scalar, purged != "0" {
                logger.debug("purged finished requests past their retention", metadata: [LogKey.count: "\(purged)"])
            }
        case .listen:
            break
        }
    }

    /// Starts a transfer for each claimed row (or hands the rows back when stopping).
    private func claimed(_ rows: [[String?]], asked: Int, sentAt: Instant, now: Instant) {
        var requests: [ClaimedRequest] = []
        var ids: [Int64] = []
        for row in rows {
            do {
                let request = try ClaimedRequest(row: row)
                requests.append(request)
                ids.append(request.id)
            } catch {
                unreadable(error, now: now)
                if let id = error.id { ids.append(id) }
            }
        }
        guard plan.claimed(ids, asked: asked, sentAt: sentAt) else {
            logger.debug("claimed while stopping; handing back", metadata: [LogKey.count: "\(ids.count)"])
            return
        }
        for request in requests {
            start(request, now: now)
        }
    }

    private func unreadable(_ error: ClaimedRequest.Unreadable, now: Instant) {
        logger.error(
            "cannot read a claimed request",
            metadata: [
                LogKey.requestID: "\(error.id.map(String.init) ?? "?")", LogKey.error: "\(error.reason)",
            ])
        guard let id = error.id, let attempt = error.attempt else { return }
        let result = HTTPResult(
            status: nil, headers: ResponseHeaders(), body: [], error: error.reason,
            durationMilliseconds: 0)
        plan.finished(Outcome(id: id, attempt: attempt, result: result), now: now)
    }
}
