/// One channel's row of `httpq.queue_stats`, as the worker reads it for its queue gauges.
struct QueueStatsRow: Equatable {
    var channel: String
    var paused: Bool
    var waiting: Int
    var running: Int
    /// How long the oldest waiting request has waited, in seconds; 0 when none waits.
    var oldestWaitingAge: Double
    /// 0 closed, 1 open, 2 half-open; nil when the database has no breaker state.
    var breakerState: Int?

    /// Reads a row in the column order of `DatabaseQuery.queueStats`; nil for a row it cannot read.
    init?(row: [String?]) {
        guard row.count == 6, let channel = row[0], let paused = row[1],
            let waiting = row[2].flatMap({ Int($0) }), let running = row[3].flatMap({ Int($0) }),
            let age = row[4].flatMap({ Double($0) })
        else { return nil }
        self.init(
            channel: channel, paused: paused == "t", waiting: waiting, running: running, oldestWaitingAge: age,
            breakerState: row[5].flatMap(Self.breakerState))
    }

    init(
        channel: String, paused: Bool, waiting: Int, running: Int, oldestWaitingAge: Double, breakerState: Int? = nil
    ) {
        self.channel = channel
        self.paused = paused
        self.waiting = waiting
        self.running = running
        self.oldestWaitingAge = oldestWaitingAge
        self.breakerState = breakerState
    }

    /// The gauge's number for a state `httpq.queue_stats` names.
    static func breakerState(_ name: String) -> Int? {
        switch name {
        case "closed": return 0
        case "open": return 1
        case "half_open", "half-open": return 2
        default: return nil
        }
    }
}
