import BranchCore
import Crypto
package import Foundation

/// The record stored next to a backup's data object: what the backup is, and everything needed
/// to verify and read its archive. Stored signed (`signed(with:)`) and read back verified
/// (`verified(_:key:)`).
package struct BackupManifest: Codable, Sendable, Hashable {
    /// `full`: the whole snapshot. `incremental`: the difference from the parent backup's snapshot.
    package enum Kind: String, Codable, Sendable {
        case full, incremental
    }

    /// Only complete backups get a manifest.
    package enum Status: String, Codable, Sendable {
        case complete
    }

    /// The manifest and archive format version this code writes and reads.
    package static let currentFormatVersion = 1

    package var formatVersion: Int
    /// Backup id; bound into every chunk of the archive.
    package var id: String
    package var project: String
    package var branch: String
    /// The snapshot whose send stream the archive holds.
    package var snapshotID: String
    /// The backup this one is incremental to; nil for a full backup.
    package var parentID: String?
    package var kind: Kind
    /// Postgres major version of the data, e.g. "17": a restore needs the same.
    package var postgresVersion: String
    /// When the snapshot was taken: the point in time the backup restores.
    package var createdAt: Date
    package var startedAt: Date
    package var finishedAt: Date
    package var durationSeconds: Double
    package var status: Status
    /// `BackupKey.id` of the key the archive and secrets are encrypted with.
    package var keyID: String
    /// Hex of the 4 random bytes that start every chunk nonce.
    package var nonceSalt: String
    package var chunkSize: Int
    package var chunks: [ArchiveChunk]
    /// Size of the plaintext (send stream).
    package var rawBytes: Int
    /// Size of the zstd stream.
    package var compressedBytes: Int
    /// Size of the stored data object.
    package var storedBytes: Int
    /// Always "zstd".
    package var compression: String
    /// Always "AES-256-GCM".
    package var encryption: String
    /// Small confidential metadata (e.g. the project's role password), sealed with the key's
    /// secrets subkey: base64 of nonce ‖ ciphertext ‖ tag, authenticated with the backup id.
    /// Set with `sealSecrets(_:key:)`, read with `openSecrets(key:)`.
    package var secrets: String?

    /// A manifest for a finished archive.
    package init(
        id: String, project: String, branch: String, snapshotID: String, parentID: String?, postgresVersion: String,
        createdAt: Date, startedAt: Date, finishedAt: Date, archive: ArchiveSummary
    ) {
        formatVersion = Self.currentFormatVersion
        self.id = id
        self.project = project
        self.branch = branch
        self.snapshotID = snapshotID
        self.parentID = parentID
        kind = parentID == nil ? .full : .incremental
        self.postgresVersion = postgresVersion
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        durationSeconds = finishedAt.timeIntervalSince(startedAt)
        status = .complete
        keyID = archive.keyID
        nonceSalt = archive.nonceSalt
        chunkSize = archive.chunkSize
        chunks = archive.chunks
        rawBytes = archive.rawBytes
        compressedBytes = archive.compressedBytes
        storedBytes = archive.storedBytes
        compression = "zstd"
        encryption = "AES-256-GCM"
        secrets = nil
    }

    // MARK: Secrets

    /// Seals `data` into `secrets`, replacing what was there. Sign the manifest afterwards.
    package mutating func sealSecrets(_ data: Data, key: BackupKey) throws(BackupError) {
        do {
            let box = try AES.GCM.seal(data, using: key.secretsKey, authenticating: secretsAAD)
            secrets = box.combined!.base64EncodedString()
        } catch {
            throw BackupError(.backupFailed, "Backup \(id): could not seal the manifest secrets (\(error)).")
        }
    }

    /// The data sealed by `sealSecrets`, or nil if there is none.
    /// - Throws: `.wrongKey` for another key, `.integrity` if the secrets were altered.
    package func openSecrets(key: BackupKey) throws(BackupError) -> Data? {
        guard let secrets else { return nil }
        guard keyID == key.id else {
            throw BackupError(.backupWrongKey, "Backup \(id) was made with key \(keyID); the configured key is \(key.id).")
        }
        do {
            guard let combined = Data(base64Encoded: secrets) else { throw BackupError(.backupIntegrityFailed, "") }
            return try AES.GCM.open(AES.GCM.SealedBox(combined: combined), using: key.secretsKey, authenticating: secretsAAD)
        } catch {
            throw BackupError(.backupIntegrityFailed, "Backup \(id): the manifest secrets failed authentication.")
        }
    }

    private var secretsAAD: [UInt8] { Array("branch-backup-secrets:\(id)".utf8) }

    // MARK: Signing

    /// The JSON key that holds the signature in stored manifests.
    static let signatureKey = "signature"

    /// The manifest as stored: JSON with sorted keys and a `signature` member, the lowercase hex
    /// HMAC-SHA256 (manifest subkey) of the canonical JSON of every other member.
    package func signed(with key: BackupKey) throws(BackupError) -> Data {
        guard keyID == key.id else {
            throw BackupError(.backupWrongKey, "Backup \(id) was written with key \(keyID); it cannot be signed with key \(key.id).")
        }
        let encoded: Data
        do {
            encoded = try Self.encoder.encode(self)
        } catch {
            throw BackupError(.backupFailed, "Backup \(id): could not encode the manifest (\(error)).")
        }
        guard case .object(var members) = try CanonicalJSON.parse(encoded) else {
            throw BackupError(.backupFailed, "Backup \(id): the manifest did not encode as a JSON object.")
        }
        let mac = HMAC<SHA256>.authenticationCode(for: CanonicalJSON.serialize(.object(members)), using: key.manifestKey)
        members[Self.signatureKey] = .string(ArchiveFormat.hex(mac))
        return Data(CanonicalJSON.serialize(.object(members)))
    }

    /// Parses a stored manifest and checks it was signed with `key`, then that this version can read it.
    /// - Throws: `.wrongKey` if it names another key (checked first, so a wrong key is not reported
    ///   as tampering), `.integrity` if it is malformed or its signature does not match,
    ///   `.failed` for a format version this code does not know.
    package static func verified(_ data: Data, key: BackupKey) throws(BackupError) -> BackupManifest {
        guard case .object(var members) = try? CanonicalJSON.parse(data) else {
            throw BackupError(.backupIntegrityFailed, "The backup manifest is not a JSON object.")
        }
        let label = members["id"]?.stringValue.map { "Backup \($0)" } ?? "A backup"
        guard let keyID = members["keyID"]?.stringValue else {
            throw BackupError(.backupIntegrityFailed, "\(label): the manifest has no key id.")
        }
        guard keyID == key.id else {
            throw BackupError(.backupWrongKey, "\(label) was made with key \(keyID); the configured key is \(key.id).")
        }
        guard let signature = members.removeValue(forKey: signatureKey)?.stringValue,
            let mac = ArchiveFormat.bytes(hex: signature),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: CanonicalJSON.serialize(.object(members)), using: key.manifestKey)
        else {
            throw BackupError(.backupIntegrityFailed, "\(label): the manifest failed authentication; it was modified after it was written.")
        }
        // Decode what the signature covers, not `data`: a parser that resolved a duplicated key
        // differently from `CanonicalJSON.parse` could otherwise read unsigned values.
        let manifest = try decode(Data(CanonicalJSON.serialize(.object(members))), label: label)
        try manifest.checkSupported()
        return manifest
    }

    /// Parses a stored manifest and checks its signature with the keyring's key it names (the
    /// current key when it names none the keyring holds, which then reports the wrong key).
    package static func verified(_ data: Data, keyring: BackupKeyring) throws(BackupError) -> BackupManifest {
        var named: String?
        if case .object(let members) = try? CanonicalJSON.parse(data) { named = members["keyID"]?.stringValue }
        return try verified(data, key: named.flatMap(keyring.key(id:)) ?? keyring.current)
    }

    /// Parses a stored manifest WITHOUT checking its signature, for listing backups without the
    /// key. Nothing in it can be trusted: restores and verification use `verified(_:key:)`.
    package static func unverifiedPeek(_ data: Data) throws(BackupError) -> BackupManifest {
        try decode(data, label: "A backup")
    }

    /// Throws `.failed` unless this code can read the archive the manifest describes.
    func checkSupported() throws(BackupError) {
        guard formatVersion == Self.currentFormatVersion, compression == "zstd", encryption == "AES-256-GCM" else {
            throw BackupError(
                .backupFailed,
                "Backup \(id) uses format \(formatVersion) (\(compression), \(encryption)); this version of Branch reads format \(Self.currentFormatVersion) (zstd, AES-256-GCM).")
        }
    }

    private static func decode(_ data: Data, label: String) throws(BackupError) -> BackupManifest {
        do {
            return try decoder.decode(BackupManifest.self, from: data)
        } catch {
            throw BackupError(.backupIntegrityFailed, "\(label): the manifest is malformed (\(error)).")
        }
    }

    /// Dates are ISO 8601 in UTC with milliseconds ("2026-05-28T20:26:52.500Z"); plain
    /// `.iso8601` would drop the fraction, so a manifest would not read back equal.
    private static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(dateStyle))
        }
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = (try? dateStyle.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text)) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(text) is not an ISO 8601 date")
        }
        return decoder
    }
}

/// JSON with one byte form per value, so a signature computed when writing still matches when
/// verifying years later, whatever JSONEncoder version wrote the file: members sorted by the
/// UTF-8 bytes of their keys, no whitespace, only `"`, `\` and control characters escaped,
/// integers in decimal, other numbers as Swift's shortest round-trip form.
/// Serialising a parsed canonical document gives back the same bytes.
private enum CanonicalJSON {
    indirect enum Value: Decodable {
        case null
        case bool(Bool)
        case integer(Int64)
        case number(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int64.self) {
                self = .integer(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([Value].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: Value].self))
            }
        }

        var stringValue: String? {
            if case .string(let value) = self { value } else { nil }
        }
    }

    static func parse(_ data: Data) throws(BackupError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: data)
        } catch {
            throw BackupError(.backupIntegrityFailed, "The backup manifest is not valid JSON.")
        }
    }

    static func serialize(_ value: Value) -> [UInt8] {
        var out: [UInt8] = []
        write(value, to: &out)
        return out
    }

    private static func write(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
        case .integer(let number): out += Array(String(number).utf8)
        case .number(let number): out += Array((number.isFinite ? "\(number)" : "null").utf8)
        case .string(let string): writeString(string, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (i, member) in sorted.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += Array(#"\""#.utf8)
            case UInt8(ascii: "\\"): out += Array(#"\\"#.utf8)
            case 0..<0x20: out += Array("\\u\(ArchiveFormat.hex([0, byte]))".utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
