/// A descriptor that becomes readable when someone asks the worker to stop: a signal, or a
/// programmatic request. Each request counts as one signal (the second one hurries the stop).
protocol StopSource: AnyObject {
    /// The descriptor to wait on for reading.
    var fd: Int32 { get }
    /// Reads every pending request without blocking; returns how many there were.
    func drain() -> Int
}
