import BranchAPI
import BranchCatalog
import BranchEngine
import Foundation

extension APIHandlers {
    // MARK: Import

    func importProject(_ input: Operations.ImportProject.Input) async throws -> Operations.ImportProject.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let caller = APICaller.current
        let owner = try caller.requireProjectMaker()
        var request = ProjectImports.Request(
            name: body.name, from: body.from, workers: body.workers, backups: body.backups ?? true,
            startedBy: caller.principal?.user.email, owner: owner)
        request.mirror = body.mirror ?? false
        request.publication = body.publication
        let job = try await engine.imports.start(request)
        return .accepted(.init(body: .json(.init(job))))
    }
}
