/// What the worker's configuration says about every transfer, beside the request itself.
struct TransferSettings: Equatable, Sendable {
    /// How many bytes of a response body are kept (`--max-response-bytes`).
    var maxResponseBytes = 65536
    /// The proxy every transfer goes through (`--proxy`), or nil for none. The environment's
    /// `http_proxy`, `https_proxy`, `ALL_PROXY` and `NO_PROXY` are never used either way.
    var proxy: String?
    /// With `lowSpeedTime`, when a transfer counts as stalled (`--low-speed-limit`): fewer
    /// than this many bytes per second.
    var lowSpeedLimit = 1
    /// How many seconds in a row a transfer may stay under `lowSpeedLimit` (`--low-speed-time`);
    /// 0 turns the rule off.
    var lowSpeedTime = 60
}
