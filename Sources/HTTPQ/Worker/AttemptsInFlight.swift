/// The transfers in flight, each with the claim it carries out, keyed by (id, attempt).
///
/// At most one per request: when a request is claimed again while an older attempt of it still
/// runs (its lease lapsed while the database was out of reach, so that attempt's outcome can no
/// longer be applied), the older one is superseded. Two transfers for one request would also
/// miscount the free slots.
///
/// Not thread-safe: used only by the worker loop.
struct AttemptsInFlight {
    struct Entry {
        var claim: ClaimedRequest
        var transfer: Transfer
    }

    private var entries: [ClaimKey: Entry] = [:]
    /// The claim in flight for each request, so a finished transfer (which knows only its
    /// request) and a newer claim find it without a scan.
    private var claimOfRequest: [Int64: ClaimKey] = [:]
    /// How many are in flight per channel, and their request bodies' bytes: what the next
    /// claim must leave room for (`room`).
    private var perChannel: [String: Int] = [:]
    private(set) var bodyBytes = 0

    var count: Int { entries.count }

    /// The room for the next claim, under a budget of `bytes` of request bodies in flight and
    /// `share` requests per channel; nil while requests are in flight and less than the
    /// largest body is left. (A claim always takes its first request, whatever its size: the
    /// room left then holds it, and the bodies in flight stay within the budget.)
    func room(bytes: Int, share: Int) -> ClaimRoom? {
        guard mayClaim(bytes: bytes) else { return nil }
        return ClaimRoom(
            bytes: max(bytes - bodyBytes, 1), perChannel: share, channels: perChannel.mapValues { max(share - $0, 0) })
    }

    /// Whether a claim may be made under a budget of `bytes`: `room`'s test alone, cheap
    /// enough for every turn of the worker loop.
    func mayClaim(bytes: Int) -> Bool {
        bytes - bodyBytes >= ClaimRoom.largestBody || entries.isEmpty
    }

    /// How many of `channel`'s requests are in flight.
    func count(of channel: String) -> Int {
        perChannel[channel] ?? 0
    }

    private mutating func added(_ claim: ClaimedRequest) {
        perChannel[claim.channel, default: 0] += 1
        bodyBytes += claim.request.body?.count ?? 0
    }

    private mutating func removed(_ claim: ClaimedRequest) {
        let left = (perChannel[claim.channel] ?? 1) - 1
        perChannel[claim.channel] = left > 0 ? left : nil
        bodyBytes -= claim.request.body?.count ?? 0
    }

    /// Removes and returns the older attempt of `claim`'s request still in flight, if any.
    mutating func supersede(by claim: ClaimKey) -> Entry? {
        guard let older = claimOfRequest[claim.id], older != claim else { return nil }
        claimOfRequest[claim.id] = nil
        guard let entry = entries.removeValue(forKey: older) else { return nil }
        removed(entry.claim)
        return entry
    }

    /// `transfer` now carries out `claim`.
    mutating func insert(_ claim: ClaimedRequest, _ transfer: Transfer) {
        entries[claim.key] = Entry(claim: claim, transfer: transfer)
        claimOfRequest[claim.id] = claim.key
        added(claim)
    }

    /// Removes and returns the claim `transfer` carried out, now that libcurl finished it;
    /// nil when it no longer carries one.
    mutating func finished(_ transfer: Transfer) -> ClaimedRequest? {
        guard let key = claimOfRequest[transfer.id], entries[key]?.transfer === transfer else { return nil }
        claimOfRequest[transfer.id] = nil
        guard let claim = entries.removeValue(forKey: key)?.claim else { return nil }
        removed(claim)
        return claim
    }

    /// Removes and returns every entry, in (id, attempt) order.
    mutating func removeAll() -> [Entry] {
        defer {
            entries = [:]
            claimOfRequest = [:]
            perChannel = [:]
            bodyBytes = 0
        }
        return entries.sorted { $0.key < $1.key }.map(\.value)
    }
}

@available(*, unavailable)
extension AttemptsInFlight: Sendable {}
