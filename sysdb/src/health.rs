//! What operators ask of the catalog about the cluster's health: which collections lag behind
//! their log, which compactions happened lately, which keep failing, and how big a version is.
//! Everything here is read from rows the data path writes anyway, except a failure, which is
//! recorded only when a compaction fails (rare, and backed off by the scheduler).

use silt_common::CollectionId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::collections::{collection_id, to_u64};
use crate::{SysDb, SysDbError};

/// A collection named as an operator knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionName {
    pub id: CollectionId,
    pub tenant: String,
    pub database: String,
    pub name: String,
}

/// A collection whose log runs past its index version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lagging {
    pub collection: CollectionName,
    /// Records logged and not yet indexed.
    pub records: u64,
    /// When the oldest of them was logged.
    pub since_ms: i64,
}

/// A registered index version: one successful compaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    pub collection: CollectionName,
    pub version: u64,
    pub record_count: u64,
    pub bytes: u64,
    pub at_ms: i64,
}

/// A collection whose last compaction attempts failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionFailure {
    pub collection: CollectionName,
    /// Failures since the last successful compaction.
    pub failures: u64,
    pub last_error: String,
    pub at_ms: i64,
}

/// The size of one index version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionSize {
    pub record_count: u64,
    /// Bytes of its objects (0 when it was registered before sizes were recorded).
    pub bytes: u64,
    pub created_at_ms: i64,
}

const NAMED: &str = "c.id, c.tenant, d.name AS database_name, c.name";
const FROM_NAMED: &str = "FROM collections c JOIN databases d ON d.id = c.database_id";

fn named(row: &AnyRow) -> Result<CollectionName, SysDbError> {
    Ok(CollectionName {
        id: collection_id(row, "id")?,
        tenant: row.try_get("tenant")?,
        database: row.try_get("database_name")?,
        name: row.try_get("name")?,
    })
}

impl SysDb {
    /// Notes that compacting `id` failed with `error` (kept short: it is shown in a table).
    pub async fn record_compaction_failure(
        &self,
        id: CollectionId,
        error: &str,
    ) -> Result<(), SysDbError> {
        let error: String = error.chars().take(500).collect();
        sqlx::query(
            "UPDATE collections SET compaction_failures = compaction_failures + 1, \
             last_compaction_error = $1, last_compaction_failed_at_ms = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(self.now_ms())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Live collections with unindexed writes, the oldest tail first.
    pub async fn lagging_collections(&self, limit: u32) -> Result<Vec<Lagging>, SysDbError> {
        let sql = format!(
            "SELECT {NAMED}, c.log_position - c.compacted_offset AS lag, c.tail_since_ms \
             {FROM_NAMED} WHERE c.deleted_at_ms IS NULL AND c.log_position > c.compacted_offset \
             ORDER BY c.tail_since_ms, c.id LIMIT $1"
        );
        let rows = self.fetch_limited(sql, limit).await?;
        rows.iter()
            .map(|r| {
                Ok(Lagging {
                    collection: named(r)?,
                    records: to_u64(r, "lag")?,
                    since_ms: r.try_get::<Option<i64>, _>("tail_since_ms")?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// The most recently registered versions of live collections, newest first.
    pub async fn recent_compactions(&self, limit: u32) -> Result<Vec<Compaction>, SysDbError> {
        let sql = format!(
            "SELECT {NAMED}, v.version, v.record_count, v.bytes, v.created_at_ms {FROM_NAMED} \
             JOIN collection_versions v ON v.collection_id = c.id \
             WHERE c.deleted_at_ms IS NULL ORDER BY v.created_at_ms DESC LIMIT $1"
        );
        let rows = self.fetch_limited(sql, limit).await?;
        rows.iter()
            .map(|r| {
                Ok(Compaction {
                    collection: named(r)?,
                    version: to_u64(r, "version")?,
                    record_count: to_u64(r, "record_count")?,
                    bytes: to_u64(r, "bytes")?,
                    at_ms: r.try_get("created_at_ms")?,
                })
            })
            .collect()
    }

    /// Live collections whose compaction failed since it last succeeded, latest failure first.
    pub async fn failing_collections(
        &self,
        limit: u32,
    ) -> Result<Vec<CompactionFailure>, SysDbError> {
        let sql = format!(
            "SELECT {NAMED}, c.compaction_failures, c.last_compaction_error, \
             c.last_compaction_failed_at_ms {FROM_NAMED} \
             WHERE c.deleted_at_ms IS NULL AND c.compaction_failures > 0 \
             ORDER BY c.last_compaction_failed_at_ms DESC LIMIT $1"
        );
        let rows = self.fetch_limited(sql, limit).await?;
        rows.iter()
            .map(|r| {
                Ok(CompactionFailure {
                    collection: named(r)?,
                    failures: to_u64(r, "compaction_failures")?,
                    last_error: r
                        .try_get::<Option<String>, _>("last_compaction_error")?
                        .unwrap_or_default(),
                    at_ms: r
                        .try_get::<Option<i64>, _>("last_compaction_failed_at_ms")?
                        .unwrap_or(0),
                })
            })
            .collect()
    }

    /// Rows of `sql`, whose one parameter `$1` is the row limit.
    async fn fetch_limited(&self, sql: String, limit: u32) -> Result<Vec<AnyRow>, SysDbError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Size of version `version` of `id` (`None` for version 0, or one already collected).
    pub async fn version_size(
        &self,
        id: CollectionId,
        version: u64,
    ) -> Result<Option<VersionSize>, SysDbError> {
        let row = sqlx::query(
            "SELECT record_count, bytes, created_at_ms FROM collection_versions \
             WHERE collection_id = $1 AND version = $2",
        )
        .bind(id.to_string())
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(VersionSize {
                record_count: to_u64(&r, "record_count")?,
                bytes: to_u64(&r, "bytes")?,
                created_at_ms: r.try_get("created_at_ms")?,
            })
        })
        .transpose()
    }

    /// Bytes of `id`'s log fragments not yet folded into its version.
    pub async fn collection_log_bytes(&self, id: CollectionId) -> Result<u64, SysDbError> {
        let row = sqlx::query("SELECT log_bytes FROM collections WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map_or(Ok(0), |r| to_u64(&r, "log_bytes"))
    }

    /// Whether the catalog answers at all (readiness probes).
    pub async fn ping(&self) -> Result<(), SysDbError> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// Closes the catalog's connections; every later call fails (tests of what depends on it).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
