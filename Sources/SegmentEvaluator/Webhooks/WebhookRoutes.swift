import DaemonSupport
import SegmentsRPC
import SegmentsWire

/// The evaluator's webhook method: `ListWebhookDeliveries`.
enum WebhookRoutes {
    /// Serves `ListWebhookDeliveries` from `ledger`.
    static func register(
        in router: inout RPCRouter,
        ledger: WebhookLedger,
        core: EvaluatorCore,
        configuration: SegmentEvaluatorConfiguration
    ) {
        router.register(EvaluatorAPI.listWebhookDeliveries) { request, _ in
            if request.minSeq > 0 {
                let timeout = configuration.readYourWritesTimeout
                guard await core.applied.wait(untilReaching: request.minSeq, timeout: timeout) else {
                    throw RPCError(
                        .deadlineExceeded,
                        "the evaluator has applied store changes up to \(core.applied.headSeq), "
                            + "not yet \(request.minSeq) (waited \(timeout))"
                    )
                }
            }
            do throws(SegmentEvaluatorError) {
                let deliveries = try await Self.deliveries(in: ledger)
                var response = Segments_V1_ListWebhookDeliveriesResponse()
                response.shardIndex = configuration.shardIndex
                response.shardCount = configuration.shardCount
                response.transitionSeq = core.transitions.headSeq
                response.deliveries = deliveries
                return response
            } catch {
                throw error.rpcError
            }
        }
    }

    /// The delivery state of every active webhook, with its backlog (counted in the transition log).
    static func deliveries(
        in ledger: WebhookLedger
    ) async throws(SegmentEvaluatorError) -> [Segments_V1_WebhookDelivery] {
        try await ledger.perform { ledger throws(SegmentEvaluatorError) in
            try ledger.activeEndpoints().map { endpoint throws(SegmentEvaluatorError) in
                let state = try ledger.deliveryState(of: endpoint.id)
                var delivery = Segments_V1_WebhookDelivery()
                delivery.webhookID = endpoint.id
                delivery.deliveredSeq = state.deliveredSeq
                delivery.pending = try ledger.pendingCount(for: endpoint, after: state.deliveredSeq)
                delivery.deliveredCount = state.deliveredCount
                delivery.failedAttempts = state.failedAttempts
                delivery.lastError = state.lastError
                delivery.lastErrorAtMs = state.lastErrorAtMs
                delivery.nextAttemptAtMs = state.nextAttemptAtMs
                delivery.lastDeliveredAtMs = state.lastDeliveredAtMs
                return delivery
            }
        }
    }
}
