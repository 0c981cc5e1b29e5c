import ArgumentParser
import HTTPQ

/// `httpq pause C`: httpq.pause.
struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop workers from claiming a channel's requests.",
        discussion: """
            Calls httpq.pause: the channel's requests keep waiting (attempts in flight finish) \
            until `httpq resume`. A channel not seen before is created paused, owned by the role \
            that paused it (an admin gives it to its tenant: httpq.set_channel(owner => ...)).
            """
    )

    @OptionGroup var connection: DatabaseOptions

    @Argument(help: "The channel.")
    var channel: String

    func run() throws {
        let database = try Database.open(connection)
        _ = try database.rows("SELECT httpq.pause(channel => $1)", [channel])
        say("paused channel \(channel)")
    }
}
