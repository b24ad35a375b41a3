import BranchCatalog
import BranchCore
import BranchStorage
import Logging

extension Engine {
    /// Opens the pool's catalog with its secrets sealed under the master key at `masterKeyFile`,
    /// making the key when the file does not exist. A key made by this start is taken back when
    /// the catalog turns out to be sealed with another one, so the next start says the same thing.
    static func openCatalog(_ layout: PoolLayout, masterKeyFile: String, logger: Logger) throws -> Catalog {
        let (masterKey, created) = try MasterKey.loadOrCreate(path: masterKeyFile)
        let catalog: Catalog
        let reserve = EmergencyReserve(path: layout.catalogReserve)
        reserve.ensure(freeBytes: PoolStorage.freeBytes(layout.root))
        do {
            catalog = try Catalog(path: layout.catalog, secrets: SecretBox(masterKey: masterKey)) {
                guard reserve.release() else { return false }
                logger.critical(
                    "the pool is completely full: gave the catalog its reserved space back so it can still record and answer; free space now",
                    metadata: ["pool": "\(layout.root)", "reserve": "\(ByteCount.format(UInt64(reserve.bytes)))"])
                return true
            }
        } catch let error as CatalogError where error.code == .masterKeyMismatch && created {
            MasterKey.remove(createdAt: masterKeyFile)
            throw CatalogError.masterKeyMissing(masterKeyFile, catalogError: error)
        }
        if created {
            logger.notice(
                "master key created: back it up apart from the pool, without it the catalog's secrets cannot be read",
                metadata: ["file": "\(masterKeyFile)", "key": "\(masterKey.id)"])
        }
        if catalog.sealedAtOpen > 0 {
            logger.notice("sealed plain-text secrets in the catalog", metadata: ["count": "\(catalog.sealedAtOpen)", "key": "\(masterKey.id)"])
        }
        return catalog
    }
}
