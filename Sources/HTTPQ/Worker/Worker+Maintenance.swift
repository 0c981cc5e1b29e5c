import Logging

/// What the worker says about maintenance: a step that changed something at info, the rest at
/// debug, and failures at warning once until a step succeeds again.
extension Worker {
    func log(_ events: [Maintenance.Event]) {
        for event in events {
            switch event {
            case .answered(let step, let recovered):
                if recovered {
                    logger.info("maintenance works again")
                }
                guard step.ran else {
                    logger.debug("maintenance skipped: another session is maintaining")
                    continue
                }
                let metadata: Logger.Metadata = [
                    "partitions_created": "\(step.partitionsCreated)",
                    "partitions_dropped": "\(step.partitionsDropped)",
                    "rows_deleted": "\(step.rowsDeleted)", "more": "\(step.more)",
                ]
                if step.changedSomething {
                    logger.info("maintained", metadata: metadata)
                } else {
                    logger.debug("maintained", metadata: metadata)
                }
            case .failed(let message, let firstOfEpisode):
                if firstOfEpisode {
                    logger.warning(
                        "maintenance failed; delivery goes on, and it is tried again in about a minute",
                        metadata: [LogKey.error: "\(message)"])
                } else {
                    logger.debug("maintenance failed again", metadata: [LogKey.error: "\(message)"])
                }
            }
        }
    }
}
