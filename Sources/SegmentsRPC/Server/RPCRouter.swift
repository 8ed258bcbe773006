import Foundation
import Logging
import SegmentsWire
import SwiftProtobuf

/// What a handler knows about the call it is serving.
public struct RPCCallContext: Sendable {
    /// The fully qualified method name.
    public let method: String
    /// The process that made the call, when the kernel described it.
    public let peer: RPCPeer?
    /// The caller's role (at least the method's).
    public let role: RPCRole
    /// A logger carrying the connection and call ids as metadata.
    public let logger: Logger
}

/// Maps method names to the code that serves them.
///
/// Handlers come in these kinds:
/// - ``registerInline(_:_:)``: a unary handler run synchronously on the connection's event loop.
///   The fastest path, for handlers that only read memory and never block.
/// - ``register(_:_:)-(UnaryMethod,_)``: a unary async handler run in its own task.
/// - ``registerSerialized(_:_:)``: the same, handed the request undecoded.
/// - ``register(_:inline:_:)``: a unary handler tried on the event loop first, and run as an async
///   task only when it cannot answer without waiting.
/// - ``register(_:_:)-(ServerStreamMethod,_)``: a server-streaming handler that writes responses
///   through an ``RPCResponseWriter`` and is cancelled when the client cancels or disconnects.
public struct RPCRouter: Sendable {
    enum Handler: Sendable {
        case inline(@Sendable (Data) throws -> [UInt8])
        case unary(@Sendable (Data, RPCCallContext) async throws -> [UInt8])
        case inlineFirst(
            inline: @Sendable (Data) throws -> [UInt8]?,
            fallback: @Sendable (Data, RPCCallContext) async throws -> [UInt8]
        )
        case serverStream(@Sendable (Data, RPCStreamSink, RPCCallContext) async throws -> Void)
    }

    var handlers: [String: Handler] = [:]
    /// When set, every call, whatever its method, is answered with this error (see ``refusingEveryCall(_:)``).
    var refusal: (@Sendable () -> RPCError)?
    /// The least role each method needs (from its declaration); a call by a connection with less is refused.
    var requiredRoles: [String: RPCRole] = [:]

    /// Creates an empty router.
    public init() {}

    /// A router that answers every call with `error()`, read at each call: a daemon that is up but may
    /// not serve (a standby profile store) says so, and why, to anyone who asks.
    public static func refusingEveryCall(_ error: @escaping @Sendable () -> RPCError) -> RPCRouter {
        var router = RPCRouter()
        router.refusal = error
        return router
    }

    /// Serves `method` synchronously on the event loop. The handler must not block or wait.
    /// - Parameters:
    ///   - method: the method served.
    ///   - handler: computes the response; throw ``RPCError`` to answer with a status.
    public mutating func registerInline<Request, Response>(
        _ method: UnaryMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request) throws -> Response
    ) {
        self.requiredRoles[method.name] = method.role
        self.handlers[method.name] = .inline { buffer in
            let request = try Self.decode(Request.self, from: buffer)
            return try handler(request).serializedBytes()
        }
    }

    /// Serves `method` with an async handler run in a task of its own.
    /// - Parameters:
    ///   - method: the method served.
    ///   - handler: computes the response; throw ``RPCError`` to answer with a status.
    public mutating func register<Request, Response>(
        _ method: UnaryMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCCallContext) async throws -> Response
    ) {
        self.requiredRoles[method.name] = method.role
        self.handlers[method.name] = .unary { buffer, context in
            let request = try Self.decode(Request.self, from: buffer)
            return try await handler(request, context).serializedBytes()
        }
    }

    /// Serves `method` on the event loop when `inline` can answer at once, else with `handler` in a
    /// task of its own: for reads that usually need nothing but memory and sometimes must wait.
    /// - Parameters:
    ///   - method: the method served.
    ///   - inline: returns the response, or `nil` when answering would mean waiting; must not block.
    ///   - handler: computes the response when `inline` returned `nil`.
    public mutating func register<Request, Response>(
        _ method: UnaryMethod<Request, Response>,
        inline: @escaping @Sendable (Request) throws -> Response?,
        _ handler: @escaping @Sendable (Request, RPCCallContext) async throws -> Response
    ) {
        self.requiredRoles[method.name] = method.role
        self.handlers[method.name] = .inlineFirst(
            inline: { buffer in
                let request = try Self.decode(Request.self, from: buffer)
                return try inline(request)?.serializedBytes()
            },
            fallback: { buffer, context in
                let request = try Self.decode(Request.self, from: buffer)
                return try await handler(request, context).serializedBytes()
            }
        )
    }

    /// Serves `method` with an async handler that receives the request still serialized, for
    /// handlers that decode it themselves (e.g. to keep parts of it as bytes).
    /// - Parameters:
    ///   - method: the method served.
    ///   - handler: decodes the request from its serialized bytes and computes the response;
    ///     it must answer a malformed request with ``RPCError`` `.invalidArgument` itself.
    public mutating func registerSerialized<Request, Response>(
        _ method: UnaryMethod<Request, Response>,
        _ handler: @escaping @Sendable (Data, RPCCallContext) async throws -> Response
    ) {
        self.requiredRoles[method.name] = method.role
        self.handlers[method.name] = .unary { buffer, context in
            try await handler(buffer, context).serializedBytes()
        }
    }

    /// Serves a server-streaming `method`.
    /// - Parameters:
    ///   - method: the method served.
    ///   - handler: writes any number of responses and returns to end the stream with OK, or
    ///     throws ``RPCError`` to end it with that status. It is cancelled when the client
    ///     cancels the call or disconnects, or the server shuts down.
    public mutating func register<Request, Response>(
        _ method: ServerStreamMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCResponseWriter<Response>, RPCCallContext) async throws -> Void
    ) {
        self.requiredRoles[method.name] = method.role
        self.handlers[method.name] = .serverStream { buffer, sink, context in
            let request = try Self.decode(Request.self, from: buffer)
            try await handler(request, RPCResponseWriter(sink: sink), context)
        }
    }

    private static func decode<Request: Message>(_ type: Request.Type, from payload: Data) throws -> Request {
        do {
            return try Request(serializedBytes: payload)
        } catch {
            throw RPCError(.invalidArgument, "request is not a valid \(Request.protoMessageName) message")
        }
    }
}
