import BranchPostgres
import Testing

@Suite("Postgres helpers")
struct PostgresHelperTests {
    @Test("SCRAM verifier matches RFC 7677's example")
    func scramVector() throws {
        let salt = Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)
        let verifier = try Scram.verifier(password: "pencil", salt: salt)
        #expect(verifier == "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")
    }

    @Test("verifiers use a fresh salt each time")
    func freshSalt() throws {
        #expect(try Scram.verifier(password: "x") != Scram.verifier(password: "x"))
    }

    @Test("conninfo escapes quotes and backslashes")
    func conninfo() {
        let info = ConnectionInfo(host: "/tmp/s", port: 5432, user: "u", database: "d", password: #"it's\x"#)
        #expect(info.conninfo.contains(#"password='it\'s\\x'"#))
    }

    @Test("URLs percent-encode credentials and bracket IPv6 hosts")
    func url() {
        var info = ConnectionInfo(host: "db.example.com", port: 6432, user: "app", database: "app", password: "p@ss:/word")
        #expect(info.url == "postgres://app:p%40ss%3A%2Fword@db.example.com:6432/app")
        #expect(info.redactedURL == "postgres://app:%2A%2A%2A%2A@db.example.com:6432/app")
        info.host = "::1"
        #expect(info.url.hasPrefix("postgres://app:p%40ss%3A%2Fword@[::1]:6432/"))
    }

    @Test("SQL quoting")
    func quoting() {
        #expect(SQL.identifier(#"my"app"#) == #""my""app""#)
        #expect(SQL.literal("it's") == "'it''s'")
    }

    @Test("branch.conf holds the per-branch settings")
    func branchSettings() {
        let settings = ClusterFiles.BranchSettings(
            port: 54400, listenAddresses: "*", socketDirectory: "/pool/run/pg", clusterName: "app/main", extra: ["max_connections": "50"])
        let text = settings.rendered
        #expect(text.contains("port = 54400\n"))
        #expect(text.contains("listen_addresses = '*'\n"))
        #expect(text.contains("unix_socket_directories = '/pool/run/pg'\n"))
        #expect(text.contains("cluster_name = 'app/main'\n"))
        #expect(text.contains("max_connections = 50\n"))
    }

    @Test("the managed block includes branch.conf and forces SCRAM")
    func managedBlock() {
        #expect(ClusterFiles.managedBlock.contains("include_if_exists = 'branch.conf'"))
        #expect(ClusterFiles.managedBlock.contains("password_encryption = 'scram-sha-256'"))
        #expect(ClusterFiles.hba().contains("host    all   all        0.0.0.0/0     scram-sha-256"))
        #expect(!ClusterFiles.hba().contains("host    all   all        0.0.0.0/0     trust"))
    }
}

import Foundation
