import NIOCore
import NIOPosix
import SegmentsTesting
import SegmentsWire
import Testing

@testable import SegmentsClient

/// What a failed call's error tells: the code and message, the call it belongs to, the error beneath.
@Suite struct SegmentsClientErrorTests {
    @Test func anUnreachableDaemonNamesTheCallAndKeepsTheCause() async throws {
        try await TemporaryDirectory.with { directory in
            let client = SegmentsClient(configuration: .init(storeSocketPath: directory + "/nobody.sock"))
            do throws(SegmentsClientError) {
                _ = try await client.profile("u1")
                Issue.record("a call to a socket nobody listens on succeeded")
            } catch {
                #expect(error.code == .unavailable)
                #expect(error.message.contains("nobody.sock"), "\(error.message)")
                #expect(error.method == ProfileStoreAPI.getProfile.name)
                let cause = try #require(error.underlying as? RPCError)
                #expect(cause.code == .unavailable)
            }
            await client.close()
        }
    }

    @Test func aWatchThatCannotConnectIsNamed() async throws {
        try await TemporaryDirectory.with { directory in
            let client = SegmentsClient(
                configuration: .init(
                    storeSocketPath: directory + "/store.sock",
                    evaluatorSocketPaths: [directory + "/nobody.sock"]
                )
            )
            do throws(SegmentsClientError) {
                _ = try await client.watch()
                Issue.record("a watch of a socket nobody listens on started")
            } catch {
                #expect(error.code == .unavailable)
                #expect(error.method == EvaluatorAPI.watch.name)
            }
            await client.close()
        }
    }

    @Test func aCallLostWithItsConnectionIsNamed() async throws {
        try await TemporaryDirectory.with { directory in
            // A listener that answers every frame by closing: the call fails on the connection.
            let path = directory + "/closing.sock"
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    channel.pipeline.addHandler(CloseOnRead())
                }
                .bind(unixDomainSocketPath: path)
                .get()
            let client = SegmentsClient(configuration: .init(storeSocketPath: path))
            do throws(SegmentsClientError) {
                _ = try await client.track([SegmentsEvent(userID: "u1", name: "e")])
                Issue.record("a call the daemon dropped succeeded")
            } catch {
                #expect(error.method == ProfileStoreAPI.trackEvents.name)
                #expect(error.underlying is RPCError)
            }
            await client.close()
            try await server.close()
        }
    }

    @Test func equalityLeavesTheCauseOut() {
        let a = SegmentsClientError(.notFound, "no user 'u1'", method: "m", underlying: RPCError(.notFound, "x"))
        let b = SegmentsClientError(.notFound, "no user 'u1'", method: "m")
        #expect(a == b)
        #expect(a != SegmentsClientError(.notFound, "no user 'u1'", method: "other"))
    }

    /// Closes the connection on the first bytes received.
    final class CloseOnRead: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.close(promise: nil)
        }
    }
}
