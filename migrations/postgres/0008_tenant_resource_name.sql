-- Chroma's tenant resource name (PATCH /api/v2/tenants/{tenant}): set once, then fixed, and
-- unique among tenants, as Chroma's distributed catalog keeps it.
ALTER TABLE tenants ADD COLUMN resource_name TEXT;
CREATE UNIQUE INDEX tenants_resource_name ON tenants (resource_name) WHERE resource_name IS NOT NULL;
