import ArgumentParser
import HTTPQ

/// `httpq resume C`: httpq.resume.
struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Let workers claim a paused channel's requests again.",
        discussion: "Calls httpq.resume, which also wakes the workers."
    )

    @OptionGroup var connection: DatabaseOptions

    @Argument(help: "The channel.")
    var channel: String

    func run() throws {
        let database = try Database.open(connection)
        _ = try database.rows("SELECT httpq.resume(channel => $1)", [channel])
        say("resumed channel \(channel)")
    }
}
