/// What one call of `httpq.maintain` did, read from the row of the `.maintain` statement:
/// ran, more, partitions_created, partitions_dropped, rows_deleted.
struct MaintenanceStep: Equatable, Sendable {
    /// False when another session was maintaining (the advisory lock was taken): nothing was done.
    var ran: Bool
    /// Whether a step stopped at its bound with work left, so another should follow at once.
    var more: Bool
    var partitionsCreated: Int
    var partitionsDropped: Int
    var rowsDeleted: Int64

    /// Whether the step changed anything worth an info line (partitions made or dropped, rows deleted).
    var changedSomething: Bool {
        partitionsCreated > 0 || partitionsDropped > 0 || rowsDeleted > 0
    }

    /// Reads the statement's one row; nil when it is not the shape the statement promises.
    init?(row: [String?]) {
        guard row.count == 5, let ran = row[0], let more = row[1], let created = row[2].flatMap({ Int($0) }),
            let dropped = row[3].flatMap({ Int($0) }), let deleted = row[4].flatMap({ Int64($0) })
        else {
            return nil
        }
        self.ran = ran == "t"
        self.more = more == "t"
        partitionsCreated = created
        partitionsDropped = dropped
        rowsDeleted = deleted
    }

    init(ran: Bool, more: Bool = false, partitionsCreated: Int = 0, partitionsDropped: Int = 0, rowsDeleted: Int64 = 0)
    {
        self.ran = ran
        self.more = more
        self.partitionsCreated = partitionsCreated
        self.partitionsDropped = partitionsDropped
        self.rowsDeleted = rowsDeleted
    }
}
