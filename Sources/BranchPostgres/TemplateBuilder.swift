import BranchCore
import BranchSystem
import Foundation

/// Builds a warm cluster template: initdb once per Postgres major version, configure it, create
/// the placeholder owner role and database (with `databaseSetup` run in it), and shut it down cleanly. New projects snapshot it,
/// so no initdb ever runs on the hot path.
package enum TemplateBuilder {
    package static func build(
        dataDirectory: String,
        installation: PostgresInstallation,
        socketDirectory: String,
        port: Int,
        logFile: String,
        databaseSetup: String? = nil
    ) async throws(PostgresError) {
        do {
            try Files.ensureDirectory(dataDirectory, mode: 0o700, owner: ClusterFiles.superuser)
            try await Command.run(
                installation.tool("initdb"),
                [
                    "-D", dataDirectory, "-U", ClusterFiles.superuser,
                    "--auth-local=trust", "--auth-host=scram-sha-256",
                    "-E", "UTF8", "--locale=C.UTF-8", "--data-checksums", "--no-sync", "--no-instructions",
                ],
                user: ClusterFiles.superuser)
            try appendManagedBlock(dataDirectory: dataDirectory)
            try ClusterFiles.writeBranchSettings(
                .init(port: port, listenAddresses: "", socketDirectory: socketDirectory, clusterName: "branch-template"),
                dataDirectory: dataDirectory)
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.postgresTemplateFailed, "Preparing the template failed: \(error)")
        }

        let server = PostgresServer(installation: installation, dataDirectory: dataDirectory, logFile: logFile)
        let superuser = ConnectionInfo(host: socketDirectory, port: port, user: ClusterFiles.superuser, database: "postgres")
        do {
            try await server.start(probe: superuser)
            let connection = try await PGConnection.connect(superuser)
            try await connection.execute("CREATE ROLE \(SQL.identifier(ClusterFiles.templateRole)) LOGIN")
            try await connection.execute(
                "CREATE DATABASE \(SQL.identifier(ClusterFiles.templateDatabase)) OWNER \(SQL.identifier(ClusterFiles.templateRole))")
            connection.close()
            if let databaseSetup {
                var database = superuser
                database.database = ClusterFiles.templateDatabase
                try await withConnection(database) { try await $0.execute("BEGIN;\n\(databaseSetup)\nCOMMIT;") }
            }
            try await server.stop()
            try ClusterFiles.clearRuntimeFiles(dataDirectory: dataDirectory)
        } catch {
            try? await server.stop()
            throw PostgresError(.postgresTemplateFailed, "Preparing the template failed: \(error)")
        }
    }

    static func appendManagedBlock(dataDirectory: String) throws(FileError) {
        let path = "\(dataDirectory)/postgresql.conf"
        let current = Files.read(path) ?? ""
        try Files.writeAtomically(current + ClusterFiles.managedBlock, to: path, mode: 0o600, owner: ClusterFiles.superuser)
    }
}
