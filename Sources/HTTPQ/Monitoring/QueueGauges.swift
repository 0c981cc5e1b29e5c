import CoreMetrics

/// The gauges of one channel's row of `httpq.queue_stats`: what waits and runs, how long the oldest
/// has waited, whether the channel is paused, and its breaker's state.
struct QueueGauges {
    private let waiting: Gauge
    private let running: Gauge
    private let oldestWaitingAge: Gauge
    private let paused: Gauge
    /// Made on the first row that has a breaker state, so a database without breakers shows
    /// none rather than a closed one.
    private var breakerState: Gauge?
    private let channel: String
    private let factory: any MetricsFactory

    init(channel: String, factory: any MetricsFactory) {
        self.channel = channel
        self.factory = factory
        func gauge(_ label: String) -> Gauge {
            Gauge(label: label, dimensions: [("channel", channel)], factory: factory)
        }
        waiting = gauge("httpq_queue_waiting_requests")
        running = gauge("httpq_queue_running_requests")
        oldestWaitingAge = gauge("httpq_queue_oldest_waiting_age_seconds")
        paused = gauge("httpq_channel_paused")
    }

    mutating func record(_ row: QueueStatsRow) {
        waiting.record(row.waiting)
        running.record(row.running)
        oldestWaitingAge.record(row.oldestWaitingAge)
        paused.record(row.paused ? 1 : 0)
        if let state = row.breakerState {
            if breakerState == nil {
                breakerState = Gauge(
                    label: "httpq_channel_breaker_state", dimensions: [("channel", channel)], factory: factory)
            }
            breakerState?.record(state)
        }
    }

    /// The channel is gone: its series go with it.
    func destroy() {
        for gauge in [waiting, running, oldestWaitingAge, paused, breakerState].compactMap({ $0 }) { gauge.destroy() }
    }
}
