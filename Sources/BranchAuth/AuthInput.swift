import BranchCore
import BranchREST
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reading what a client sent: the JSON body, query parameters, and the checks GoTrue applies to
/// emails and passwords.
struct AuthInput: Sendable {
    let request: DataRequest
    /// The body's top-level object (empty for an empty body).
    let body: [String: JSONValue]

    /// Parses the body: empty means `{}`, anything but a JSON object is `bad_json`.
    init(_ request: DataRequest) throws(AuthFailure) {
        self.request = request
        let text = String(decoding: request.body, as: UTF8.self)
        if text.allSatisfy(\.isWhitespace) {
            body = [:]
        } else if let value = JSONText.decode(text) {
            guard let object = value.objectValue else { throw .badJSON("expected a JSON object") }
            body = object
        } else {
            throw .badJSON("invalid JSON")
        }
    }

    /// The first value of a query parameter.
    func query(_ name: String) -> String? {
        FormQuery.pairs(request.rawQuery).first { $0.key == name }?.value
    }

    /// A string field; absent, null and "" are nil.
    func string(_ key: String) -> String? {
        guard case .string(let value)? = body[key], !value.isEmpty else { return nil }
        return value
    }

    /// A boolean field (absent or null: nil).
    func bool(_ key: String) throws(AuthFailure) -> Bool? {
        switch body[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw .badJSON("\(key) must be a boolean")
        }
    }

    /// An object field (absent or null: nil).
    func object(_ key: String) throws(AuthFailure) -> [String: JSONValue]? {
        switch body[key] {
        case nil, .null?: return nil
        case .object(let value)?: return value
        default: throw .badJSON("\(key) must be an object")
        }
    }

    /// The bearer token of `Authorization: Bearer <token>`, if there is one.
    var bearer: String? {
        guard let header = request.header("authorization") else { return nil }
        let parts = header.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1])
    }

    /// The client's address when it is a valid IP address (stored in `auth.sessions.ip`, an inet).
    var clientIP: String? {
        guard let address = request.clientAddress else { return nil }
        var buffer = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, address, &buffer) == 1 || inet_pton(AF_INET6, address, &buffer) == 1 { return address }
        return nil
    }

    // MARK: GoTrue's checks

    /// Passwords shorter than this are `weak_password`, as GoTrue's default.
    static let minimumPasswordLength = 6
    /// bcrypt ignores what comes after 72 bytes; GoTrue refuses longer passwords.
    static let maximumPasswordLength = 72

    /// A trimmed, lower-cased email that GoTrue's pattern accepts.
    static func validEmail(_ email: String) throws(AuthFailure) -> String {
        let email = email.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        let localCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789.!#$%&'*+/=?^_`{|}~-")
        guard email.utf8.count <= 255, parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy(localCharacters.contains),
            isValidDomain(parts[1])
        else { throw .validation("Unable to validate email address: invalid format") }
        return email
    }

    /// Labels of letters, digits and inner hyphens, at most 63 characters each.
    private static func isValidDomain(_ domain: Substring) -> Bool {
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            label.count >= 1 && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// Refuses passwords GoTrue refuses: too short (`weak_password`) or too long for bcrypt.
    static func checkPassword(_ password: String) throws(AuthFailure) {
        guard password.count >= minimumPasswordLength else { throw .weakPassword(minimumLength: minimumPasswordLength) }
        guard password.utf8.count <= maximumPasswordLength else {
            throw .validation("Password cannot be longer than \(maximumPasswordLength) characters", status: 422)
        }
    }

    /// A phone number as GoTrue stores it: digits only, 8 to 15 of them (E.164 without `+`).
    static func validPhone(_ phone: String) throws(AuthFailure) -> String {
        let digits = phone.filter { !" +-()".contains($0) }
        guard digits.count >= 8, digits.count <= 15, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .validation("Invalid phone number format (E.164 required)")
        }
        return digits
    }

    /// A UUID in its canonical lower-case text, or nil.
    static func uuid(_ text: String) -> String? {
        UUID(uuidString: text).map { $0.uuidString.lowercased() }
    }
}
