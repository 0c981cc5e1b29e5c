/// Finished transfers kept for the next requests, so an easy handle (with its buffers and
/// per-handle caches) is made once per slot rather than once per request.
///
/// Holds at most `limit` idle transfers: the most that can be in flight at once.
/// Not thread-safe: used only by the worker loop.
struct TransferPool {
    let limit: Int
    private var idle: [Transfer] = []

    init(limit: Int) {
        self.limit = limit
    }

    /// A transfer set up for `request`, reused when one is idle.
    mutating func take(id: Int64, request: HTTPRequest, settings: TransferSettings) throws(CurlError) -> Transfer {
        let transfer: Transfer
        if let spare = idle.popLast() {
            transfer = spare
        } else {
            transfer = try Transfer()
        }
        do {
            try transfer.prepare(id: id, request: request, settings: settings)
        } catch {
            recycle(transfer)
            throw error
        }
        return transfer
    }

    /// Takes back a transfer that is out of the multi stack.
    mutating func recycle(_ transfer: Transfer) {
        if idle.count < limit { idle.append(transfer) }
    }
}
