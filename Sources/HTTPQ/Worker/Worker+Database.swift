import Logging

/// What the worker does with each database event.
extension Worker {
    func handle(_ events: [DatabaseLink.Event], lane: WorkerPlan.Lane) {
        let now = ContinuousClock.now
        for event in events {
            switch event {
            case .connected:
                logger.info("reconnected", metadata: ["connection": "\(lane)"])
                metrics?.reconnected(lane)
                if lane == .claims { listening = false }
                plan.connected(lane: lane)
            case .connectFailed(let error, let retryAt):
                logger.warning(
                    "cannot reconnect to the database",
                    metadata: [
                        LogKey.error: "\(error)", "retry_in_ms": "\((retryAt - now).milliseconds)",
                    ])
            case .lost(let error, let inFlight, let retryAt):
                if lane == .claims { listening = false }
                lost(error, inFlight: inFlight, retryIn: retryAt - now, now: now, lane: lane)
            case .completed(let query, let sentAt, .success(let result)):
                metrics?.answered(query, after: now - sentAt, failed: false)
                succeeded(query, result: result, sentAt: sentAt, now: now)
            case .completed(let query, let sentAt, .failure(let error)):
                metrics?.answered(query, after: now - sentAt, failed: true)
                failed(query, error, now: now, connectionLost: false)
            case .notified:
                plan.notified()
            case .notice(let notice):
                received(notice, lane: lane)
            }
        }
    }

    private func lost(
        _ error: PostgresError, inFlight: DatabaseQuery?, retryIn: Duration, now: Instant, lane: WorkerPlan.Lane
    ) {
        var metadata: Logger.Metadata = [
            LogKey.error: "\(error)", "retry_in_ms": "\(retryIn.milliseconds)", "connection": "\(lane)",
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
            failed(inFlight, error, now: now, connectionLost: true)
        }
    }

    /// Tells the plan, and logs what it decided. A report failing is logged once per episode:
    /// it is retried with backoff until it goes through, and that is logged once too.
    private func failed(_ query: DatabaseQuery, _ error: PostgresError, now: Instant, connectionLost: Bool) {
        switch plan.failed(query, error: error, now: now) {
        case .reportsFailing(let retryIn):
            logger.error(
                "reports are failing; outcomes are kept and sent again, and nothing new is claimed until one goes through",
                metadata: [
                    LogKey.error: "\(error)", "retry_in_ms": "\(retryIn.milliseconds)",
                    "unreported": "\(plan.reports.pending.count)",
                ])
        case .reportsStillFailing(let retryIn):
            logger.debug(
                "report failed again",
                metadata: [LogKey.error: "\(error)", "retry_in_ms": "\(retryIn.milliseconds)"])
        case .reportHalved(let retryIn):
            logger.debug(
                "report failed again; sending it in halves, in case its size is the cause",
                metadata: [LogKey.error: "\(error)", "retry_in_ms": "\(retryIn.milliseconds)"])
        case .reportSplit:
            logger.debug(
                "the database refused an outcome in a report, or the report as too large; sending it again in halves",
                metadata: [LogKey.error: "\(error)"])
        case .outcomeDropped(let outcome):
            logger.error(
                "the database refused this outcome; it is dropped, and the request is attempted again when its lease expires",
                metadata: [
                    LogKey.requestID: "\(outcome.id)", LogKey.attempt: "\(outcome.attempt)", LogKey.error: "\(error)",
                ])
        case .statement:
            // A lost connection is logged once, as such, whatever was in flight.
            if !connectionLost {
                logger.error("\(query.name) failed", metadata: [LogKey.error: "\(error)"])
            }
        case .queueStats(let firstOfEpisode):
            if firstOfEpisode && !connectionLost {
                logger.warning(
                    "cannot read httpq.queue_stats for the queue gauges; trying again every \(Int(QueueStatsSchedule.interval.seconds)) s",
                    metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    private func succeeded(_ query: DatabaseQuery, result: QueryResult, sentAt: Instant, now: Instant) {
        switch query {
        case .claim(let count, _):
            claimed(result.rows, asked: count, sentAt: sentAt, now: now)
        case .report(let outcomes):
            let applied = result.scalar.flatMap { Int($0) } ?? 0
            logger.trace("reported", metadata: [LogKey.count: "\(outcomes.count)", "applied": "\(applied)"])
            if let episode = plan.succeeded(query, sentAt: sentAt, now: now) {
                logger.info(
                    "reports go through again",
                    metadata: [
                        "failed_for_ms": "\(episode.duration.milliseconds)", "failures": "\(episode.failures)",
                        LogKey.count: "\(outcomes.count)", "unreported": "\(plan.reports.pending.count)",
                    ])
            }
        case .heartbeat(let claims):
            let extended = result.scalar.flatMap { Int($0) } ?? 0
            metrics?.heartbeat(extended: extended, lapsed: max(0, claims.count - extended))
            if extended < claims.count {
                logger.warning(
                    "some leases could not be extended; those requests may be delivered twice",
                    metadata: [LogKey.count: "\(claims.count - extended)"])
            }
            plan.succeeded(query, sentAt: sentAt, now: now)
        case .release(let claims):
            releasedCount += claims.count
            plan.succeeded(query, sentAt: sentAt, now: now)
        case .schedule:
            let delay = result.scalar.flatMap { Double($0) }.map { Duration.nanoseconds(Int64($0 * 1e9)) }
            plan.succeeded(query, sentAt: sentAt, now: now, delay: delay)
        case .idle:
            plan.markedIdle(everythingSeen: result.scalar == "t", now: now)
        case .busy:
            plan.succeeded(query, sentAt: sentAt, now: now)
        case .queueStats:
            if plan.queueStats?.answered() == true {
                logger.info("httpq.queue_stats is read again for the queue gauges")
            }
            metrics?.queue(result.rows.compactMap(QueueStatsRow.init(row:)))
        case .listen:
            listening = true
        case .maintain, .statementTimeout:
            break
        }
    }

    /// Logs a notice the server sent during one of the worker's statements, at its own level;
    /// a circuit breaker's transition also counts in the metrics (opening at warning).
    private func received(_ notice: ServerNotice, lane: WorkerPlan.Lane) {
        var metadata: Logger.Metadata = ["connection": "\(lane)", "severity": "\(notice.severity)"]
        if let detail = notice.detail { metadata["detail"] = "\(detail)" }
        var level = notice.level
        if let breaker = BreakerNotice(message: notice.message) {
            metrics?.breakerMoved(breaker)
            metadata[LogKey.channel] = "\(breaker.channel)"
            level = breaker.state == .open ? .warning : .info
        }
        logger.log(level: level, "\(notice.message)", metadata: metadata)
    }

    /// Starts a transfer for each claimed row (or hands the rows back when stopping).
    private func claimed(_ rows: [[String?]], asked: Int, sentAt: Instant, now: Instant) {
        var requests: [ClaimedRequest] = []
        var claims: [ClaimKey] = []
        metrics?.claimed(rows.count)
        for row in rows {
            do {
                let request = try ClaimedRequest(row: row)
                requests.append(request)
                claims.append(request.key)
            } catch {
                unreadable(error, now: now)
                // Without its attempt a claim cannot be named to the database; its lease expires.
                if let id = error.id, let attempt = error.attempt { claims.append(ClaimKey(id: id, attempt: attempt)) }
            }
        }
        guard plan.claimed(claims, asked: asked, sentAt: sentAt) else {
            logger.debug("claimed while stopping; handing back", metadata: [LogKey.count: "\(claims.count)"])
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
