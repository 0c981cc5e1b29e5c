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

    var count: Int { entries.count }

    /// Removes and returns the older attempt of `claim`'s request still in flight, if any.
    mutating func supersede(by claim: ClaimKey) -> Entry? {
        guard let older = claimOfRequest[claim.id], older != claim else { return nil }
        claimOfRequest[claim.id] = nil
        return entries.removeValue(forKey: older)
    }

    /// `transfer` now carries out `claim`.
    mutating func insert(_ claim: ClaimedRequest, _ transfer: Transfer) {
        entries[claim.key] = Entry(claim: claim, transfer: transfer)
        claimOfRequest[claim.id] = claim.key
    }

    /// Removes and returns the claim `transfer` carried out, now that libcurl finished it;
    /// nil when it no longer carries one.
    mutating func finished(_ transfer: Transfer) -> ClaimedRequest? {
        guard let key = claimOfRequest[transfer.id], entries[key]?.transfer === transfer else { return nil }
        claimOfRequest[transfer.id] = nil
        return entries.removeValue(forKey: key)?.claim
    }

    /// Removes and returns every entry, in (id, attempt) order.
    mutating func removeAll() -> [Entry] {
        defer {
            entries = [:]
            claimOfRequest = [:]
        }
        return entries.sorted { $0.key < $1.key }.map(\.value)
    }
}

@available(*, unavailable)
extension AttemptsInFlight: Sendable {}
