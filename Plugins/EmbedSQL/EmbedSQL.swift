import Foundation
import PackagePlugin

/// Embeds the install script and the upgrade scripts in the httpq binary as
/// EmbeddedSQL.files (see Sources/embed-sql). The command's inputs are the two folders and
/// every file in them: it runs again when a file changes, is added or is removed.
@main
struct EmbedSQL: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let root = context.package.directoryURL
        let folders = ["sql", "extension"].map { root.appending(path: $0) }
        let inputs = try folders.flatMap { folder in
            try FileManager.default.contentsOfDirectory(atPath: folder.path).map { folder.appending(path: $0) }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSQL.swift")
        return [
            .buildCommand(
                displayName: "Embedding the SQL scripts in httpq",
                executable: try context.tool(named: "embed-sql").url,
                arguments: [output.path, root.path],
                inputFiles: folders + inputs,
                outputFiles: [output])
        ]
    }
}
