// Writes a Swift file declaring one string constant with the contents of a text file:
// `EmbedText <input> <output> <constant name>`. Used at build time so the service can serve its
// OpenAPI document without a resource bundle next to the installed binary.
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: EmbedText INPUT OUTPUT NAME\n".utf8))
    exit(2)
}
let text = try String(contentsOfFile: arguments[1], encoding: .utf8)
// A raw string literal whose delimiter occurs nowhere in the text (neither `"""#…` nor `\#…`).
var hashes = "#"
while text.contains("\"\"\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
let quotes = "\"\"\""
let source = "// Generated at build time from \(URL(fileURLWithPath: arguments[1]).lastPathComponent); do not edit.\n"
    + "package let \(arguments[3]) = \(hashes)\(quotes)\n\(text)\n\(quotes)\(hashes)\n"
try source.write(toFile: arguments[2], atomically: true, encoding: .utf8)
