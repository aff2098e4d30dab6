//! Metering: what each tenant stores and does, for billing a managed cloud.
//!
//! Storage is derived from rows the catalog keeps anyway: live collections, the record count
//! and byte size of each one's current version (recorded at registration), and the log bytes
//! not yet compacted (added at each log commit, shed at each registration). Activity (writes,
//! queries, records written, bytes returned) is counted in each gateway's memory and added
//! here by its periodic flush; the UPSERT adds, so several gateways sum up.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{SysDb, SysDbError};

/// Activity counts of one tenant: since the catalog was created (read back), or since a
/// gateway's last flush (a delta to add).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Successful write requests (add, upsert, update, delete).
    pub writes: u64,
    /// Successful read requests (get, query, count).
    pub queries: u64,
    /// Records those writes logged (a delete counts the records it removed).
    pub records_written: u64,
    /// Bytes of the JSON bodies answered to those reads.
    pub bytes_returned: u64,
}

impl Activity {
    pub fn is_zero(&self) -> bool {
        *self == Activity::default()
    }

    pub fn add(&mut self, other: &Activity) {
        self.writes += other.writes;
        self.queries += other.queries;
        self.records_written += other.records_written;
        self.bytes_returned += other.bytes_returned;
    }
}

/// What one tenant stores and has done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantUsage {
    pub tenant: String,
    /// Live collections.
    pub collections: u64,
    /// Records in the collections' current index versions.
    pub records: u64,
    /// Log entries not yet indexed (an upsert of an existing id is one entry, no new record).
    pub records_pending: u64,
    /// Log fragment bytes not yet compacted into a version.
    pub log_bytes: u64,
    /// Bytes of the current versions' objects.
    pub version_bytes: u64,
    pub activity: Activity,
}

fn count(row: &AnyRow, col: &str) -> Result<u64, SysDbError> {
    let v: i64 = row.try_get(col)?;
    u64::try_from(v).map_err(|_| SysDbError::Corrupt(format!("usage {col} is negative")))
}

/// Stored figures per tenant. Postgres sums BIGINT into NUMERIC, hence the casts back.
const STORAGE: &str = "SELECT c.tenant AS tenant, COUNT(*) AS collections, \
    CAST(COALESCE(SUM(v.record_count), 0) AS BIGINT) AS records, \
    CAST(COALESCE(SUM(CASE WHEN c.log_position > c.compacted_offset \
        THEN c.log_position - c.compacted_offset ELSE 0 END), 0) AS BIGINT) AS pending, \
    CAST(COALESCE(SUM(c.log_bytes), 0) AS BIGINT) AS log_bytes, \
    CAST(COALESCE(SUM(v.bytes), 0) AS BIGINT) AS version_bytes \
    FROM collections c \
    LEFT JOIN collection_versions v ON v.collection_id = c.id AND v.version = c.version \
    WHERE c.deleted_at_ms IS NULL";

const ACTIVITY: &str =
    "SELECT tenant, writes, queries, records_written, bytes_returned FROM tenant_usage";

/// The row of `name`, made (all zeros) on first sight.
fn slot(usage: &mut BTreeMap<String, TenantUsage>, name: String) -> &mut TenantUsage {
    usage.entry(name.clone()).or_insert_with(|| TenantUsage {
        tenant: name,
        ..TenantUsage::default()
    })
}

/// Counts are kept as BIGINT; a delta past i64::MAX is clamped rather than wrapped.
fn db_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SysDb {
    /// Adds each tenant's activity delta to its running totals, in one transaction: a flush
    /// is applied whole or not at all, so the caller can keep a failed one and retry it.
    pub async fn add_tenant_activity(
        &self,
        deltas: &[(String, Activity)],
    ) -> Result<(), SysDbError> {
        if deltas.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        let mut tx = self.pool.begin().await?;
        for (tenant, d) in deltas {
            sqlx::query(
                "INSERT INTO tenant_usage \
                 (tenant, writes, queries, records_written, bytes_returned, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant) DO UPDATE SET \
                 writes = tenant_usage.writes + excluded.writes, \
                 queries = tenant_usage.queries + excluded.queries, \
                 records_written = tenant_usage.records_written + excluded.records_written, \
                 bytes_returned = tenant_usage.bytes_returned + excluded.bytes_returned, \
                 updated_at_ms = excluded.updated_at_ms",
            )
            .bind(tenant)
            .bind(db_int(d.writes))
            .bind(db_int(d.queries))
            .bind(db_int(d.records_written))
            .bind(db_int(d.bytes_returned))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Usage of every tenant (by name), or of one. A tenant that does not exist is NotFound;
    /// one that exists but has done nothing is all zeros.
    pub async fn tenant_usage(&self, tenant: Option<&str>) -> Result<Vec<TenantUsage>, SysDbError> {
        let mut usage: BTreeMap<String, TenantUsage> = BTreeMap::new();
        let tenants = match tenant {
            Some(t) => {
                if !self.tenant_exists(t).await? {
                    return Err(SysDbError::NotFound(format!("Tenant {t} not found")));
                }
                vec![t.to_string()]
            }
            None => sqlx::query("SELECT name FROM tenants")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get("name"))
                .collect::<Result<_, _>>()?,
        };
        for name in tenants {
            slot(&mut usage, name);
        }

        let (storage, activity) = match tenant {
            Some(_) => (
                format!("{STORAGE} AND c.tenant = $1 GROUP BY c.tenant"),
                format!("{ACTIVITY} WHERE tenant = $1"),
            ),
            None => (format!("{STORAGE} GROUP BY c.tenant"), ACTIVITY.to_string()),
        };
        let mut storage = sqlx::query(AssertSqlSafe(storage));
        let mut activity = sqlx::query(AssertSqlSafe(activity));
        if let Some(t) = tenant {
            storage = storage.bind(t);
            activity = activity.bind(t);
        }
        for row in storage.fetch_all(&self.pool).await? {
            let u = slot(&mut usage, row.try_get("tenant")?);
            u.collections = count(&row, "collections")?;
            u.records = count(&row, "records")?;
            u.records_pending = count(&row, "pending")?;
            u.log_bytes = count(&row, "log_bytes")?;
            u.version_bytes = count(&row, "version_bytes")?;
        }
        for row in activity.fetch_all(&self.pool).await? {
            slot(&mut usage, row.try_get("tenant")?).activity = Activity {
                writes: count(&row, "writes")?,
                queries: count(&row, "queries")?,
                records_written: count(&row, "records_written")?,
                bytes_returned: count(&row, "bytes_returned")?,
            };
        }
        Ok(usage.into_values().collect())
    }
}
