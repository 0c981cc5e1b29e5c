import Foundation
import Testing

@testable import HTTPQ

/// One request taken from enqueue to its end by an in-process worker, against a server that
/// answers with `script`: the common shape of the delivery tests.
struct OneDelivery {
    let id: Int64
    let row: RequestRow
    /// What the server received, in order.
    let received: [TestHTTPServer.Received]
    let database: Connection

    /// Enqueues a JSON POST to `path` (or to `url` when given) in a fresh channel with quick
    /// retries, runs a worker until the request has finished, and stops the worker.
    init(
        path: String = "/hook", url: String? = nil, body: String = #"{"hello":"world"}"#, maxAttempts: Int? = nil,
        timeoutMilliseconds: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation,
        script: @escaping TestHTTPServer.Script
    ) throws {
        let server = try TestHTTPServer(script: script)
        defer { server.stop() }
        database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("one")
        try database.fastRetries(channel)
        id = try database.enqueue(
            url: url ?? server.url(path), body: body, channel: channel, maxAttempts: maxAttempts,
            timeoutMilliseconds: timeoutMilliseconds)
        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([id]), sourceLocation: sourceLocation)
        #expect(worker.stop() == .clean, sourceLocation: sourceLocation)
        row = try database.request(id)
        received = server.requests
    }
}
