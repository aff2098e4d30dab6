-- Membership (the nodes table of 0001): every distributed node registers itself and
-- heartbeats; routing hashes over the nodes of a role whose heartbeat is recent. Rows of
-- stopped nodes are removed on shutdown, or pruned once they are long stale.
ALTER TABLE nodes ADD COLUMN started_at_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX nodes_by_role ON nodes (role, heartbeat_at_ms);

-- A compaction attempt is recorded before it writes any object, and forgotten when its version
-- is registered or its objects are discarded. An attempt still here after the grace period was
-- abandoned (its compactor died): the collector deletes its directory.
CREATE TABLE compaction_attempts (
    dir TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL
);
CREATE INDEX compaction_attempts_by_age ON compaction_attempts (started_at_ms);
