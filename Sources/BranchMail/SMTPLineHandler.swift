import NIOCore

/// Splits what the server sends into lines, assembles them into replies and hands each to the
/// client's stream; a malformed reply, an error or the end of the connection ends the stream.
final class SMTPLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let replies: AsyncThrowingStream<SMTPReply, any Error>.Continuation
    private var pending = ByteBuffer()
    private var assembler = SMTPReplyAssembler()

    init(replies: AsyncThrowingStream<SMTPReply, any Error>.Continuation) {
        self.replies = replies
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        // A reply line is short; a server that sends 64 KiB without a line end is not SMTP.
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readerIndex
            var line = pending.readString(length: length) ?? ""
            pending.moveReaderIndex(forwardBy: 1)
            if line.hasSuffix("\r") { line.removeLast() }
            do {
                if let reply = try assembler.feed(line) { replies.yield(reply) }
            } catch {
                replies.finish(throwing: error)
                context.close(promise: nil)
                return
            }
        }
        if pending.readableBytes > 65_536 {
            replies.finish(throwing: SMTPError(.rejected, "The server sent a line longer than 64 KiB."))
            context.close(promise: nil)
        }
        pending.discardReadBytes()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        replies.finish(throwing: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        replies.finish(throwing: SMTPError(.connection, "The server closed the connection."))
        context.fireChannelInactive()
    }
}
