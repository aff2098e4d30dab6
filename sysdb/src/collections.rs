//! Collections: create, look up, list, modify, soft-delete, and the per-collection log and
//! dimension bookkeeping the write path needs.

use serde_json::Value;
use silt_common::CollectionId;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Collection, CollectionUpdate, NewCollection, SysDb, SysDbError};

const SELECT_COLLECTION: &str = "SELECT c.id, c.tenant, d.name AS database_name, c.database_id, \
    c.name, c.dimension, c.metadata, c.configuration, c.schema_json, c.version, \
    c.compacted_offset, c.log_position, c.manifest FROM collections c JOIN databases d ON d.id = c.database_id";

fn json_column(row: &AnyRow, col: &str) -> Result<Option<Value>, SysDbError> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| SysDbError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

pub(crate) fn to_u64(row: &AnyRow, col: &str) -> Result<u64, SysDbError> {
    let v: i64 = row.try_get(col)?;
    u64::try_from(v).map_err(|_| SysDbError::Corrupt(format!("{col} is negative")))
}

/// Reads a collection id column.
pub(crate) fn collection_id(row: &AnyRow, col: &str) -> Result<CollectionId, SysDbError> {
    let id: String = row.try_get(col)?;
    id.parse()
        .map_err(|e| SysDbError::Corrupt(format!("collection id {id:?}: {e}")))
}

fn collection_from_row(row: &AnyRow) -> Result<Collection, SysDbError> {
    let dimension: Option<i64> = row.try_get("dimension")?;
    Ok(Collection {
        id: collection_id(row, "id")?,
        tenant: row.try_get("tenant")?,
        database: row.try_get("database_name")?,
        database_id: row.try_get("database_id")?,
        name: row.try_get("name")?,
        dimension: dimension.map(|d| d as u32),
        metadata: json_column(row, "metadata")?,
        configuration: json_column(row, "configuration")?.unwrap_or(Value::Null),
        schema: json_column(row, "schema_json")?,
        version: to_u64(row, "version")?,
        compacted_offset: to_u64(row, "compacted_offset")?,
        log_position: to_u64(row, "log_position")?,
        manifest: row.try_get("manifest")?,
    })
}

fn collection_not_found(what: impl std::fmt::Display) -> SysDbError {
    SysDbError::NotFound(format!("Collection [{what}] does not exist"))
}

impl SysDb {
    pub async fn create_collection(
        &self,
        new: NewCollection,
    ) -> Result<(Collection, bool), SysDbError> {
        let db = self.get_database(&new.tenant, &new.database).await?;
        if new.get_or_create {
            if let Some(existing) = self.find_collection(&db.id, &new.name).await? {
                return Ok((existing, false));
            }
        }
        let id = CollectionId(self.entropy.uuid());
        let inserted = sqlx::query(
            "INSERT INTO collections (id, tenant, database_id, name, dimension, metadata, configuration, schema_json, created_at_ms, created_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM collections))",
        )
        .bind(id.to_string())
        .bind(&new.tenant)
        .bind(&db.id)
        .bind(&new.name)
        .bind(new.dimension.map(i64::from))
        .bind(new.metadata.as_ref().map(Value::to_string))
        .bind(new.configuration.to_string())
        .bind(new.schema.as_ref().map(Value::to_string))
        .bind(self.now_ms())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok((self.get_collection(id).await?, true)),
            Err(e) if SysDbError::is_unique_violation(&e) => {
                // Lost a race with another creator of the same name.
                match (
                    new.get_or_create,
                    self.find_collection(&db.id, &new.name).await?,
                ) {
                    (true, Some(existing)) => Ok((existing, false)),
                    _ => Err(SysDbError::AlreadyExists(format!(
                        "Collection [{}] already exists",
                        new.name
                    ))),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn find_collection(
        &self,
        database_id: &str,
        name: &str,
    ) -> Result<Option<Collection>, SysDbError> {
        // A fork still being made is not found by name (nor listed): nobody sees it before its
        // log holds the parent's tail (forks.rs). Its name is taken all the same.
        let sql = format!(
            "{SELECT_COLLECTION} WHERE c.database_id = $1 AND c.name = $2 \
             AND c.deleted_at_ms IS NULL AND c.fork_pending_since_ms IS NULL"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(database_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(collection_from_row).transpose()
    }

    pub async fn get_collection_by_name(
        &self,
        tenant: &str,
        database: &str,
        name: &str,
    ) -> Result<Collection, SysDbError> {
        let db = self.get_database(tenant, database).await?;
        self.find_collection(&db.id, name)
            .await?
            .ok_or_else(|| collection_not_found(name))
    }

    /// A live collection by id.
    pub async fn get_collection(&self, id: CollectionId) -> Result<Collection, SysDbError> {
        let sql = format!("{SELECT_COLLECTION} WHERE c.id = $1 AND c.deleted_at_ms IS NULL");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| collection_not_found(id))?;
        collection_from_row(&row)
    }

    pub async fn list_collections(
        &self,
        tenant: &str,
        database: &str,
        limit: Option<u32>,
        offset: u32,
    ) -> Result<Vec<Collection>, SysDbError> {
        let db = self.get_database(tenant, database).await?;
        let sql = format!(
            "{SELECT_COLLECTION} WHERE c.database_id = $1 AND c.deleted_at_ms IS NULL \
             AND c.fork_pending_since_ms IS NULL \
             ORDER BY c.created_seq, c.id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&db.id)
            .bind(limit.map_or(i64::MAX, i64::from))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(collection_from_row).collect()
    }

    pub async fn count_collections(&self, tenant: &str, database: &str) -> Result<u64, SysDbError> {
        let db = self.get_database(tenant, database).await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM collections WHERE database_id = $1 AND deleted_at_ms IS NULL \
             AND fork_pending_since_ms IS NULL",
        )
        .bind(&db.id)
        .fetch_one(&self.pool)
        .await?;
        to_u64(&row, "n")
    }

    /// Live collections of a tenant, across its databases (for the collections quota).
    pub async fn count_tenant_collections(&self, tenant: &str) -> Result<u64, SysDbError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM collections WHERE tenant = $1 AND deleted_at_ms IS NULL",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?;
        to_u64(&row, "n")
    }

    pub async fn update_collection(
        &self,
        id: CollectionId,
        update: CollectionUpdate,
    ) -> Result<Collection, SysDbError> {
        let current = self.get_collection(id).await?;
        let name = update.name.unwrap_or(current.name);
        let metadata = update.metadata.or(current.metadata);
        sqlx::query("UPDATE collections SET name = $1, metadata = $2 WHERE id = $3 AND deleted_at_ms IS NULL")
            .bind(&name)
            .bind(metadata.as_ref().map(Value::to_string))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(SysDbError::exists_or(|| format!("Collection [{name}] already exists")))?;
        self.get_collection(id).await
    }

    /// Replaces a live collection's configuration and, when given, its schema (Chroma's
    /// `modify(configuration=...)` changes both; the gateway merges the change into the current
    /// ones first). A collection without a stored schema keeps none.
    pub async fn set_collection_configuration(
        &self,
        id: CollectionId,
        configuration: &Value,
        schema: Option<&Value>,
    ) -> Result<(), SysDbError> {
        let done = sqlx::query(
            "UPDATE collections SET configuration = $1, schema_json = COALESCE($2, schema_json) \
             WHERE id = $3 AND deleted_at_ms IS NULL",
        )
        .bind(configuration.to_string())
        .bind(schema.map(Value::to_string))
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(SysDbError::NotFound(format!(
                "Collection [{id}] does not exist"
            )));
        }
        Ok(())
    }

    /// Replaces a live collection's schema only if it still is `expected` (a compare-and-swap
    /// on the stored text): the schema grows as writes bring new metadata keys, and two
    /// gateways adding different keys at once must not overwrite each other. False when the
    /// stored schema changed meanwhile (read it again and retry) or the collection is gone.
    pub async fn replace_collection_schema(
        &self,
        id: CollectionId,
        expected: &Value,
        schema: &Value,
    ) -> Result<bool, SysDbError> {
        let done = sqlx::query(
            "UPDATE collections SET schema_json = $1 \
             WHERE id = $2 AND schema_json = $3 AND deleted_at_ms IS NULL",
        )
        .bind(schema.to_string())
        .bind(id.to_string())
        .bind(expected.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Soft-deletes a collection by name; its objects are collected later.
    pub async fn delete_collection(
        &self,
        tenant: &str,
        database: &str,
        name: &str,
    ) -> Result<CollectionId, SysDbError> {
        let collection = self.get_collection_by_name(tenant, database, name).await?;
        let done = sqlx::query(
            "UPDATE collections SET deleted_at_ms = $1 WHERE id = $2 AND deleted_at_ms IS NULL",
        )
        .bind(self.now_ms())
        .bind(collection.id.to_string())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(collection_not_found(name));
        }
        Ok(collection.id)
    }

    /// Fixes the dimension on the first write that carries embeddings; a no-op when already set.
    pub async fn set_dimension_if_unset(
        &self,
        id: CollectionId,
        dimension: u32,
    ) -> Result<Collection, SysDbError> {
        sqlx::query("UPDATE collections SET dimension = $1 WHERE id = $2 AND dimension IS NULL")
            .bind(i64::from(dimension))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        self.get_collection(id).await
    }

    /// Records that the log of `id` reaches at least `position`.
    pub async fn advance_log_position(
        &self,
        id: CollectionId,
        position: u64,
    ) -> Result<(), SysDbError> {
        sqlx::query(
            "UPDATE collections SET log_position = $1, \
             tail_since_ms = COALESCE(tail_since_ms, $3) \
             WHERE id = $2 AND log_position < $1",
        )
        .bind(position as i64)
        .bind(id.to_string())
        .bind(self.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Live collections whose log runs past their index version.
    /// Collections with log entries past their version, largest unindexed tail first, with
    /// that tail's length in records.
    pub async fn uncompacted_collections(
        &self,
        limit: u32,
    ) -> Result<Vec<(CollectionId, u64)>, SysDbError> {
        Ok(self
            .due_for_compaction(u64::MAX, i64::MAX, None, limit)
            .await?
            .into_iter()
            .map(|t| (t.id, t.lag))
            .collect())
    }

    /// Collections whose unindexed tail holds at least `min_records` records or was started
    /// before `started_before_ms`, oldest tail first, a page at a time: pass the last row of
    /// a page as `after` for the next. Served by the `collections_tail_age` index, so paging
    /// through a million lagging collections is a range scan.
    pub async fn due_for_compaction(
        &self,
        min_records: u64,
        started_before_ms: i64,
        after: Option<&LaggingTail>,
        limit: u32,
    ) -> Result<Vec<LaggingTail>, SysDbError> {
        let (after_ms, after_id) = after.map_or((i64::MIN, String::new()), |t| {
            (t.tail_since_ms, t.id.to_string())
        });
        let rows = sqlx::query(
            "SELECT id, log_position - compacted_offset AS lag, tail_since_ms FROM collections \
             WHERE tail_since_ms IS NOT NULL AND deleted_at_ms IS NULL \
               AND log_position > compacted_offset \
               AND (tail_since_ms > $1 OR (tail_since_ms = $1 AND id > $2)) \
               AND (log_position - compacted_offset >= $3 OR tail_since_ms < $4) \
             ORDER BY tail_since_ms, id LIMIT $5",
        )
        .bind(after_ms)
        .bind(after_id)
        .bind(i64::try_from(min_records).unwrap_or(i64::MAX))
        .bind(started_before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LaggingTail {
                    id: collection_id(r, "id")?,
                    lag: to_u64(r, "lag")?,
                    tail_since_ms: r.try_get("tail_since_ms")?,
                })
            })
            .collect()
    }

    /// Ids of live collections, in id order, starting after `after` (for operators' listings).
    pub async fn collection_ids(
        &self,
        after: Option<CollectionId>,
        limit: u32,
    ) -> Result<Vec<CollectionId>, SysDbError> {
        let rows = sqlx::query(
            "SELECT id FROM collections WHERE deleted_at_ms IS NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| collection_id(r, "id")).collect()
    }
}

/// A collection whose log runs past its index version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaggingTail {
    pub id: CollectionId,
    /// Records logged and not yet indexed.
    pub lag: u64,
    /// When the oldest of them was logged.
    pub tail_since_ms: i64,
}
