-- Chroma's collection schema (create_collection(schema=...)): the index settings per value type
-- and per metadata key, completed with Chroma's defaults when the collection was created, as
-- JSON. NULL on collections created before this column: their schema is derived from
-- `configuration` (every inverted index and full-text search on).
ALTER TABLE collections ADD COLUMN schema_json TEXT;
