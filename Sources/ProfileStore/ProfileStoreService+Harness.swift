import Logging
import SegmentsRPC

extension ProfileStoreService {
    /// Opens the store under `configuration.dataDirectory` and returns its RPC router — the one
    /// ``run()`` serves — without a socket, for in-process harnesses that call the handlers
    /// directly (the fuzz targets), and the function that closes the database again (it finishes
    /// the writes in flight and stops the writer and reader threads).
    /// - Parameters:
    ///   - configuration: the data directory, clock, durability and limits; the socket is unused.
    ///   - logger: the store's logger.
    /// - Returns: the router and the function closing the database.
    /// - Throws: ``ProfileStoreError`` when the database cannot be opened.
    package static func harnessRouter(
        configuration: ProfileStoreConfiguration,
        logger: Logger
    ) throws(ProfileStoreError) -> (router: RPCRouter, close: @Sendable () async -> Void) {
        let database = try StoreDatabase(configuration: configuration, logger: logger)
        return (Self.router(database), { await database.close() })
    }
}
