/// One statement the worker sends, as a value: the loop keeps at most one in flight per
/// connection and picks the next from `WorkerPlan` (or `MaintenancePlan`) when it is idle.
enum DatabaseQuery: Equatable, Sendable {
    /// `LISTEN httpq`, first on every new connection.
    case listen
    /// `httpq.claim` for at most `count` requests, within `room` (nil: no bound but the count).
    case claim(count: Int, room: ClaimRoom? = nil)
    /// `httpq.report` for finished attempts.
    case report([Outcome])
    /// `httpq.heartbeat`, extending the leases of exactly these claims.
    case heartbeat([ClaimKey])
    /// `httpq.release`, handing exactly these claims back unattempted.
    case release([ClaimKey])
    /// `httpq.next_run_at`, as seconds from now.
    case schedule
    /// `httpq.idle`: mark the session's worker idle, so enqueues notify it.
    case idle
    /// `httpq.busy`: end the idle mark.
    case busy
    /// `httpq.maintain`: one bounded step of partitioning and retention, sent only on the
    /// maintenance connection, never on the one that claims and reports.
    case maintain
    /// `SET statement_timeout` for the rest of the session, first on the maintenance connection.
    case statementTimeout(Duration)
    /// The worker's channels' figures for the queue gauges: from `httpq.queue_stats`, or
    /// (`current` false) from `httpq.stats` on a database from before it.
    case queueStats(current: Bool)

    /// The NOTIFY channel enqueue signals on.
    static let notifyChannel = "httpq"

    /// The SQL text and its text-format parameters.
    func statement(_ identity: WorkerIdentity) -> (sql: String, parameters: [String?]) {
        switch self {
        case .listen:
            return ("LISTEN \(Self.notifyChannel)", [])
        case .claim(let count, let room):
            return (
                "SELECT id, attempt, channel, method, url, headers, body, timeout_ms, allowed_networks, signing_keys, secrets, "
                    + "aws_sigv4, aws_credentials "
                    + "FROM httpq.claim("
                    + "worker => $1, max_count => $2::int, channels => $3::text[], lease => $4::interval, "
                    + "max_bytes => $5::bigint, per_channel => $6::int, channel_room => $7::jsonb)",
                [
                    identity.worker, String(count), identity.channelsArray, identity.leaseInterval,
                    room.map { String($0.bytes) }, room.map { String($0.perChannel) }, room?.channelsJSON,
                ]
            )
        case .report(let outcomes):
            return (
                "SELECT httpq.report(worker => $1, outcomes => $2::jsonb)",
                [identity.worker, Outcome.jsonArray(outcomes)]
            )
        case .heartbeat(let claims):
            let (ids, attempts) = Self.claimArrays(claims)
            return (
                "SELECT httpq.heartbeat(worker => $1, ids => $2::bigint[], attempts => $3::int[], "
                    + "lease => $4::interval)",
                [identity.worker, ids, attempts, identity.leaseInterval]
            )
        case .release(let claims):
            let (ids, attempts) = Self.claimArrays(claims)
            return (
                "SELECT httpq.release(worker => $1, ids => $2::bigint[], attempts => $3::int[])",
                [identity.worker, ids, attempts]
            )
        case .idle:
            return ("SELECT httpq.idle()", [])
        case .busy:
            return ("SELECT httpq.busy()", [])
        case .schedule:
            return (
                "SELECT extract(epoch FROM httpq.next_run_at(channels => $1::text[]) - now())::float8",
                [identity.channelsArray]
            )
        case .maintain:
            // Unpacked here, in the column order `MaintenanceStep` reads, so no JSON is parsed.
            return (
                "SELECT (m ->> 'ran')::boolean, coalesce((m ->> 'more')::boolean, false), "
                    + "coalesce((m ->> 'partitions_created')::int, 0), coalesce((m ->> 'partitions_dropped')::int, 0), "
                    + "coalesce((m ->> 'rows_deleted')::bigint, 0) FROM httpq.maintain() AS m",
                []
            )
        case .statementTimeout(let timeout):
            // SET takes no parameters; the value is a number this process made.
            return ("SET statement_timeout = '\(timeout.milliseconds)ms'", [])
        case .queueStats(let current):
            // In the column order `QueueStatsRow` reads. httpq.queue_stats, which a worker
            // role may call; a database before it has only httpq.stats, without the breaker.
            return (
                current
                    ? "SELECT channel, paused, waiting, running, "
                        + "coalesce(extract(epoch FROM oldest_waiting_age), 0)::float8, breaker_state "
                        + "FROM httpq.queue_stats($1::text[])"
                    : "SELECT channel, paused, waiting, running, "
                        + "coalesce(extract(epoch FROM oldest_waiting_age), 0)::float8, NULL::text "
                        + "FROM httpq.stats WHERE $1::text[] IS NULL OR channel = ANY ($1::text[])",
                [identity.channelsArray]
            )
        }
    }

    /// A short name for logs.
    var name: String {
        switch self {
        case .listen: return "listen"
        case .claim: return "claim"
        case .report: return "report"
        case .heartbeat: return "heartbeat"
        case .release: return "release"
        case .schedule: return "next_run_at"
        case .idle: return "idle"
        case .busy: return "busy"
        case .maintain: return "maintain"
        case .statementTimeout: return "statement_timeout"
        case .queueStats: return "queue_stats"
        }
    }

    static func bigintArray(_ ids: [Int64]) -> String {
        "{" + ids.map(String.init).joined(separator: ",") + "}"
    }

    /// The claims as two arrays in the same order, `bigint[]` ids and `int[]` attempts, which
    /// the database zips back into pairs.
    static func claimArrays(_ claims: [ClaimKey]) -> (ids: String, attempts: String) {
        (bigintArray(claims.map(\.id)), "{" + claims.map { String($0.attempt) }.joined(separator: ",") + "}")
    }
}

/// What every statement says about the worker itself, fixed for its lifetime.
struct WorkerIdentity: Sendable {
    /// The worker id claims are made under (fencing: only this worker may report them).
    var worker: String
    /// The channels as a `text[]` literal, or nil for all channels.
    var channelsArray: String?
    /// The lease as an interval literal.
    var leaseInterval: String

    init(worker: String, channels: [String]?, lease: Duration) {
        self.worker = worker
        self.channelsArray = channels.map { names in
            // Quote every element so commas, braces and spaces in names survive.
            "{" + names.map { "\"" + $0.replacingBackslashesAndQuotes() + "\"" }.joined(separator: ",") + "}"
        }
        self.leaseInterval = "\(lease.milliseconds) milliseconds"
    }
}

extension String {
    fileprivate func replacingBackslashesAndQuotes() -> String {
        var output = ""
        for character in self {
            if character == "\\" || character == "\"" { output.append("\\") }
            output.append(character)
        }
        return output
    }
}
