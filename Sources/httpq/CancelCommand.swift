import ArgumentParser
import HTTPQ

/// `httpq cancel ID`: httpq.cancel.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a request that is not delivered.",
        discussion: """
            Calls httpq.cancel: a waiting, running or dead request ends as canceled (the report \
            of an attempt already in flight is then ignored). `httpq retry ID` brings it back. \
            Exits 1 when there was nothing to cancel.
            """
    )

    @OptionGroup var connection: DatabaseOptions

    @Argument(help: "The request's id.")
    var id: String

    func run() throws {
        let id = try RequestID(id)
        let database = try Database.open(connection)
        // One statement: the subquery sees the state from before httpq.cancel ran.
        let row = try database.rows("""
            SELECT (SELECT state FROM httpq.requests WHERE id = $1::bigint), httpq.cancel(id => $1::bigint)
            """, [id.parameter])[0]
        switch (row[0], row[1]) {
        case (let before?, "t"):
            say("canceled request \(id.value) (it was \(before))")
        case (let state?, _):
            throw Failure.exit("nothing to cancel: request \(id.value) is \(state)", ExitCode.failure)
        case (nil, _):
            throw Failure.exit("no request \(id.value)", ExitCode.failure)
        }
    }
}
