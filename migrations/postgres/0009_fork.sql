-- Copy-on-write forks (Chroma's collection.fork). A fork is a collection row of its own that
-- starts from its parent's current index version: the same manifest key, so the parent's
-- index files are shared by reference and never copied.
--
-- lineage_root: the collection the lineage started from (NULL on a collection never forked
-- from another: it is its own root). fork_count counts the live rows with this root.
ALTER TABLE collections ADD COLUMN lineage_root TEXT;
-- forked_from: the parent; forked_at_offset: the parent's log position at the fork (its state
-- at that offset is the fork's starting state).
ALTER TABLE collections ADD COLUMN forked_from TEXT;
ALTER TABLE collections ADD COLUMN forked_at_offset BIGINT;
-- Set while the parent's unindexed tail is being copied into the fork's log; cleared when the
-- fork is complete. A fork still pending after the grace period was abandoned (its request
-- failed): the collector deletes it.
ALTER TABLE collections ADD COLUMN fork_pending_since_ms BIGINT;
CREATE INDEX collections_lineage ON collections (lineage_root) WHERE lineage_root IS NOT NULL;
CREATE INDEX collections_fork_pending ON collections (fork_pending_since_ms)
    WHERE fork_pending_since_ms IS NOT NULL;
-- Index files are shared between collections: before the collector deletes a version's
-- objects it asks whether any other row still references the same manifest.
CREATE INDEX collection_versions_by_manifest ON collection_versions (manifest);
CREATE INDEX collections_by_manifest ON collections (manifest) WHERE manifest IS NOT NULL;
-- Shared versions whose last references may be going away at the same time (a parent's old
-- version collected while its fork is purged, by two collectors): each removal of a reference
-- to a version that another collection still shares records its manifest here in the same
-- transaction, and the collector deletes the objects once no row references it any more, so
-- neither side has to see the other's removal.
CREATE TABLE shared_version_garbage (
    manifest TEXT PRIMARY KEY,
    since_ms BIGINT NOT NULL
);
