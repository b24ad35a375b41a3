import PackagePlugin

/// Embeds the target's `openapi.json` as the string constant `openAPIDocumentText`, so the
/// service serves the very document its code was generated from.
@main
struct EmbedOpenAPIDocument: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let input = target.directoryURL.appending(path: "openapi.json")
        let output = context.pluginWorkDirectoryURL.appending(path: "OpenAPIDocumentText.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(input.lastPathComponent) in \(target.name)",
                executable: try context.tool(named: "EmbedText").url,
                arguments: [input.path, output.path, "openAPIDocumentText"],
                inputFiles: [input],
                outputFiles: [output])
        ]
    }
}
