// Webhook methods, kept apart from `RPCMethod.swift` so the webhook feature stays in its own files.

extension ProfileStoreAPI {
    /// Registers a webhook endpoint (a change-log write).
    public static let addWebhook = UnaryMethod<Segments_V1_AddWebhookRequest, Segments_V1_AddWebhookResponse>(
        service + "AddWebhook",
        role: .admin
    )
    /// Every registered webhook, without secrets.
    public static let listWebhooks = UnaryMethod<Segments_V1_ListWebhooksRequest, Segments_V1_ListWebhooksResponse>(
        service + "ListWebhooks",
        role: .reader
    )
    /// Removes a webhook (a change-log write); its delivery stops.
    public static let removeWebhook = UnaryMethod<Segments_V1_RemoveWebhookRequest, Segments_V1_WriteResponse>(
        service + "RemoveWebhook",
        role: .admin
    )
}

extension EvaluatorAPI {
    /// Delivery state of every webhook one evaluator shard knows.
    public static let listWebhookDeliveries = UnaryMethod<
        Segments_V1_ListWebhookDeliveriesRequest, Segments_V1_ListWebhookDeliveriesResponse
    >(service + "ListWebhookDeliveries", role: .reader)
}
