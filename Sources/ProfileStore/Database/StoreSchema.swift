import SegmentsSQL

/// The store's schema on SQLite and on PostgreSQL, created and upgraded by numbered migrations
/// recorded in the database (SQLite's `PRAGMA user_version`, PostgreSQL's `schema_version` table).
/// The two hold the same tables; the statements the store runs are written in SQL both accept.
///
/// The change log is the event store: each accepted event batch is one `change_log` row whose
/// payload is the serialized `ChangeEntry`. Only two narrow tables are keyed by user on the
/// ingest path — `user_seqs` (which log entries mention a user, for deletion) and `event_ids`
/// (de-duplication) — because random-order B-tree inserts are what bound ingest speed.
enum StoreSchema {
    /// SQLite migrations in order; migration `i` brings the database from version `i` to `i + 1`.
    static let sqliteMigrations: [String] = [
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

    /// PostgreSQL migrations in order, numbered on their own. Text that is compared or sorted is in
    /// the `C` collation, so that names and ids sort by their bytes as on SQLite. `meta` holds integers
    /// only; the store's identity has a table of its own (on SQLite it is the text `meta` row `store_id`).
    /// `store_writer` names the store that is the writer, for the standbys (see ``WriterElection``).
    static let postgresMigrations: [String] = [
        """
        CREATE TABLE meta(
            key TEXT COLLATE "C" PRIMARY KEY,
            value BIGINT NOT NULL
        );
        CREATE TABLE store_identity(id TEXT NOT NULL);
        CREATE TABLE store_writer(
            id INTEGER PRIMARY KEY CHECK (id = 1),
            address TEXT NOT NULL,
            since_ms BIGINT NOT NULL
        );
        CREATE TABLE change_log(
            seq BIGINT PRIMARY KEY,
            committed_at_ms BIGINT NOT NULL,
            kind BIGINT NOT NULL,
            payload BYTEA NOT NULL
        );
        CREATE TABLE users(
            user_key BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            id TEXT COLLATE "C" NOT NULL UNIQUE,
            attributes BYTEA NOT NULL,
            created_seq BIGINT NOT NULL,
            updated_seq BIGINT NOT NULL
        );
        CREATE TABLE user_seqs(
            user_key BIGINT NOT NULL,
            seq BIGINT NOT NULL,
            PRIMARY KEY(user_key, seq)
        );
        CREATE TABLE event_ids(
            user_key BIGINT NOT NULL,
            event_id TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY(user_key, event_id)
        );
        CREATE TABLE segments(
            name TEXT COLLATE "C" PRIMARY KEY,
            expression TEXT NOT NULL,
            created_seq BIGINT NOT NULL,
            updated_seq BIGINT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            evaluated_expression TEXT
        );
        CREATE TABLE lists(
            list_key BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name TEXT COLLATE "C" NOT NULL UNIQUE,
            size BIGINT NOT NULL DEFAULT 0,
            created_seq BIGINT NOT NULL,
            created_at_ms BIGINT NOT NULL
        );
        CREATE TABLE list_members(
            list_key BIGINT NOT NULL,
            user_key BIGINT NOT NULL,
            PRIMARY KEY(list_key, user_key)
        );
        CREATE INDEX list_members_by_user ON list_members(user_key);
        CREATE TABLE webhooks(
            id TEXT COLLATE "C" PRIMARY KEY,
            url TEXT NOT NULL,
            segments TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_seq BIGINT NOT NULL
        );
        CREATE TABLE held_entries(
            seq BIGINT PRIMARY KEY,
            payload BYTEA NOT NULL,
            release_seq BIGINT NOT NULL
        );
        CREATE INDEX held_entries_by_release ON held_entries(release_seq);
        CREATE TABLE feed_subscribers(
            id TEXT COLLATE "C" PRIMARY KEY,
            name TEXT NOT NULL,
            durable_seq BIGINT NOT NULL,
            seen_at_ms BIGINT NOT NULL
        );
        CREATE TABLE traits(
            name TEXT COLLATE "C" PRIMARY KEY,
            expression TEXT NOT NULL,
            created_seq BIGINT NOT NULL,
            updated_seq BIGINT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL
        );
        """
    ]

    /// Brings `connection` to the latest schema version of `migrations`.
    /// - Throws: ``ProfileStoreError`` when the database is from a newer version of the store.
    static func migrate(_ connection: any SQLConnection, _ migrations: [String]) throws(ProfileStoreError) {
        do {
            let version = try connection.userVersion()
            guard version <= migrations.count else {
                throw ProfileStoreError(
                    .startup,
                    "database schema version \(version) is newer than this store (\(migrations.count)): "
                        + "run the store's newer version, or restore a backup made before the upgrade"
                )
            }
            for index in version..<migrations.count {
                try connection.writeTransaction {
                    try connection.execute(migrations[index])
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
