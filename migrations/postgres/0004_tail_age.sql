-- When the oldest write that no index version holds yet was logged (NULL: the log is fully
-- compacted). Compactors schedule the oldest tails first and, after a restart, still know how
-- long each has waited.
ALTER TABLE collections ADD COLUMN tail_since_ms BIGINT;
UPDATE collections SET tail_since_ms = 0 WHERE log_position > compacted_offset;
CREATE INDEX collections_tail_age ON collections (tail_since_ms, id)
    WHERE tail_since_ms IS NOT NULL AND deleted_at_ms IS NULL;
