import SwiftProtobuf

/// A unary method: one request message, one response message.
public struct UnaryMethod<Request: Message, Response: Message>: Sendable {
    /// Fully qualified name, e.g. `segments.v1.ProfileStore/UpsertProfiles`.
    public let name: String
    /// The least role a caller needs for this method.
    public let role: RPCRole

    /// Declares a method.
    /// - Parameters:
    ///   - name: the fully qualified method name.
    ///   - role: the least role a caller needs; `admin` unless stated, so that a method nobody classified is
    ///     refused to everyone else.
    public init(_ name: String, role: RPCRole = .admin) {
        self.name = name
        self.role = role
    }
}

/// A server-streaming method: one request message, any number of response messages.
public struct ServerStreamMethod<Request: Message, Response: Message>: Sendable {
    /// Fully qualified name, e.g. `segments.v1.ProfileStore/Subscribe`.
    public let name: String
    /// The least role a caller needs for this method.
    public let role: RPCRole

    /// Declares a method.
    /// - Parameters:
    ///   - name: the fully qualified method name.
    ///   - role: the least role a caller needs; `admin` unless stated, so that a method nobody classified is
    ///     refused to everyone else.
    public init(_ name: String, role: RPCRole = .admin) {
        self.name = name
        self.role = role
    }
}

/// The methods of `segments.v1.ProfileStore` (see `Protos/segments/v1/store.proto`).
public enum ProfileStoreAPI {
    static let service = "segments.v1.ProfileStore/"
    public static let upsertProfiles = UnaryMethod<Segments_V1_UpsertProfilesRequest, Segments_V1_WriteResponse>(
        service + "UpsertProfiles",
        role: .writer
    )
    public static let getProfile = UnaryMethod<Segments_V1_GetProfileRequest, Segments_V1_GetProfileResponse>(
        service + "GetProfile",
        role: .reader
    )
    public static let listUserEvents = UnaryMethod<
        Segments_V1_ListUserEventsRequest, Segments_V1_ListUserEventsResponse
    >(
        service + "ListUserEvents",
        role: .reader
    )
    public static let deleteProfile = UnaryMethod<Segments_V1_DeleteProfileRequest, Segments_V1_WriteResponse>(
        service + "DeleteProfile",
        role: .admin
    )
    public static let trackEvents = UnaryMethod<Segments_V1_TrackEventsRequest, Segments_V1_WriteResponse>(
        service + "TrackEvents",
        role: .writer
    )
    public static let putSegment = UnaryMethod<Segments_V1_PutSegmentRequest, Segments_V1_PutSegmentResponse>(
        service + "PutSegment",
        role: .admin
    )
    public static let getSegment = UnaryMethod<Segments_V1_GetSegmentRequest, Segments_V1_Segment>(
        service + "GetSegment",
        role: .reader
    )
    public static let listSegments = UnaryMethod<Segments_V1_ListSegmentsRequest, Segments_V1_ListSegmentsResponse>(
        service + "ListSegments",
        role: .reader
    )
    public static let deleteSegment = UnaryMethod<Segments_V1_DeleteSegmentRequest, Segments_V1_WriteResponse>(
        service + "DeleteSegment",
        role: .admin
    )
    public static let putTrait = UnaryMethod<Segments_V1_PutTraitRequest, Segments_V1_PutTraitResponse>(
        service + "PutTrait",
        role: .admin
    )
    public static let getTrait = UnaryMethod<Segments_V1_GetTraitRequest, Segments_V1_Trait>(
        service + "GetTrait",
        role: .reader
    )
    public static let listTraits = UnaryMethod<Segments_V1_ListTraitsRequest, Segments_V1_ListTraitsResponse>(
        service + "ListTraits",
        role: .reader
    )
    public static let deleteTrait = UnaryMethod<Segments_V1_DeleteTraitRequest, Segments_V1_WriteResponse>(
        service + "DeleteTrait",
        role: .admin
    )
    public static let getTraitValues = UnaryMethod<
        Segments_V1_GetTraitValuesRequest, Segments_V1_GetTraitValuesResponse
    >(
        service + "GetTraitValues",
        role: .reader
    )
    public static let createList = UnaryMethod<Segments_V1_CreateListRequest, Segments_V1_WriteResponse>(
        service + "CreateList",
        role: .writer
    )
    public static let changeListMembers = UnaryMethod<Segments_V1_ChangeListMembersRequest, Segments_V1_WriteResponse>(
        service + "ChangeListMembers",
        role: .writer
    )
    public static let listMembers = ServerStreamMethod<Segments_V1_ListMembersRequest, Segments_V1_UserIdChunk>(
        service + "ListMembers",
        role: .reader
    )
    public static let listLists = UnaryMethod<Segments_V1_ListListsRequest, Segments_V1_ListListsResponse>(
        service + "ListLists",
        role: .reader
    )
    public static let deleteList = UnaryMethod<Segments_V1_DeleteListRequest, Segments_V1_WriteResponse>(
        service + "DeleteList",
        role: .admin
    )
    public static let setClock = UnaryMethod<Segments_V1_SetClockRequest, Segments_V1_ClockResponse>(
        service + "SetClock",
        role: .admin
    )
    public static let getInfo = UnaryMethod<Segments_V1_GetInfoRequest, Segments_V1_StoreInfo>(
        service + "GetInfo",
        role: .reader
    )
    public static let subscribe = ServerStreamMethod<Segments_V1_SubscribeRequest, Segments_V1_ChangeBatch>(
        service + "Subscribe",
        role: .reader
    )
    public static let readSnapshot = ServerStreamMethod<Segments_V1_ReadSnapshotRequest, Segments_V1_SnapshotChunk>(
        service + "ReadSnapshot",
        role: .reader
    )
    public static let acknowledgeFeed = UnaryMethod<
        Segments_V1_AcknowledgeFeedRequest, Segments_V1_AcknowledgeFeedResponse
    >(service + "AcknowledgeFeed", role: .writer)
}

/// The methods of `segments.v1.Evaluator` (see `Protos/segments/v1/evaluator.proto`).
public enum EvaluatorAPI {
    static let service = "segments.v1.Evaluator/"
    public static let check = UnaryMethod<Segments_V1_CheckRequest, Segments_V1_CheckResponse>(
        service + "Check",
        role: .reader
    )
    public static let segmentsOf = UnaryMethod<Segments_V1_SegmentsOfRequest, Segments_V1_SegmentsOfResponse>(
        service + "SegmentsOf",
        role: .reader
    )
    public static let members = ServerStreamMethod<Segments_V1_MembersRequest, Segments_V1_MembersChunk>(
        service + "Members",
        role: .reader
    )
    public static let countMembers = UnaryMethod<Segments_V1_CountMembersRequest, Segments_V1_CountMembersResponse>(
        service + "CountMembers",
        role: .reader
    )
    public static let preview = UnaryMethod<Segments_V1_PreviewRequest, Segments_V1_PreviewResponse>(
        service + "Preview",
        role: .reader
    )
    public static let explain = UnaryMethod<Segments_V1_ExplainRequest, Segments_V1_ExplainResponse>(
        service + "Explain",
        role: .reader
    )
    public static let watch = ServerStreamMethod<Segments_V1_WatchRequest, Segments_V1_TransitionBatch>(
        service + "Watch",
        role: .reader
    )
    public static let history = ServerStreamMethod<Segments_V1_HistoryRequest, Segments_V1_TransitionBatch>(
        service + "History",
        role: .reader
    )
    public static let overlap = UnaryMethod<Segments_V1_OverlapRequest, Segments_V1_OverlapResponse>(
        service + "Overlap",
        role: .reader
    )
    public static let sizeSeries = UnaryMethod<Segments_V1_SizeSeriesRequest, Segments_V1_SizeSeriesResponse>(
        service + "SizeSeries",
        role: .reader
    )
    public static let getStatus = UnaryMethod<Segments_V1_GetStatusRequest, Segments_V1_EvaluatorStatus>(
        service + "GetStatus",
        role: .reader
    )
}
