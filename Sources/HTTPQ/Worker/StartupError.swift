/// Why the worker could not start, as one line naming what is wrong and how to fix it.
public enum StartupError: Error, CustomStringConvertible {
    case unreachable(String)
    case extensionMissing(database: String)
    case functionsMissing(database: String, names: [String])
    case notPermitted(database: String, names: [String])
    case system(String)

    public var description: String {
        switch self {
        case .unreachable(let message):
            return "cannot connect to the database: \(message). Set --database or DATABASE_URL "
                + "(or the PG* variables) to a reachable server."
        case .extensionMissing(let database):
            return "the httpq extension is not installed in database \(database). "
                + "Run `httpq install` or `CREATE EXTENSION httpq` there, or point --database at the right database."
        case .functionsMissing(let database, let names):
            return "database \(database) has an httpq schema without "
                + names.map { "httpq.\($0)" }.joined(separator: ", ")
                + ". Upgrade httpq there to the version this worker needs: `httpq install` (see Upgrading in the README)."
        case .notPermitted(let database, let names):
            return "the database user may not run " + names.map { "httpq.\($0)" }.joined(separator: ", ")
                + " in database \(database). GRANT EXECUTE on them to the worker's role."
        case .system(let message):
            return "cannot start: \(message)"
        }
    }
}
