import SegmentsRPC
import SegmentsWire

extension ProfileStoreService {
    /// Serves `AddWebhook`, `ListWebhooks` and `RemoveWebhook`.
    static func registerWebhookMethods(in router: inout RPCRouter, _ database: StoreDatabase) {
        router.register(ProfileStoreAPI.addWebhook) { request, _ in
            try await Self.mapped { try await database.addWebhook(request) }
        }
        router.register(ProfileStoreAPI.listWebhooks) { _, _ in
            try await Self.mapped {
                var response = Segments_V1_ListWebhooksResponse()
                response.webhooks = try await database.listWebhooks()
                return response
            }
        }
        router.register(ProfileStoreAPI.removeWebhook) { request, _ in
            try await Self.mapped { try await database.removeWebhook(request.id) }
        }
    }
}
