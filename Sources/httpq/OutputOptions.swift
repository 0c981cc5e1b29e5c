import ArgumentParser

/// The output switch for commands that print results (status, show, dead, ...).
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the result as JSON instead of a table.")
    var json = false
}
