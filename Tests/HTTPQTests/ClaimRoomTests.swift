import Foundation
import Testing

@testable import HTTPQ

/// What a claim may add to what the worker holds: body bytes under --in-flight-bytes, and each
/// channel's room under --channel-share.
@Suite struct ClaimRoomTests {
    private func claim(_ id: Int64, channel: String, bodyBytes: Int) throws -> ClaimedRequest {
        let body = "\\x" + String(repeating: "00", count: bodyBytes)
        return try ClaimedRequest(row: [String(id), "1", channel, "POST", "http://127.0.0.1/", "{}", body, "1000", "{}", "{}", nil, nil, nil])
    }

    @Test("Each channel's room is its share less what it holds; the bytes left bound the claim")
    func roomFollowsWhatIsHeld() throws {
        var attempts = AttemptsInFlight()
        #expect(attempts.room(bytes: 64 << 20, share: 3) == ClaimRoom(bytes: 64 << 20, perChannel: 3, channels: [:]))
        let claims = [
            try claim(1, channel: "slow", bodyBytes: 100), try claim(2, channel: "slow", bodyBytes: 100),
            try claim(3, channel: "slow", bodyBytes: 100), try claim(4, channel: "fast", bodyBytes: 10),
        ]
        let transfers = try claims.map { try Transfer(id: $0.id, request: $0.request, settings: TransferSettings()) }
        for (claim, transfer) in zip(claims, transfers) {
            attempts.insert(claim, transfer)
        }
        let room = try #require(attempts.room(bytes: 64 << 20, share: 3))
        #expect(room.channels == ["slow": 0, "fast": 2])
        #expect(room.bytes == (64 << 20) - 310)
        #expect(room.channelsJSON == #"{"fast":2,"slow":0}"#)
        #expect(attempts.finished(transfers[0])?.id == 1)
        #expect(attempts.room(bytes: 64 << 20, share: 3)?.channels == ["slow": 1, "fast": 2])
        _ = attempts.removeAll()
        #expect(attempts.room(bytes: 64 << 20, share: 3)?.channels == [:])
        #expect(attempts.bodyBytes == 0)
    }

    @Test("No claim while less than the largest body is left of the budget, unless nothing is in flight")
    func noClaimNearTheBudget() throws {
        var attempts = AttemptsInFlight()
        let transfer = try Transfer()
        // With nothing in flight a claim may take one request of any size: room is never nil.
        #expect(attempts.room(bytes: 1, share: 1)?.bytes == 1)
        attempts.insert(try claim(1, channel: "big", bodyBytes: 1 << 20), transfer)
        #expect(attempts.room(bytes: (16 << 20) + (1 << 20), share: 1) != nil)
        #expect(attempts.room(bytes: (16 << 20) + (1 << 20) - 1, share: 1) == nil)
        #expect(attempts.mayClaim(bytes: (16 << 20) + (1 << 20)))
        #expect(!attempts.mayClaim(bytes: (16 << 20) + (1 << 20) - 1))
    }
}

/// The share and the byte budget end to end, against a real server and database.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct ChannelShareTests {
    @Test("A black-holed channel holds at most its share of the slots; another channel is delivered meanwhile")
    func blackHoleKeepsItsShare() throws {
        let server = try TestHTTPServer { received in
            received.path.hasPrefix("/hole") ? TestHTTPServer.Reply(hang: true) : .status(200)
        }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let hole = try TestDatabase.channel("hole")
        let fast = try TestDatabase.channel("fast")
        // The black hole's requests come first: without a share they would take every slot.
        let holeIDs = try (0..<6).map {
            try database.enqueue(url: server.url("/hole/\($0)"), channel: hole, timeoutMilliseconds: 20000)
        }
        let fastIDs = try (0..<10).map { try database.enqueue(url: server.url("/fast/\($0)"), channel: fast) }
        let worker = try InProcessWorker(
            channels: [hole, fast],
            flags: [Setting.concurrency.flag: "4", Setting.channelShare.flag: "2", Setting.grace.flag: "0"])
        #expect(try database.waitFinished(fastIDs))
        // While the black hole's requests hang (20 s each), it has had two of the four slots.
        #expect(server.requests.filter { $0.path.hasPrefix("/hole") }.count == 2)
        let running = try database.execute(
            "SELECT count(*) FROM httpq.requests WHERE id = ANY ($1::bigint[]) AND state = 'running'",
            [DatabaseQuery.bigintArray(holeIDs)]
        ).scalar
        #expect(running == "2")
        #expect(worker.stop() != nil)
    }

    @Test("Request bodies in flight stay within --in-flight-bytes")
    func bodiesInFlightStayWithinTheBudget() throws {
        let server = try TestHTTPServer { _ in TestHTTPServer.Reply(hang: true) }
        defer { server.stop() }
        let database = try TestDatabase.connect()
        let channel = try TestDatabase.channel("bytes")
        let body = "\"" + String(repeating: "x", count: (1 << 20) - 8) + "\""  // about 1 MiB of JSON
        let ids = try (0..<40).map {
            try database.enqueue(url: server.url("/big/\($0)"), body: body, channel: channel, timeoutMilliseconds: 60_000)
        }
        let worker = try InProcessWorker(
            channels: [channel],
            flags: [
                Setting.concurrency.flag: "100", Setting.channelShare.flag: "100",
                Setting.inFlightBytes.flag: "33554432", Setting.grace.flag: "0",
            ])
        // 32 MiB of budget: claims go on while 16 MiB is left, each within what is left.
        #expect(try eventually(timeout: .seconds(10)) { server.requests.count >= 16 })
        Thread.sleep(forTimeInterval: 0.5)  // more claims would come within a few of the worker's polls
        let running = try database.execute(
            "SELECT count(*), sum(octet_length(body)) FROM httpq.request WHERE id = ANY ($1::bigint[]) AND state = 'running'",
            [DatabaseQuery.bigintArray(ids)]
        ).rows
        let count = Int((running.first?[0] ?? nil) ?? "") ?? 0
        let bytes = Int((running.first?[1] ?? nil) ?? "") ?? 0
        #expect(count >= 16 && count < 40)
        #expect(bytes <= 32 << 20)
        #expect(worker.stop() != nil)
    }
}
