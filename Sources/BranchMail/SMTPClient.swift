import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Sends one message per connection: EHLO, STARTTLS (required for smtp://), AUTH PLAIN or
/// LOGIN, MAIL, RCPT, DATA, QUIT. The whole exchange has one deadline. Credentials are never
/// sent over a connection that is not encrypted, except to a loopback `smtp+plain://` server.
package struct SMTPClient: Sendable {
    package var endpoint: SMTPEndpoint
    package var password: String?
    /// PEM certificates to trust instead of the system's (a private relay, a test server).
    package var trustedCertificatesPEM: String?
    package var timeout: Duration
    /// The name given in EHLO.
    package var clientName: String

    package init(endpoint: SMTPEndpoint, password: String?, trustedCertificatesPEM: String? = nil, timeout: Duration = .seconds(30),
                 clientName: String = "branch.localhost") {
        self.endpoint = endpoint
        self.password = password
        self.trustedCertificatesPEM = trustedCertificatesPEM
        self.timeout = timeout
        self.clientName = clientName
    }

    /// Sends `message`; throws `SMTPError` saying which step failed.
    package func send(_ message: MailMessage) async throws(SMTPError) {
        guard MailMessage.isAddress(message.from), !message.to.isEmpty, message.to.allSatisfy(MailMessage.isAddress) else {
            throw SMTPError(.invalidConfiguration, "The sender and each recipient must be a plain address (name@example.com).")
        }
        if endpoint.security == .plainLoopback, !SMTPEndpoint.isLoopback(endpoint.host) {
            throw SMTPError(.insecure, "Refusing to talk SMTP without TLS to \(endpoint.host): only a loopback server may go without.")
        }
        let tlsContext = try makeTLSContext()
        do {
            try await withDeadline(timeout) { try await exchange(message, tls: tlsContext) }
        } catch let error as SMTPError {
            throw error
        } catch let error as NIOSSLError {
            throw SMTPError(.connection, "TLS with \(endpoint.host):\(endpoint.port) failed: \(error).")
        } catch let error as BoringSSLError {
            throw SMTPError(.connection, "TLS with \(endpoint.host):\(endpoint.port) failed: \(error).")
        } catch {
            throw SMTPError(.connection, "Could not talk to \(endpoint.host):\(endpoint.port): \(error).")
        }
    }

    private func makeTLSContext() throws(SMTPError) -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let pem = trustedCertificatesPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            }
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw SMTPError(.invalidConfiguration, "The certificates to trust for the SMTP server are not valid PEM.")
        }
    }

    private func exchange(_ message: MailMessage, tls: NIOSSLContext) async throws {
        let (replies, continuation) = AsyncThrowingStream<SMTPReply, any Error>.makeStream()
        let host = endpoint.host
        let serverName = Self.isIPAddress(host) ? nil : host
        let implicitTLS = endpoint.security == .tls
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(SMTPLineHandler(replies: continuation))
                }
            }
            .connect(host: host, port: endpoint.port).get()
        var conversation = Conversation(channel: channel, replies: replies.makeAsyncIterator(), host: "\(host):\(endpoint.port)")
        do {
            try await conversation.expect(220, "greeting")
            var extensions = try await conversation.command("EHLO \(clientName)", expecting: 250, step: "EHLO").extensions
            var encrypted = implicitTLS
            if endpoint.security == .startTLS {
                guard extensions["STARTTLS"] != nil else {
                    throw SMTPError(.insecure, "\(conversation.host) does not offer STARTTLS; refusing to send mail in clear. Use smtps:// if it speaks TLS from the start.")
                }
                try await conversation.command("STARTTLS", expecting: 220, step: "STARTTLS")
                // TLS goes in front of the line handler, on the channel's own event loop.
                try await channel.eventLoop.submit {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName), position: .first)
                }.get()
                encrypted = true
                extensions = try await conversation.command("EHLO \(clientName)", expecting: 250, step: "EHLO after STARTTLS").extensions
            }
            if let user = endpoint.user {
                guard encrypted || endpoint.security == .plainLoopback else {
                    throw SMTPError(.insecure, "Refusing to send credentials to \(conversation.host) without TLS.")
                }
                try await authenticate(&conversation, user: user, password: password ?? "", mechanisms: extensions["AUTH"] ?? [])
            }
            try await conversation.command("MAIL FROM:<\(message.from)>", expecting: 250, step: "MAIL FROM")
            for recipient in message.to {
                try await conversation.command("RCPT TO:<\(recipient)>", expecting: 250, also: [251], step: "RCPT TO")
            }
            try await conversation.command("DATA", expecting: 354, step: "DATA")
            let domain = message.from.split(separator: "@").last.map(String.init) ?? "branch.localhost"
            try await conversation.send(message.rendered(messageID: "\(UUID().uuidString.lowercased())@\(domain)"), expecting: 250, step: "message")
            _ = try? await conversation.command("QUIT", expecting: 221, step: "QUIT")
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
    }

    /// AUTH PLAIN when offered (one round trip), else LOGIN.
    private func authenticate(_ conversation: inout Conversation, user: String, password: String, mechanisms: [String]) async throws {
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        if mechanisms.contains("PLAIN") {
            try await conversation.command("AUTH PLAIN \(base64("\0\(user)\0\(password)"))", expecting: 235, step: "AUTH PLAIN", secret: true)
        } else if mechanisms.contains("LOGIN") {
            try await conversation.command("AUTH LOGIN", expecting: 334, step: "AUTH LOGIN")
            try await conversation.command(base64(user), expecting: 334, step: "AUTH LOGIN user", secret: true)
            try await conversation.command(base64(password), expecting: 235, step: "AUTH LOGIN password", secret: true)
        } else {
            throw SMTPError(.rejected, "\(conversation.host) offers no AUTH PLAIN or LOGIN (it offers: \(mechanisms.isEmpty ? "none" : mechanisms.joined(separator: ", "))).")
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
    }
}

/// One connection's commands and replies, in order.
private struct Conversation {
    let channel: any Channel
    var replies: AsyncThrowingStream<SMTPReply, any Error>.AsyncIterator
    let host: String

    mutating func next(_ step: String) async throws -> SMTPReply {
        guard let reply = try await replies.next() else { throw SMTPError(.connection, "\(host) closed the connection during \(step).") }
        return reply
    }

    @discardableResult
    mutating func expect(_ code: Int, _ step: String, also: Set<Int> = []) async throws -> SMTPReply {
        let reply = try await next(step)
        guard reply.code == code || also.contains(reply.code) else {
            throw SMTPError(.rejected, "\(host) refused \(step): \(reply.code) \(reply.text)")
        }
        return reply
    }

    /// Sends one command; `secret` ones (credentials) are never quoted in errors.
    @discardableResult
    mutating func command(_ line: String, expecting code: Int, also: Set<Int> = [], step: String, secret: Bool = false) async throws -> SMTPReply {
        try await send(line + "\r\n", expecting: code, also: also, step: step)
    }

    @discardableResult
    mutating func send(_ text: String, expecting code: Int, also: Set<Int> = [], step: String) async throws -> SMTPReply {
        try await channel.writeAndFlush(ByteBuffer(string: text))
        return try await expect(code, step, also: also)
    }
}

/// Runs `body`, or throws `SMTPError.timeout` when `limit` passes first (cancelling it).
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw SMTPError(.timeout, "The SMTP server did not finish within \(limit.components.seconds) s.")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
