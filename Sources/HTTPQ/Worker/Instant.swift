/// The loop's clock: monotonic, so a wall-clock jump never fires or starves a timer.
typealias Instant = ContinuousClock.Instant

extension Duration {
    /// Whole milliseconds, rounded down (for timeouts, intervals in SQL and log fields).
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// The duration as fractional seconds (for configuration summaries).
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
