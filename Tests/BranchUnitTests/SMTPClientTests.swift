import BranchMail
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A scripted SMTP server on loopback (no TLS): answers each command from `replies` by its first
/// word, records every line it got, and can stay silent to test the deadline.
final class FakeSMTPServer: Sendable {
    /// Every line the server received, in order.
    final class LineLog: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    let log = LineLog()
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(extensions: [String], silent: Bool = false, rcptReply: String = "250 OK") async throws {
        let lines = log
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(
                        Handler(lines: lines, extensions: extensions, silent: silent, rcptReply: rcptReply))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async { try? await channel.close() }

    /// Runs `body` with a started server, closing it afterwards whatever happened.
    static func with(
        extensions: [String], silent: Bool = false, rcptReply: String = "250 OK", _ body: (FakeSMTPServer) async throws -> Void
    ) async throws {
        let server = try await FakeSMTPServer(extensions: extensions, silent: silent, rcptReply: rcptReply)
        do {
            try await body(server)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let lines: LineLog
        let extensions: [String]
        let silent: Bool
        let rcptReply: String
        var buffer = ""
        var inData = false
        var loginStep = 0

        init(lines: LineLog, extensions: [String], silent: Bool, rcptReply: String) {
            self.lines = lines
            self.extensions = extensions
            self.silent = silent
            self.rcptReply = rcptReply
        }

        func channelActive(context: ChannelHandlerContext) {
            if !silent { send("220 fake ESMTP", context) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            buffer += String(buffer: unwrapInboundIn(data))
            while let range = buffer.range(of: "\r\n") {
                let line = String(buffer[..<range.lowerBound])
                buffer.removeSubrange(..<range.upperBound)
                lines.append(line)
                if silent { continue }
                if inData {
                    if line == "." {
                        inData = false
                        send("250 queued", context)
                    }
                    continue
                }
                let verb = line.split(separator: " ").first.map { $0.uppercased() } ?? ""
                switch verb {
                case "EHLO":
                    let all = ["fake"] + extensions
                    send(all.enumerated().map { "250\($0.offset == all.count - 1 ? " " : "-")\($0.element)" }.joined(separator: "\r\n"), context)
                case "AUTH": send("334 VXNlcm5hbWU6", context)
                case "MAIL": send("250 OK", context)
                case "RCPT": send(rcptReply, context)
                case "DATA":
                    inData = true
                    send("354 go ahead", context)
                case "QUIT": send("221 bye", context)
                default:
                    // The LOGIN exchange: user, then password.
                    loginStep += 1
                    send(loginStep == 1 ? "334 UGFzc3dvcmQ6" : "235 authenticated", context)
                }
            }
        }

        private func send(_ text: String, _ context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
        }
    }
}

@Suite("SMTP client against a scripted server", .serialized)
struct SMTPClientTests {
    let message = MailMessage(from: "branch@example.com", to: ["ops@example.com"], subject: "Test", body: "Hello.")

    @Test("plain loopback: EHLO, AUTH LOGIN when PLAIN is not offered, MAIL, RCPT, DATA, QUIT")
    func loginDialogue() async throws {
        try await FakeSMTPServer.with(extensions: ["AUTH LOGIN", "SIZE 1000"]) { server in
            let client = SMTPClient(endpoint: try SMTPEndpoint(parsing: "smtp+plain://alice@127.0.0.1:\(server.port)"), password: "pw", timeout: .seconds(10))
            try await client.send(message)
            let lines = server.log.all
            #expect(lines.first?.hasPrefix("EHLO ") == true)
            #expect(lines.contains("AUTH LOGIN"))
            #expect(lines.contains(Data("alice".utf8).base64EncodedString()))
            #expect(lines.contains(Data("pw".utf8).base64EncodedString()))
            #expect(lines.contains("MAIL FROM:<branch@example.com>"))
            #expect(lines.contains("RCPT TO:<ops@example.com>"))
            #expect(lines.contains("DATA"))
            #expect(lines.contains("."))
            #expect(lines.last == "QUIT")
        }
    }

    @Test("smtp:// to a server without STARTTLS is refused before any credential or mail is sent")
    func startTLSRequired() async throws {
        try await FakeSMTPServer.with(extensions: ["AUTH PLAIN LOGIN"]) { server in
            let client = SMTPClient(endpoint: try SMTPEndpoint(parsing: "smtp://alice@127.0.0.1:\(server.port)"), password: "pw", timeout: .seconds(10))
            await #expect(throws: SMTPError.self) { try await client.send(message) }
            do {
                try await client.send(message)
            } catch let error as SMTPError {
                #expect(error.kind == .insecure)
            }
            #expect(!server.log.all.contains { $0.hasPrefix("AUTH") || $0.hasPrefix("MAIL") })
        }
    }

    @Test("a refused recipient is an error naming the step and the server's answer")
    func refusedRecipient() async throws {
        try await FakeSMTPServer.with(extensions: [], rcptReply: "550 no such user") { server in
            let client = SMTPClient(endpoint: try SMTPEndpoint(parsing: "smtp+plain://127.0.0.1:\(server.port)"), password: nil, timeout: .seconds(10))
            do {
                try await client.send(message)
                Issue.record("the message was accepted")
            } catch let error as SMTPError {
                #expect(error.kind == .rejected)
                #expect(error.message.contains("RCPT TO"))
                #expect(error.message.contains("550 no such user"))
            }
        }
    }

    @Test("a server that never answers fails at the deadline; a closed port at once")
    func deadlines() async throws {
        try await FakeSMTPServer.with(extensions: [], silent: true) { server in
            let client = SMTPClient(endpoint: try SMTPEndpoint(parsing: "smtp+plain://127.0.0.1:\(server.port)"), password: nil, timeout: .seconds(1))
            let started = ContinuousClock.now
            do {
                try await client.send(message)
                Issue.record("a silent server accepted the message")
            } catch let error as SMTPError {
                #expect(error.kind == .timeout)
            }
            #expect(ContinuousClock.now - started < .seconds(5))
            let port = server.port
            await server.close()
            let closed = SMTPClient(endpoint: try SMTPEndpoint(parsing: "smtp+plain://127.0.0.1:\(port)"), password: nil, timeout: .seconds(10))
            do {
                try await closed.send(message)
                Issue.record("a closed port accepted the message")
            } catch let error as SMTPError {
                #expect(error.kind == .connection)
            }
        }
    }
}
