import BranchCore
import BranchSystem
import Foundation
import Testing

@Suite("Reserved ports")
struct ReservedPortsTests {
    @Test("the kernel's list parses, merges and splits")
    func arithmetic() {
        #expect(ReservedPorts.parse("1000,2000-2010\n") == [1000...1000, 2000...2010])
        #expect(ReservedPorts.parse("\n").isEmpty)
        #expect(ReservedPorts.adding(2011...2020, to: [1000...1000, 2000...2010]) == [1000...1000, 2000...2020])
        #expect(ReservedPorts.removing(2005...2007, from: [1000...1000, 2000...2010]) == [1000...1000, 2000...2004, 2008...2010])
        #expect(ReservedPorts.format([1000...1000, 2000...2004]) == "1000,2000-2004")
    }

    /// A scratch file stands in for the sysctl (the real one is global to the machine).
    func scratch(_ contents: String) throws -> (setting: String, marker: String, remove: () -> Void) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ports-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try contents.write(toFile: "\(directory)/setting", atomically: false, encoding: .utf8)
        return ("\(directory)/setting", "\(directory)/marker", { try? FileManager.default.removeItem(atPath: directory) })
    }

    @Test("a service adds its range and takes out exactly that; a reservation made by someone else stays")
    func reserveAndRelease() throws {
        let file = try scratch("80,9000-9100\n")
        defer { file.remove() }
        #expect(ReservedPorts.reserve(54400...55399, marker: file.marker, setting: file.setting))
        #expect(try String(contentsOfFile: file.setting, encoding: .utf8) == "80,9000-9100,54400-55399\n")
        // After a crash the marker is still there: the next start finds its own range.
        #expect(ReservedPorts.reserve(54400...55399, marker: file.marker, setting: file.setting))
        ReservedPorts.release(marker: file.marker, setting: file.setting)
        #expect(try String(contentsOfFile: file.setting, encoding: .utf8) == "80,9000-9100\n")
        #expect(!FileManager.default.fileExists(atPath: file.marker))

        // Already reserved by the administrator: not ours, never taken out.
        #expect(!ReservedPorts.reserve(9010...9020, marker: file.marker, setting: file.setting))
        ReservedPorts.release(marker: file.marker, setting: file.setting)
        #expect(try String(contentsOfFile: file.setting, encoding: .utf8) == "80,9000-9100\n")
    }
}
