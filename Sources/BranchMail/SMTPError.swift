/// Why a message was not sent. Descriptions name the server and the step, never a credential.
package struct SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// The URL or the addresses are not usable.
        case invalidConfiguration
        /// No connection, or it broke.
        case connection
        /// The server answered a command with an error (or something that is not SMTP).
        case rejected
        /// Credentials would have gone over plain text, or the server offers no TLS.
        case insecure
        /// The server did not answer in time.
        case timeout
    }

    package let kind: Kind
    package let message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}
