use std::str::FromStr;
use std::time::Duration;

use silt_common::clock::{DynClock, DynEntropy, Entropy, SystemClock};
use sqlx::any::{install_default_drivers, AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

use crate::SysDbError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// A handle on the catalog. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SysDb {
    pub(crate) pool: AnyPool,
    /// Timestamps written to the catalog (superseded-at, deleted-at, heartbeats) and the
    /// cutoffs compared with them: the system clock, or the simulation's.
    pub(crate) clock: DynClock,
    /// Ids of new collections, databases and keys.
    pub(crate) entropy: DynEntropy,
}

impl SysDb {
    /// Connects to `sqlite://path` or `postgres://...` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<SysDb, SysDbError> {
        install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_string()
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers proceed during a write; NORMAL sync is durable
                        // across process kills, which is the guarantee embedded mode makes.
                        sqlx::query("PRAGMA journal_mode=WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous=NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout=10000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let migrator = if sqlite {
            &SQLITE_MIGRATIONS
        } else {
            &POSTGRES_MIGRATIONS
        };
        // Postgres: sqlx takes an advisory lock, so processes starting together are safe.
        migrator.run(&pool).await?;
        Ok(SysDb {
            pool,
            clock: SystemClock::shared(),
            entropy: Entropy::system(),
        })
    }

    /// This handle with its timestamps from `clock` (a simulation's).
    pub fn with_clock(mut self, clock: DynClock) -> Self {
        self.clock = clock;
        self
    }

    /// This handle with new ids from `entropy` (a simulation's seeded source).
    pub fn with_entropy(mut self, entropy: DynEntropy) -> Self {
        self.entropy = entropy;
        self
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Returns the catalog to its first-start state (tests only): no tenants, databases, keys
    /// or quotas but the defaults, which are recreated if they were deleted. Collections are
    /// soft-deleted rather than dropped, so the garbage collector still finds their objects.
    pub async fn reset(&self) -> Result<(), SysDbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE collections SET deleted_at_ms = $1 WHERE deleted_at_ms IS NULL")
            .bind(self.now_ms())
            .execute(&mut *tx)
            .await?;
        for sql in [
            "DELETE FROM api_keys",
            "DELETE FROM tenant_quotas",
            "DELETE FROM tenant_usage",
            "DELETE FROM databases WHERE name <> 'default_database' OR tenant <> 'default_tenant'",
            "DELETE FROM tenants WHERE name <> 'default_tenant'",
            "UPDATE tenants SET resource_name = NULL",
            "INSERT INTO tenants (name, created_at_ms) SELECT 'default_tenant', 0 \
             WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE name = 'default_tenant')",
            "INSERT INTO databases (id, tenant, name, created_at_ms) \
             SELECT '00000000-0000-0000-0000-000000000000', 'default_tenant', 'default_database', 0 \
             WHERE NOT EXISTS (SELECT 1 FROM databases \
                               WHERE tenant = 'default_tenant' AND name = 'default_database')",
        ] {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
