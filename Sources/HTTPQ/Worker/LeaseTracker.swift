/// Tracks when each held claim's lease was last set, and which need extending: those older
/// than half the lease, so a heartbeat lands well before expiry even if the database is slow.
///
/// Claims are keyed by (id, attempt): a request claimed again while an older attempt of it is
/// still held is a second entry, and forgetting one never touches the other.
///
/// Times are those at which the claim or heartbeat was *sent*, never later than the server's
/// own `now()` for it, so the tracker errs towards extending early.
struct LeaseTracker {
    /// How long a claim or heartbeat holds a request.
    let lease: Duration
    private var renewedAt: [ClaimKey: Instant] = [:]
    /// The earliest of `renewedAt`, kept exact so the loop can ask every turn without a scan
    /// of every lease; rescanned only when the entry holding it changes.
    private var earliest: Instant?

    init(lease: Duration) {
        self.lease = lease
    }

    /// Claims (or heartbeats) for `claims` were sent at `sentAt` and succeeded.
    mutating func renewed(_ claims: [ClaimKey], sentAt: Instant) {
        var movedEarliest = false
        for claim in claims {
            if let old = renewedAt.updateValue(sentAt, forKey: claim), old == earliest, sentAt != old {
                movedEarliest = true
            }
        }
        if movedEarliest {
            earliest = renewedAt.values.min()
        } else if !claims.isEmpty {
            earliest = min(earliest ?? sentAt, sentAt)
        }
    }

    /// A heartbeat for `claims`, sent at `sentAt`, succeeded. Only claims still held are
    /// renewed: one reported or given up meanwhile stays forgotten.
    mutating func extended(_ claims: [ClaimKey], sentAt: Instant) {
        renewed(claims.filter { renewedAt[$0] != nil }, sentAt: sentAt)
    }

    /// The claims are reported, released or given up: their leases no longer matter.
    mutating func forget(_ claims: [ClaimKey]) {
        var removedEarliest = false
        for claim in claims {
            if let old = renewedAt.removeValue(forKey: claim), old == earliest {
                removedEarliest = true
            }
        }
        if removedEarliest {
            earliest = renewedAt.values.min()
        }
    }

    /// The claims whose lease should be extended now, in (id, attempt) order.
    func due(now: Instant) -> [ClaimKey] {
        guard let deadline, now >= deadline else { return [] }
        return renewedAt.filter { now >= $0.value + lease / 2 }.map(\.key).sorted()
    }

    /// When the next lease falls due for extension.
    var deadline: Instant? {
        earliest.map { $0 + lease / 2 }
    }
}
