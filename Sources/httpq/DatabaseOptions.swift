import ArgumentParser
import HTTPQ

/// The option of commands that run a few statements and exit: where the database is. (They
/// log nothing, so they take no log options.)
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong(Setting.database.flag), help: ArgumentHelp("""
        The database, as a postgres:// URL or a key=value connection string. Also \
        DATABASE_URL. When neither is set, libpq's PGHOST, PGPORT, PGUSER, PGDATABASE and \
        PGPASSWORD variables apply.
        """, valueName: "url"))
    var database: String?
}
