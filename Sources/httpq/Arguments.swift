import ArgumentParser

/// A request id from the command line, checked before anything is sent to the database.
struct RequestID {
    let value: Int64

    /// Reads `text`, or ends the command with one line saying what an id looks like.
    init(_ text: String) throws {
        guard let value = Int64(text), value > 0 else {
            throw Failure.exit("invalid request id \"\(text)\": must be a whole number such as 42, "
                                   + "as httpq enqueue printed it", Failure.configuration)
        }
        self.value = value
    }

    /// The id as a text parameter for `$n::bigint`.
    var parameter: String { String(value) }
}

/// A time from the command line: a timestamp Postgres reads (`2025-06-01 12:00+02`,
/// `2025-06-01T10:00:00Z`, `tomorrow`), or an interval from now when it starts with + or -
/// (`+10 minutes`, `-1 day`, `-2h`).
struct TimeArgument: ExpressibleByArgument {
    let text: String

    init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        text = argument
    }

    /// The SQL for the value of parameter `placeholder`. The choice of expression is made
    /// here, not by a CASE in SQL, where the planner would fold both casts of the constant.
    func sql(_ placeholder: String) -> String {
        text.hasPrefix("+") || text.hasPrefix("-")
            ? "now() + \(placeholder)::interval"
            : "\(placeholder)::timestamptz"
    }

    static let help = """
        A timestamp such as "2025-06-01 12:00:00+02", or a time relative to now such as \
        "+10 minutes" or "-1 day".
        """
}

/// A call of an httpq SQL function in named notation, each value a text parameter. An
/// argument left out takes the function's own default.
struct FunctionCall {
    let function: String
    private var arguments: [String] = []
    private(set) var parameters: [String?] = []

    init(_ function: String) {
        self.function = function
    }

    /// Adds `name => <sql>` when `value` is given, where `sql` is the SQL for the value with
    /// `$` standing for its parameter (for example `$::jsonb`).
    mutating func add(_ name: String, _ value: String?, sql: String = "$") {
        guard let value else { return }
        parameters.append(value)
        let placeholder = "$\(parameters.count)"
        arguments.append("\(name) => " + sql.replacingFirstDollar(with: placeholder))
    }

    /// Adds `name => NULL`, overriding the function's default.
    mutating func addNull(_ name: String) {
        arguments.append("\(name) => NULL")
    }

    /// Adds a time argument (see `TimeArgument`).
    mutating func add(_ name: String, _ time: TimeArgument?) {
        guard let time else { return }
        add(name, time.text, sql: time.sql("$"))
    }

    /// `SELECT httpq.<function>(...)`.
    var statement: String {
        "SELECT httpq.\(function)(" + arguments.joined(separator: ", ") + ")"
    }
}

extension String {
    fileprivate func replacingFirstDollar(with replacement: String) -> String {
        guard let index = firstIndex(of: "$") else { return self }
        return self[..<index] + replacement + self[self.index(after: index)...]
    }
}
