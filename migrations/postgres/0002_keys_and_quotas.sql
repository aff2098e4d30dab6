-- API keys get a label for operators; their scope is JSON text:
-- {"access": "read" | "write", "databases": null | ["db", ...]}.
ALTER TABLE api_keys ADD COLUMN label TEXT;

-- Per-tenant quota overrides, as JSON text holding only the limits that differ from the
-- server's defaults (e.g. {"max_batch_size": 100}).
CREATE TABLE tenant_quotas (
    tenant TEXT PRIMARY KEY REFERENCES tenants(name),
    quotas TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
