-- Log fragments that end at or below this offset have been deleted. Any compactor collects a
-- collection's fragments up to the compacted offset of its newest version registered more than
-- the grace period ago, then advances this; nothing depends on the memory of the log node
-- that wrote them, so a node that dies leaks nothing. Existing collections start at 0: the
-- first rounds after the upgrade also collect what dead log nodes left behind.
ALTER TABLE collections ADD COLUMN log_collected_offset BIGINT NOT NULL DEFAULT 0;
-- The collector's work queue, kept small: collections compacted past what was collected.
CREATE INDEX collections_log_garbage ON collections (id)
    WHERE compacted_offset > log_collected_offset AND deleted_at_ms IS NULL;
