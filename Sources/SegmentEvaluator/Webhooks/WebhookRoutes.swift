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
                var response = Segments_V1_ListWebhookDeliveriesResponse()
                response.shardIndex = configuration.shardIndex
                response.shardCount = configuration.shardCount
                response.transitionSeq = core.transitions.headSeq
                for endpoint in try ledger.activeEndpoints() {
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
                    response.deliveries.append(delivery)
                }
                return response
            } catch {
                throw error.rpcError
            }
        }
    }
}
