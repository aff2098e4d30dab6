//! Index versions: registration by compare-and-swap, and what the garbage collector may delete.

use silt_common::CollectionId;
use sqlx::{AssertSqlSafe, Row};

use crate::collections::collection_id;
use crate::{SysDb, SysDbError, VersionRecord};

impl SysDb {
    /// Makes `new` the current version of its collection if the current one is still
    /// `expected_version`. Returns false when another compactor won the race (nothing changes).
    /// Its size is recorded as unknown (0); compactors use `register_version_of_size`.
    pub async fn register_version(
        &self,
        expected_version: u64,
        new: &VersionRecord,
    ) -> Result<bool, SysDbError> {
        self.register_version_of_size(expected_version, new, 0)
            .await
    }

    /// `register_version`, recording that the version's objects take `bytes` (metering).
    /// The same compare-and-swap sheds the log bytes it compacted: all of them when it
    /// reaches the log position, otherwise the compacted share of the tail's offsets (the
    /// catalog does not know each fragment's size; exact again once the log is compacted).
    pub async fn register_version_of_size(
        &self,
        expected_version: u64,
        new: &VersionRecord,
        bytes: u64,
    ) -> Result<bool, SysDbError> {
        let id = new.collection_id.to_string();
        let now = self.now_ms();
        let mut tx = self.pool.begin().await?;
        let swapped = sqlx::query(
            "UPDATE collections SET version = $1, compacted_offset = $2, manifest = $3, \
             tail_since_ms = CASE WHEN log_position > $2 THEN tail_since_ms ELSE NULL END, \
             compaction_failures = 0, last_compaction_error = NULL, \
             last_compaction_failed_at_ms = NULL, \
             log_bytes = CASE WHEN log_position <= $2 THEN 0 \
                 WHEN $2 <= compacted_offset THEN log_bytes \
                 ELSE log_bytes * (log_position - $2) / (log_position - compacted_offset) END \
             WHERE id = $4 AND version = $5 AND deleted_at_ms IS NULL RETURNING version",
        )
        .bind(new.version as i64)
        .bind(new.compacted_offset as i64)
        .bind(&new.manifest)
        .bind(&id)
        .bind(expected_version as i64)
        .fetch_optional(&mut *tx)
        .await?;
        if swapped.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE collection_versions SET superseded_at_ms = $1 WHERE collection_id = $2 AND superseded_at_ms IS NULL")
            .bind(now)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO collection_versions (collection_id, version, manifest, compacted_offset, record_count, created_at_ms, bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(new.version as i64)
        .bind(&new.manifest)
        .bind(new.compacted_offset as i64)
        .bind(new.record_count as i64)
        .bind(now)
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Versions superseded before `before_ms`: no reader that started after the grace period
    /// can still hold them.
    pub async fn superseded_versions(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<VersionRecord>, SysDbError> {
        let rows = sqlx::query(
            "SELECT collection_id, version, manifest, compacted_offset, record_count, superseded_at_ms \
             FROM collection_versions WHERE superseded_at_ms IS NOT NULL AND superseded_at_ms < $1 LIMIT $2",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let version: i64 = r.try_get("version")?;
                let offset: i64 = r.try_get("compacted_offset")?;
                let count: i64 = r.try_get("record_count")?;
                Ok(VersionRecord {
                    collection_id: collection_id(r, "collection_id")?,
                    version: version as u64,
                    manifest: r.try_get("manifest")?,
                    compacted_offset: offset as u64,
                    record_count: count as u64,
                    superseded_at_ms: r.try_get("superseded_at_ms")?,
                })
            })
            .collect()
    }

    /// Forgets a superseded version once its objects are deleted, or, when another collection
    /// (a fork) still shares them, once that reference is recorded: the same transaction notes
    /// the manifest in `shared_version_garbage`, so that whoever removes the last reference,
    /// even concurrently with this, leaves the collector a record to delete the objects by.
    pub async fn forget_version(
        &self,
        collection: CollectionId,
        version: u64,
    ) -> Result<(), SysDbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO shared_version_garbage (manifest, since_ms) \
             SELECT v.manifest, $3 FROM collection_versions v \
             WHERE v.collection_id = $1 AND v.version = $2 AND v.superseded_at_ms IS NOT NULL \
               AND {SHARED_ELSEWHERE} \
             ON CONFLICT (manifest) DO NOTHING"
        )))
        .bind(collection.to_string())
        .bind(version as i64)
        .bind(self.now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM collection_versions WHERE collection_id = $1 AND version = $2 AND superseded_at_ms IS NOT NULL")
            .bind(collection.to_string())
            .bind(version as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Collections soft-deleted before `before_ms`, whose objects may now be removed.
    pub async fn deleted_collections(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<CollectionId>, SysDbError> {
        let rows = sqlx::query("SELECT id FROM collections WHERE deleted_at_ms IS NOT NULL AND deleted_at_ms < $1 LIMIT $2")
            .bind(before_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| collection_id(r, "id")).collect()
    }

    /// Removes every catalog trace of a deleted collection, after its objects are gone (all
    /// but the versions other collections share: those are noted in `shared_version_garbage`
    /// in the same transaction, see `forget_version`).
    pub async fn purge_collection(&self, id: CollectionId) -> Result<(), SysDbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO shared_version_garbage (manifest, since_ms) \
             SELECT DISTINCT v.manifest, $2 FROM collection_versions v \
             WHERE v.collection_id = $1 AND {SHARED_ELSEWHERE} \
             ON CONFLICT (manifest) DO NOTHING"
        )))
        .bind(id.to_string())
        .bind(self.now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM collection_versions WHERE collection_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM collections WHERE id = $1 AND deleted_at_ms IS NOT NULL")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// SQL condition: the manifest of version row `v` is referenced by a row of another collection.
const SHARED_ELSEWHERE: &str = "(EXISTS (SELECT 1 FROM collection_versions o \
         WHERE o.manifest = v.manifest AND o.collection_id <> v.collection_id) \
     OR EXISTS (SELECT 1 FROM collections o \
         WHERE o.manifest = v.manifest AND o.id <> v.collection_id))";

/// Compaction attempts: recorded before an attempt writes objects, so that the directory of an
/// attempt whose compactor died can be found and deleted without listing the object store.
impl SysDb {
    pub async fn begin_compaction_attempt(
        &self,
        collection: CollectionId,
        dir: &str,
    ) -> Result<(), SysDbError> {
        sqlx::query(
            "INSERT INTO compaction_attempts (dir, collection_id, started_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(dir)
        .bind(collection.to_string())
        .bind(self.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The attempt's objects are now either referenced by a registered version or deleted.
    pub async fn end_compaction_attempt(&self, dir: &str) -> Result<(), SysDbError> {
        sqlx::query("DELETE FROM compaction_attempts WHERE dir = $1")
            .bind(dir)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Attempts started before `before_ms` that never ended: abandoned by a compactor that died.
    /// An attempt whose version was registered is excluded even if its end was not recorded.
    pub async fn abandoned_compaction_attempts(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<(CollectionId, String)>, SysDbError> {
        let rows = sqlx::query(
            "SELECT a.collection_id, a.dir FROM compaction_attempts a WHERE a.started_at_ms < $1 \
             AND NOT EXISTS (SELECT 1 FROM collections c \
                 WHERE c.id = a.collection_id AND c.manifest LIKE a.dir || '/%') \
             AND NOT EXISTS (SELECT 1 FROM collection_versions v \
                 WHERE v.collection_id = a.collection_id AND v.manifest LIKE a.dir || '/%') \
             LIMIT $2",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((collection_id(r, "collection_id")?, r.try_get("dir")?)))
            .collect()
    }
}
