import SegmentsSQLite

/// The store's SQLite schema, created and upgraded by numbered migrations recorded in
/// `PRAGMA user_version`.
///
/// The change log is the event store: each accepted event batch is one `change_log` row whose
/// payload is the serialized `ChangeEntry`. Only two narrow tables are keyed by user on the
/// ingest path — `user_seqs` (which log entries mention a user, for deletion) and `event_ids`
/// (de-duplication) — because random-order B-tree inserts are what bound ingest speed.
enum StoreSchema {
    /// Migrations in order; migration `i` brings the database from version `i` to `i + 1`.
    static let migrations: [String] = [
        """
        CREATE TABLE meta(
            key TEXT PRIMARY KEY,
            value
        ) WITHOUT ROWID;
        CREATE TABLE change_log(
            seq INTEGER PRIMARY KEY,
            committed_at_ms INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            payload BLOB NOT NULL
        );
        CREATE TABLE users(
            user_key INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            attributes BLOB NOT NULL,
            created_seq INTEGER NOT NULL,
            updated_seq INTEGER NOT NULL
        );
        CREATE TABLE user_seqs(
            user_key INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY(user_key, seq)
        ) WITHOUT ROWID;
        CREATE TABLE event_ids(
            user_key INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            PRIMARY KEY(user_key, event_id)
        ) WITHOUT ROWID;
        CREATE TABLE segments(
            name TEXT PRIMARY KEY,
            expression TEXT NOT NULL,
            created_seq INTEGER NOT NULL,
            updated_seq INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
        // Static lists. `size` is kept with every change so listing lists does not count rows.
        """
        CREATE TABLE lists(
            list_key INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL DEFAULT 0,
            created_seq INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL
        );
        CREATE TABLE list_members(
            list_key INTEGER NOT NULL,
            user_key INTEGER NOT NULL,
            PRIMARY KEY(list_key, user_key)
        ) WITHOUT ROWID;
        CREATE INDEX list_members_by_user ON list_members(user_key);
        """,
        // Webhook registrations (see docs/webhooks.md). `segments` is the filter joined with ','
        // (segment names never contain one); empty = every segment. The secret is stored for the
        // change log's `WebhookAdded` entry only and is never returned by reads.
        """
        CREATE TABLE webhooks(
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            segments TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_seq INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
        // Deleted users' data kept replayable for registered feed subscribers (see
        // StoreDatabase+FeedRetention.swift): an entry's form before its first scrub, kept until
        // every subscriber's durable position reaches `release_seq`, the latest deletion that
        // scrubbed it.
        """
        CREATE TABLE held_entries(
            seq INTEGER PRIMARY KEY,
            payload BLOB NOT NULL,
            release_seq INTEGER NOT NULL
        );
        CREATE INDEX held_entries_by_release ON held_entries(release_seq);
        CREATE TABLE feed_subscribers(
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            durable_seq INTEGER NOT NULL,
            seen_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
        // Computed traits (segment language version 2). Segments reading a trait keep their expression with
        // every trait expanded in `evaluated_expression` (NULL when they read none): what the evaluator runs.
        """
        CREATE TABLE traits(
            name TEXT PRIMARY KEY,
            expression TEXT NOT NULL,
            created_seq INTEGER NOT NULL,
            updated_seq INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        ALTER TABLE segments ADD COLUMN evaluated_expression TEXT;
        """,
    ]

    /// Brings `connection` to the latest schema version.
    /// - Throws: ``ProfileStoreError`` when the file is from a newer version of the store.
    static func migrate(_ connection: SQLiteConnection) throws(ProfileStoreError) {
        do {
            let version = try connection.userVersion()
            guard version <= Self.migrations.count else {
                throw ProfileStoreError(
                    .startup,
                    "database schema version \(version) is newer than this store (\(Self.migrations.count))"
                )
            }
            for index in version..<Self.migrations.count {
                try connection.transaction(.immediate) {
                    try connection.execute(Self.migrations[index])
                    try connection.setUserVersion(index + 1)
                }
            }
        } catch let error as ProfileStoreError {
            throw error
        } catch {
            throw ProfileStoreError(.startup, "cannot migrate the database: \(error)", underlying: error)
        }
    }
}
