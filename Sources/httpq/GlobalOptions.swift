import ArgumentParser
import HTTPQ

/// The options of `httpq work`: where the database is (as for every command) and how to log.
///
/// Values stay strings here; `Config` reads them together with the environment, so the flag
/// and its variable are checked by the same rule and a flag always wins.
struct GlobalOptions: ParsableArguments {
    @OptionGroup var connection: DatabaseOptions

    @Option(
        name: .customLong(Setting.logLevel.flag),
        help: ArgumentHelp(
            """
            The least severe log level written: trace, debug, info, notice, warning, error or \
            critical. Also HTTPQ_LOG_LEVEL. Defaults to info, which logs starts, stops and \
            connection changes; debug adds one line per attempt.
            """, valueName: "level"))
    var logLevel: String?

    @Option(
        name: .customLong(Setting.logFormat.flag),
        help: ArgumentHelp(
            """
            How log lines are written to standard error: text, or json for one object per line. \
            Also HTTPQ_LOG_FORMAT. Defaults to text.
            """, valueName: "format"))
    var logFormat: String?

    /// The flags that were given, keyed as `Config` expects.
    var flags: [String: String] {
        var flags: [String: String] = [:]
        flags[Setting.database.flag] = connection.database
        flags[Setting.logLevel.flag] = logLevel
        flags[Setting.logFormat.flag] = logFormat
        return flags
    }
}
