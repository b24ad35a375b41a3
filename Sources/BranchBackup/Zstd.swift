import BranchCore
import CZstd

// The only place BranchBackup calls libzstd. Both wrappers are single-owner classes (they own a C
// context freed in `deinit`), deliberately not Sendable: one task drives one stream.

/// Streaming zstd compression of one frame: feed input with `compress`, end the frame with `finish`.
final class ZstdCompressor {
    /// Levels above 19 ("ultra") use windows up to 128 MiB, which a reader would have to hold;
    /// capping the level keeps the window at 8 MiB or less (see `ZstdDecompressor.windowLogMax`).
    static let maxLevel: Int32 = 19
    static var minLevel: Int32 { ZSTD_minCLevel() }

    private let stream: OpaquePointer
    private var output: [UInt8]
    private var finished = false

    init(level: Int32 = 3) throws(BackupError) {
        guard (Self.minLevel...Self.maxLevel).contains(level), level != 0 else {
            throw BackupError(.backupFailed, "zstd compression level \(level) is not supported; use \(Self.minLevel)…-1 or 1…\(Self.maxLevel).")
        }
        guard let stream = ZSTD_createCStream() else {
            throw BackupError(.backupFailed, "Could not create a zstd compression context (out of memory).")
        }
        self.stream = stream
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        try Self.check(ZSTD_CCtx_setParameter(stream, ZSTD_c_compressionLevel, level), "set the compression level")
        // A content checksum costs little and catches bugs in our own framing that encryption cannot.
        try Self.check(ZSTD_CCtx_setParameter(stream, ZSTD_c_checksumFlag, 1), "enable the content checksum")
    }

    deinit { ZSTD_freeCStream(stream) }

    /// Compresses `input` and returns whatever compressed output zstd has ready (often nothing:
    /// zstd collects a block before emitting it).
    func compress(_ input: some Collection<UInt8>) throws(BackupError) -> [UInt8] {
        guard !finished else { throw BackupError(.backupFailed, "zstd: compress called after the frame was finished.") }
        // The buffer APIs are `rethrows` (untyped), so the typed error travels out in a Result.
        let result =
            input.withContiguousStorageIfAvailable { buffer in
                Result { () throws(BackupError) in try run(UnsafeRawBufferPointer(buffer), end: false) }
            }
            ?? Array(input).withUnsafeBytes { buffer in
                Result { () throws(BackupError) in try run(buffer, end: false) }
            }
        return try result.get()
    }

    /// Ends the frame and returns the rest of the compressed stream.
    func finish() throws(BackupError) -> [UInt8] {
        guard !finished else { return [] }
        finished = true
        return try run(UnsafeRawBufferPointer(start: nil, count: 0), end: true)
    }

    private func run(_ input: UnsafeRawBufferPointer, end: Bool) throws(BackupError) -> [UInt8] {
        var result: [UInt8] = []
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let capacity = output.count
        while true {
            let (remaining, produced) = output.withUnsafeMutableBytes { out in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: capacity, pos: 0)
                let remaining = ZSTD_compressStream2(stream, &outBuffer, &inBuffer, end ? ZSTD_e_end : ZSTD_e_continue)
                return (remaining, outBuffer.pos)
            }
            try Self.check(remaining, "compress")
            result.append(contentsOf: output[0..<produced])
            // With e_continue zstd is done once it has taken all the input; with e_end once it
            // reports nothing left to flush.
            if end ? remaining == 0 : inBuffer.pos == inBuffer.size { return result }
        }
    }

    private static func check(_ code: Int, _ what: String) throws(BackupError) {
        if ZSTD_isError(code) != 0 {
            throw BackupError(.backupFailed, "zstd could not \(what): \(String(cString: ZSTD_getErrorName(code))).")
        }
    }
}

/// Streaming zstd decompression of one frame, with bounded output per call.
final class ZstdDecompressor {
    /// Largest window accepted, as a power of two (8 MiB): enough for every level the compressor
    /// allows, and a bound on what a corrupt or hostile frame can make the reader allocate.
    static let windowLogMax: Int32 = 23

    private let stream: OpaquePointer
    /// True once the frame has been decoded completely and all its output handed out.
    private(set) var frameEnded = false
    /// True when the last call filled its output: zstd may still hold output for the input it took,
    /// so call again (even with no input) before concluding it needs more.
    private(set) var mayHaveOutput = false

    init() throws(BackupError) {
        guard let stream = ZSTD_createDStream() else {
            throw BackupError(.backupFailed, "Could not create a zstd decompression context (out of memory).")
        }
        self.stream = stream
        let code = ZSTD_DCtx_setParameter(stream, ZSTD_d_windowLogMax, Self.windowLogMax)
        if ZSTD_isError(code) != 0 {
            throw BackupError(.backupFailed, "zstd could not limit the window size: \(String(cString: ZSTD_getErrorName(code))).")
        }
    }

    deinit { ZSTD_freeDStream(stream) }

    /// Decompresses from `input`, producing at most `maxOutput` bytes. Returns the output and how
    /// many input bytes were taken; the caller passes the rest again on the next call.
    /// Stops at the end of the frame: input after it is left untaken.
    /// Corrupt input throws `.integrity`.
    func decompress(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws(BackupError) -> (output: [UInt8], consumed: Int) {
        precondition(maxOutput > 0)
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var failure: Int?
        let output = [UInt8](unsafeUninitializedCapacity: maxOutput) { out, initialized in
            var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: maxOutput, pos: 0)
            defer { initialized = outBuffer.pos }
            guard !frameEnded else { return }
            while true {
                let hint = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                if ZSTD_isError(hint) != 0 {
                    failure = hint
                    return
                }
                if hint == 0 {
                    frameEnded = true
                    mayHaveOutput = false
                    return
                }
                if outBuffer.pos == outBuffer.size {
                    mayHaveOutput = true
                    return
                }
                if inBuffer.pos == inBuffer.size {
                    // zstd flushes all it can while output space remains, so nothing is held back.
                    mayHaveOutput = false
                    return
                }
            }
        }
        if let failure {
            throw BackupError(.backupIntegrityFailed, "the compressed stream is corrupt (zstd: \(String(cString: ZSTD_getErrorName(failure)))).")
        }
        return (output, inBuffer.pos)
    }

    /// Decompresses all of `input` and returns all the output it yields. Convenient for small
    /// streams; the output of a highly compressible input can be very large, so streaming callers
    /// use `decompress(_:maxOutput:)`.
    func decompress(_ input: some Collection<UInt8>) throws(BackupError) -> [UInt8] {
        let bytes = Array(input)
        var result: [UInt8] = []
        var offset = 0
        repeat {
            let (output, consumed) = try bytes.withUnsafeBytes { buffer in
                Result { () throws(BackupError) in
                    try decompress(UnsafeRawBufferPointer(rebasing: buffer[offset...]), maxOutput: 1 << 20)
                }
            }.get()
            offset += consumed
            result += output
            if frameEnded && offset < bytes.count {
                throw BackupError(.backupIntegrityFailed, "\(bytes.count - offset) bytes follow the end of the compressed stream.")
            }
        } while offset < bytes.count || mayHaveOutput
        return result
    }
}
