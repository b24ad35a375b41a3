// Writes a Swift file of string constants made from text files, so the service needs no resource
// bundle next to the installed binary:
//   `EmbedText INPUT OUTPUT NAME`: `package let NAME = "<INPUT's text>"` (the OpenAPI document);
//   `EmbedText --directory DIR OUTPUT NAME`: `package let NAME: [String: String]`, every file
//   under DIR by its path relative to DIR (the console's templates, CSS, JS and icons).
import Foundation

/// A raw string literal of `text` whose delimiter occurs nowhere in it (neither `"""#…` nor `\#…`).
func literal(_ text: String) -> String {
    var hashes = "#"
    while text.contains("\"\"\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
    return "\(hashes)\"\"\"\n\(text)\n\"\"\"\(hashes)"
}

let arguments = CommandLine.arguments
if arguments.count == 5, arguments[1] == "--directory" {
    let root = URL(fileURLWithPath: arguments[2]).standardizedFileURL
    let files = (FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])?.allObjects as? [URL] ?? [])
        .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
        .map { $0.standardizedFileURL.path.dropFirst(root.path.count + 1) }
        .sorted()
    var source = "// Generated at build time from \(root.lastPathComponent)/; do not edit.\npackage let \(arguments[4]): [String: String] = [\n"
    for relative in files {
        let text = try String(contentsOfFile: root.path + "/" + relative, encoding: .utf8)
        source += "    \"\(relative)\": \(literal(text)),\n"
    }
    source += "]\n"
    try source.write(toFile: arguments[3], atomically: true, encoding: .utf8)
    exit(0)
}
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: EmbedText INPUT OUTPUT NAME | EmbedText --directory DIR OUTPUT NAME\n".utf8))
    exit(2)
}
let text = try String(contentsOfFile: arguments[1], encoding: .utf8)
let source = "// Generated at build time from \(URL(fileURLWithPath: arguments[1]).lastPathComponent); do not edit.\n"
    + "package let \(arguments[3]) = \(literal(text))\n"
try source.write(toFile: arguments[2], atomically: true, encoding: .utf8)
