PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
PRAGMA cache_size=-262144;
CREATE TABLE events(event_key INTEGER PRIMARY KEY, user_key INTEGER NOT NULL, at_ms INTEGER NOT NULL, name TEXT NOT NULL, properties BLOB, event_id TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1100000)
INSERT INTO events(user_key, at_ms, name, properties, event_id)
SELECT abs(random()) % 100000 + 1, 1760000000000 + i * 3, 'page_view', randomblob(40), CASE WHEN abs(random()) % 100 < 60 THEN 'e-' || i END FROM n;
.timer on
-- Side index for the first 1M events, built in one go (sort + bulk build).
CREATE TABLE user_events(user_key INTEGER NOT NULL, event_key INTEGER NOT NULL, PRIMARY KEY(user_key, event_key)) WITHOUT ROWID;
CREATE TABLE event_ids(user_key INTEGER NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY(user_key, event_id)) WITHOUT ROWID;
BEGIN; INSERT INTO user_events SELECT user_key, event_key FROM events WHERE event_key <= 1000000 ORDER BY 1, 2;
INSERT INTO event_ids SELECT user_key, event_id FROM events WHERE event_key <= 1000000 AND event_id IS NOT NULL ORDER BY 1, 2; COMMIT;
-- Merge the next 100k events into both side indexes, sorted, in one transaction.
BEGIN; INSERT INTO user_events SELECT user_key, event_key FROM events WHERE event_key > 1000000 ORDER BY 1, 2;
INSERT INTO event_ids SELECT user_key, event_id FROM events WHERE event_key > 1000000 AND event_id IS NOT NULL ORDER BY 1, 2; COMMIT;
.timer off
SELECT count(*) FROM user_events; SELECT count(*) FROM event_ids;
