@testable import HTTPQ

/// Sends requests one at a time through one multi stack, so through one connection pool, as
/// the worker does but without a worker or a database.
final class DirectTransfer {
    private let multi: Multi
    let settings: TransferSettings

    init(settings: TransferSettings = TransferSettings()) throws {
        multi = try Multi(idleConnections: 4)
        self.settings = settings
    }

    /// A GET of `url` in channel `hooks`, allowed to reach `allowedNetworks`.
    static func request(_ url: String, allowing allowedNetworks: [String] = [], timeoutMilliseconds: Int = 10_000)
        throws -> HTTPRequest
    {
        HTTPRequest(
            method: "GET", url: url, headers: [], body: nil, timeoutMilliseconds: timeoutMilliseconds,
            addressPolicy: AddressPolicy(channel: "hooks", allowedNetworks: try allowedNetworks.map(IPNetwork.init)))
    }

    /// Sends `request` and waits for its result.
    func send(_ request: HTTPRequest, timeout: Duration = .seconds(30)) throws -> HTTPResult {
        let transfer = try Transfer(id: 1, request: request, settings: settings)
        try multi.add(transfer)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            _ = try multi.wait(on: [], timeoutMilliseconds: 100)
            if let (_, result) = try multi.perform().first { return result }
        }
        multi.remove(transfer)
        throw TestFailure("\(request.url) did not finish within \(timeout)")
    }
}
