import Glibc
import Logging

/// Starting transfers, collecting their outcomes, and stopping.
extension Worker {
    /// Hands one claimed request to libcurl; a request that cannot be sent is reported as failed.
    func start(_ claim: ClaimedRequest, now: Instant) {
        logger.debug("sending", metadata: metadata(claim))
        // Claimed again while an older attempt still runs: that attempt's outcome could not be
        // applied any more, so only the new one is sent.
        if let stale = attempts.supersede(by: claim.key) {
            multi.remove(stale.transfer)
            transfers.recycle(stale.transfer)
            plan.superseded([stale.claim.key])
            metrics?.superseded(1)
            logger.warning(
                "claimed again while an older attempt was still sending (its lease lapsed); dropped the older one",
                metadata: metadata(claim))
        }
        var request = claim.request
        if !claim.secrets.isEmpty {
            do {
                request = try secrets.resolve(claim, unixTime: Int64(time(nil)))
            } catch {
                fail(claim, error.description, now: now, unsent: true)
                return
            }
        }
        if let problem = request.problem {
            fail(claim, problem, now: now)
            return
        }
        let transfer: Transfer
        do {
            transfer = try transfers.take(
                id: claim.id, request: request, settings: config.transferSettings)
            try multi.add(transfer)
        } catch {
            fail(claim, error.description, now: now)
            return
        }
        attempts.insert(claim, transfer)
    }

    /// Reports an attempt that sent nothing; `unsent`: for want of a secret, so it does not count.
    private func fail(_ claim: ClaimedRequest, _ reason: String, now: Instant, unsent: Bool = false) {
        var result = HTTPResult(
            status: nil, headers: ResponseHeaders(), body: [], error: reason, durationMilliseconds: 0)
        result.unsent = unsent
        if unsent {
            logger.error("not sent: a secret it needs cannot be opened", metadata: {
                var metadata = metadata(claim)
                metadata[LogKey.error] = "\(reason)"
                return metadata
            }())
        }
        finished(claim, result, now: now)
    }

    /// Collects every transfer libcurl has finished.
    func finishTransfers() {
        let done: [(Transfer, HTTPResult)]
        do {
            done = try multi.perform()
        } catch {
            logger.error("moving transfers forward failed", metadata: [LogKey.error: "\(error)"])
            return
        }
        let now = ContinuousClock.now
        for (transfer, result) in done {
            transfers.recycle(transfer)
            guard let claim = attempts.finished(transfer) else { continue }
            // Half its share free again: claims that found nothing while the channel had all
            // of it may have left its requests waiting. (Half, so those claims stay large.)
            if attempts.count(of: claim.channel) == config.channelShare / 2 {
                plan.claims.roomFreed()
            }
            finished(claim, result, now: now)
        }
    }

    private func finished(_ claim: ClaimedRequest, _ result: HTTPResult, now: Instant) {
        // The metadata is built inside the autoclosure, so only when debug lines are wanted.
        logger.debug(
            result.status == nil ? "no response" : "response",
            metadata: {
                var metadata = metadata(claim)
                metadata[LogKey.durationMilliseconds] = "\(result.durationMilliseconds)"
                if let status = result.status {
                    metadata[LogKey.status] = "\(status)"
                } else {
                    metadata[LogKey.error] = "\(result.error ?? "")"
                }
                return metadata
            }())
        metrics?.attempted(channel: claim.channel, result)
        plan.finished(Outcome(id: claim.id, attempt: claim.attempt, result: result), now: now)
    }

    private func metadata(_ claim: ClaimedRequest) -> Logger.Metadata {
        [LogKey.requestID: "\(claim.id)", LogKey.channel: "\(claim.channel)", LogKey.attempt: "\(claim.attempt)"]
    }

    // MARK: - Stopping

    /// A signal or stop request arrived.
    func receivedStop() {
        // Stopping never waits for maintenance: the step under way is abandoned.
        maintenance?.stop()
        switch plan.shutdown.signal(now: .now) {
        case .stopClaiming:
            logger.info(
                "draining: no new claims; transfers in flight may finish",
                metadata: [
                    "transfers": "\(attempts.count)", "grace_s": "\(config.grace.seconds)",
                ])
        case .abortTransfers:
            logger.info("stopping now: releasing claims and reporting outcomes")
            abortTransfers()
        case .exit, .none:
            logger.warning("stopping at once")
        }
    }

    /// Moves the shutdown along; returns `.exit` when the loop should end.
    func advanceShutdown(now: Instant) -> ShutdownPlan.Action {
        while true {
            let workLeft = plan.hasDatabaseWork || reportsLink.inFlight != nil || claimsLink.inFlight != nil
            switch plan.shutdown.advance(now: now, transfers: attempts.count, databaseWorkLeft: workLeft) {
            case .none, .stopClaiming:
                return .none
            case .abortTransfers:
                logger.info("grace period over", metadata: ["transfers": "\(attempts.count)"])
                abortTransfers()
            case .exit:
                return .exit
            }
        }
    }

    /// Abandons every transfer in flight and queues its claim for release.
    private func abortTransfers() {
        let aborted = attempts.removeAll()
        for entry in aborted {
            multi.remove(entry.transfer)
        }
        plan.release(aborted.map(\.claim.key))
    }

    /// Logs the exit and says whether anything was left behind.
    func exitSummary() -> WorkerExit {
        var unreported = plan.reports.pending.count
        var unreleased = plan.releases.count + attempts.count
        switch reportsLink.inFlight?.query {
        case .report(let outcomes)?: unreported += outcomes.count
        case .release(let claims)?: unreleased += claims.count
        default: break
        }
        logger.info("released", metadata: [LogKey.count: "\(releasedCount)"])
        guard unreported == 0, unreleased == 0 else {
            let message =
                "\(unreported) outcomes unreported and \(unreleased) claims unreleased; "
                + "those requests will be attempted again after their lease expires"
            logger.error("exited with work left", metadata: [LogKey.error: "\(message)"])
            return .incomplete(message)
        }
        logger.info("exited")
        return .clean
    }
}
