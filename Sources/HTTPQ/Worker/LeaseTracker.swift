/// Tracks when each held claim's lease was last set, and which need extending: those older
/// than half the lease, so a heartbeat lands well before expiry even if the database is slow.
///
/// Times are those at which the claim or heartbeat was *sent*, never later than the server's
/// own `now()` for it, so the tracker errs towards extending early.
struct LeaseTracker {
    /// How long a claim or heartbeat holds a request.
    let lease: Duration
    private var renewedAt: [Int64: Instant] = [:]
    /// The earliest of `renewedAt`, kept exact so the loop can ask every turn without a scan
    /// of every lease; rescanned only when the entry holding it changes.
    private var earliest: Instant?

    init(lease: Duration) {
        self.lease = lease
    }

    /// The ids held, claimed and not yet reported or released.
    var held: Dictionary<Int64, Instant>.Keys { renewedAt.keys }

    /// Claims (or heartbeats) for `ids` were sent at `sentAt` and succeeded.
    mutating func renewed(_ ids: [Int64], sentAt: Instant) {
        var movedEarliest = false
        for id in ids {
            if let old = renewedAt.updateValue(sentAt, forKey: id), old == earliest, sentAt != old {
                movedEarliest = true
            }
        }
        if movedEarliest {
            earliest = renewedAt.values.min()
        } else if !ids.isEmpty {
            earliest = min(earliest ?? sentAt, sentAt)
        }
    }

    /// The requests are reported or released: their leases no longer matter.
    mutating func forget(_ ids: [Int64]) {
        var removedEarliest = false
        for id in ids {
            if let old = renewedAt.removeValue(forKey: id), old == earliest {
                removedEarliest = true
            }
        }
        if removedEarliest {
            earliest = renewedAt.values.min()
        }
    }

    /// The ids whose lease should be extended now, in id order.
    func due(now: Instant) -> [Int64] {
        guard let deadline, now >= deadline else { return [] }
        return renewedAt.filter { now >= $0.value + lease / 2 }.map(\.key).sorted()
    }

    /// When the next lease falls due for extension.
    var deadline: Instant? {
        earliest.map { $0 + lease / 2 }
    }
}
