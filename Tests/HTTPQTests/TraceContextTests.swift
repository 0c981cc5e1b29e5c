import Foundation
import Testing

@testable import HTTPQ

/// A request's W3C trace context reaches its receiver: a real worker sends the traceparent and
/// tracestate that enqueue was given, or that the enqueuing transaction had set, unchanged.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct TraceContextTests {
    static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    static let sessionTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"

    @Test("The receiver gets the exact traceparent and tracestate given to enqueue, or set for the transaction")
    func receiverGetsTheTraceContext() throws {
        let server = try TestHTTPServer { _ in .status(200) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("trace")

        let given = try #require(
            try database.execute(
                "SELECT httpq.enqueue(url => $1, body => '{}', channel => $2, traceparent => $3, tracestate => $4)",
                [server.url("/given"), channel, Self.traceparent, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"]
            ).scalar.flatMap { Int64($0) })
        // The session settings, as an app's tracing middleware would set them once per transaction.
        _ = try database.execute("BEGIN")
        _ = try database.execute("SELECT set_config('httpq.traceparent', $1, true)", [Self.sessionTraceparent])
        _ = try database.execute("SELECT set_config('httpq.tracestate', 'vendor=opaque-1', true)")
        let session = try database.enqueue(url: server.url("/session"), channel: channel)
        _ = try database.execute("COMMIT")
        let untraced = try database.enqueue(url: server.url("/untraced"), channel: channel)

        let worker = try InProcessWorker(channels: [channel])
        #expect(try database.waitFinished([given, session, untraced]))
        #expect(worker.stop() == .clean)
        #expect(try database.states([given, session, untraced]).values.allSatisfy { $0 == "delivered" })

        let sent = try #require(server.requests("/given").first)
        #expect(sent.headers["traceparent"] == Self.traceparent)
        #expect(sent.headers["tracestate"] == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        let fromSession = try #require(server.requests("/session").first)
        #expect(fromSession.headers["traceparent"] == Self.sessionTraceparent)
        #expect(fromSession.headers["tracestate"] == "vendor=opaque-1")
        let plain = try #require(server.requests("/untraced").first)
        #expect(plain.headers["traceparent"] == nil)
        #expect(plain.headers["tracestate"] == nil)
    }
}
