import ArgumentParser

/// `segclient`: the command line of Segments.
@main
struct SegClient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segclient",
        abstract: "Write profiles and events to Segments, manage segments, and ask who is in them.",
        discussion: """
            The store's socket comes from --store, else $SEGMENTS_STORE_SOCKET, else \
            /run/segments/store.sock when it exists (systemd), else \
            $XDG_RUNTIME_DIR/segments/store.sock (or /tmp/segments/store.sock).
            """,
        version: "0.1.0",
        subcommands: [
            ProfileCommand.self,
            TrackCommand.self,
            ImportCommand.self,
            SegmentCommand.self,
            TraitCommand.self,
            TraitsCommand.self,
            ListCommand.self,
            OverlapCommand.self,
            CheckCommand.self,
            MembersCommand.self,
            SegmentsOfCommand.self,
            ExplainCommand.self,
            HistoryCommand.self,
            SizeCommand.self,
            WatchCommand.self,
            ClockCommand.self,
            StatusCommand.self,
            TopCommand.self,
            WebhookCommand.self,
        ]
    )
}
