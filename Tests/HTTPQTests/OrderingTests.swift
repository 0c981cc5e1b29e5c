import Foundation
import Testing

@testable import HTTPQ

@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct OrderingTests {
    @Test("Two workers keep the order of each ordering key, retries included")
    func perKeyOrderWithTwoWorkers() throws {
        // Paths are /order/<key>/<sequence>; every third request fails once with a 503.
        let server = try TestHTTPServer { request in
            let sequence = Int(request.path.split(separator: "/").last ?? "") ?? 0
            var reply = sequence % 3 == 1 && request.index == 0 ? TestHTTPServer.Reply.status(503) : .status(200)
            reply.delay = .milliseconds(Int64.random(in: 0...20))
            return reply
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("order")
        try database.fastRetries(channel)
        let keys = ["a", "b", "c"]
        var ids: [Int64] = []
        for sequence in 0..<8 {
            for key in keys {
                ids.append(
                    try database.enqueue(
                        url: server.url("/order/\(key)/\(sequence)"), channel: channel,
                        orderingKey: key))
            }
        }
        let first = try InProcessWorker(channels: [channel], flags: [Setting.batch.flag: "2"])
        let second = try InProcessWorker(channels: [channel], flags: [Setting.batch.flag: "2"])
        #expect(try database.waitFinished(ids, timeout: .seconds(30)))
        #expect(first.stop() == .clean)
        #expect(second.stop() == .clean)

        #expect(try database.states(ids).values.allSatisfy { $0 == "delivered" })
        for key in keys {
            let sequences = server.requests.filter { $0.path.hasPrefix("/order/\(key)/") }
                .map { Int($0.path.split(separator: "/").last!)! }
            // Arrival order per key never goes back: each request is sent only after the one
            // before it was delivered (a retry repeats the same number).
            #expect(sequences == sequences.sorted(), "key \(key): \(sequences)")
            #expect(Set(sequences) == Set(0..<8))
        }
    }
}
