import Foundation
import PackagePlugin

/// Embeds every file under the target's `Assets/` (templates, CSS, JS, icons) as the dictionary
/// `consoleAssetTexts`, keyed by path relative to `Assets/`, so the console ships in the binary.
@main
struct EmbedConsoleAssets: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let assets = target.directoryURL.appending(path: "Assets")
        let output = context.pluginWorkDirectoryURL.appending(path: "ConsoleAssetTexts.swift")
        // Every file is an input, so editing a template or a stylesheet rebuilds the target.
        let files = (FileManager.default.enumerator(at: assets, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { !$0.hasDirectoryPath }
        return [
            .buildCommand(
                displayName: "Embedding the console's assets in \(target.name)",
                executable: try context.tool(named: "EmbedText").url,
                arguments: ["--directory", assets.path, output.path, "consoleAssetTexts"],
                inputFiles: files + [assets],
                outputFiles: [output])
        ]
    }
}
