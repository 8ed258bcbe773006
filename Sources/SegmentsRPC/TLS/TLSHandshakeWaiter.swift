import NIOCore
import NIOSSL
import NIOTLS

/// Completes a promise when the connection's TLS handshake completes, and fails it when the handshake fails, the
/// connection closes first or `timeout` passes. On success it hands back the peer's certificate (`nil` when it sent
/// none) and removes itself from the pipeline.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let promise: EventLoopPromise<NIOSSLCertificate?>
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(promise: EventLoopPromise<NIOSSLCertificate?>, timeout: TimeAmount) {
        self.promise = promise
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = self.promise
        let channel = context.channel
        let timeout = self.timeout
        self.timer = context.eventLoop.scheduleTask(in: timeout) {
            promise.fail(TLSHandshakeTimeout(timeout: timeout))
            channel.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            self.timer?.cancel()
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self).peerCertificate
            self.promise.succeed(certificate)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.timer?.cancel()
        self.promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.promise.fail(ChannelError.inputClosed)
        context.fireChannelInactive()
    }
}

/// The TLS handshake did not complete in time.
struct TLSHandshakeTimeout: Error, CustomStringConvertible {
    let timeout: TimeAmount

    var description: String { "the TLS handshake did not complete within \(self.timeout.nanoseconds / 1_000_000) ms" }
}
