/// One statement the worker sends, as a value: the loop keeps at most one in flight and picks
/// the next from `WorkerPlan` when the connection is idle.
enum DatabaseQuery: Equatable, Sendable {
    /// `LISTEN httpq`, first on every new connection.
    case listen
    /// `httpq.claim` for at most `count` requests.
    case claim(count: Int)
    /// `httpq.report` for finished attempts.
    case report([Outcome])
    /// `httpq.heartbeat`, extending the leases of `ids`.
    case heartbeat([Int64])
    /// `httpq.release`, handing `ids` back unattempted.
    case release([Int64])
    /// `httpq.next_run_at`, as seconds from now.
    case schedule
    /// `httpq.purge`, dropping finished requests past their retention.
    case purge

    /// The NOTIFY channel enqueue signals on.
    static let notifyChannel = "httpq"

    /// The SQL text and its text-format parameters.
    func statement(_ identity: WorkerIdentity) -> (sql: String, parameters: [String?]) {
        switch self {
        case .listen:
            return ("LISTEN \(Self.notifyChannel)", [])
        case .claim(let count):
            return (
                "SELECT id, attempt, channel, method, url, headers, body, timeout_ms FROM httpq.claim("
                    + "worker => $1, max_count => $2::int, channels => $3::text[], lease => $4::interval)",
                [identity.worker, String(count), identity.channelsArray, identity.leaseInterval]
            )
        case .report(let outcomes):
            return (
                "SELECT httpq.report(worker => $1, outcomes => $2::jsonb)",
                [identity.worker, Outcome.jsonArray(outcomes)]
            )
        case .heartbeat(let ids):
            return (
                "SELECT httpq.heartbeat(worker => $1, ids => $2::bigint[], lease => $3::interval)",
                [identity.worker, Self.bigintArray(ids), identity.leaseInterval]
            )
        case .release(let ids):
            return (
                "SELECT httpq.release(worker => $1, ids => $2::bigint[])",
                [identity.worker, Self.bigintArray(ids)]
            )
        case .schedule:
            return (
                "SELECT extract(epoch FROM httpq.next_run_at(channels => $1::text[]) - now())::float8",
                [identity.channelsArray]
            )
        case .purge:
            return ("SELECT httpq.purge()", [])
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
        case .purge: return "purge"
        }
    }

    static func bigintArray(_ ids: [Int64]) -> String {
        "{" + ids.map(String.init).joined(separator: ",") + "}"
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
