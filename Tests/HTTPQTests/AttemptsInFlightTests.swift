import Testing

@testable import HTTPQ

@Suite struct AttemptsInFlightTests {
    func claim(_ id: Int64, _ attempt: Int) throws -> ClaimedRequest {
        // id, attempt, channel, method, url, headers, body, timeout_ms
        try ClaimedRequest(row: ["\(id)", "\(attempt)", "c", "GET", "http://127.0.0.1/", nil, nil, "1000", "{}", "{}", nil, nil, nil])
    }

    @Test("A newer attempt of a request supersedes the older one still in flight; a finished transfer finds its claim")
    func supersedes() throws {
        var attempts = AttemptsInFlight()
        let old = try Transfer(id: 5, request: try claim(5, 3).request, settings: TransferSettings())
        let other = try Transfer(id: 6, request: try claim(6, 1).request, settings: TransferSettings())
        attempts.insert(try claim(5, 3), old)
        attempts.insert(try claim(6, 1), other)
        #expect(attempts.supersede(by: key(6, 1)) == nil)  // the same claim: nothing older
        let stale = attempts.supersede(by: key(5, 4))
        #expect(stale?.claim.key == key(5, 3))
        #expect(stale?.transfer === old)
        #expect(attempts.count == 1)
        #expect(attempts.finished(old) == nil)  // superseded: its outcome is not wanted
        let new = try Transfer(id: 5, request: try claim(5, 4).request, settings: TransferSettings())
        attempts.insert(try claim(5, 4), new)
        #expect(attempts.finished(new)?.key == key(5, 4))
        #expect(attempts.removeAll().map(\.claim.key) == [key(6, 1)])
        #expect(attempts.count == 0)
    }
}
