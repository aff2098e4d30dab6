-- Operations status: the last compaction failure of each collection, so `silt admin status`
-- can list failing collections whichever compactor tried them. Written only on failure (rare,
-- and backed off), cleared by the next successful registration: no cost on the happy path.
ALTER TABLE collections ADD COLUMN compaction_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN last_compaction_error TEXT;
ALTER TABLE collections ADD COLUMN last_compaction_failed_at_ms BIGINT;
