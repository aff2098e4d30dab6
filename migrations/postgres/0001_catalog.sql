-- The catalog: tenants, databases, collections, versions, nodes, api keys.
-- Times are epoch milliseconds; ids are UUID text; JSON is stored as text.

CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE databases (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(name),
    name TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE collections (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    database_id TEXT NOT NULL,
    name TEXT NOT NULL,
    dimension BIGINT,
    metadata TEXT,
    configuration TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    compacted_offset BIGINT NOT NULL DEFAULT 0,
    log_position BIGINT NOT NULL DEFAULT 0,
    manifest TEXT,
    created_at_ms BIGINT NOT NULL,
    -- Creation order for listing; ties (concurrent creates) fall back to the id.
    created_seq BIGINT NOT NULL,
    deleted_at_ms BIGINT
);

-- Names are unique among live collections only: a soft-deleted name can be reused at once.
CREATE UNIQUE INDEX collections_live_name ON collections (database_id, name)
    WHERE deleted_at_ms IS NULL;

-- The compactor's work queue: collections whose log runs past their index version.
CREATE INDEX collections_uncompacted ON collections (id)
    WHERE log_position > compacted_offset AND deleted_at_ms IS NULL;

CREATE TABLE collection_versions (
    collection_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    manifest TEXT NOT NULL,
    compacted_offset BIGINT NOT NULL,
    record_count BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    superseded_at_ms BIGINT,
    PRIMARY KEY (collection_id, version)
);

CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    address TEXT NOT NULL,
    heartbeat_at_ms BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(name),
    key_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

INSERT INTO tenants (name, created_at_ms) VALUES ('default_tenant', 0);
INSERT INTO databases (id, tenant, name, created_at_ms)
    VALUES ('00000000-0000-0000-0000-000000000000', 'default_tenant', 'default_database', 0);
