-- Metering (issue 16). Stored bytes and records are derived from the catalog's own rows; the
-- activity counts (writes, queries, ...) are added up here by every gateway.

-- Bytes of log fragments committed and not yet folded into an index version (what the
-- tenant's data costs in log form on top of its version). Exact when the log is fully
-- compacted (0); a compaction that leaves part of the tail keeps that part's share.
ALTER TABLE collections ADD COLUMN log_bytes BIGINT NOT NULL DEFAULT 0;

-- Total size of a version's objects, recorded at registration (0: registered before 0006).
ALTER TABLE collection_versions ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;

-- Per-tenant activity, added to by each gateway's periodic flush (an additive UPSERT, so any
-- number of gateways add up).
CREATE TABLE tenant_usage (
    tenant TEXT PRIMARY KEY,
    writes BIGINT NOT NULL DEFAULT 0,
    queries BIGINT NOT NULL DEFAULT 0,
    records_written BIGINT NOT NULL DEFAULT 0,
    bytes_returned BIGINT NOT NULL DEFAULT 0,
    updated_at_ms BIGINT NOT NULL
);

-- A tenant's collections without a scan of everyone's (usage, the collections quota).
CREATE INDEX collections_by_tenant ON collections (tenant) WHERE deleted_at_ms IS NULL;
