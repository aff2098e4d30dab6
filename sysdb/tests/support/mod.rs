//! Catalogs for contract tests: a fresh SQLite file, or a fresh database of its own on the
//! throwaway Postgres that scripts/test.sh starts (for tests whose queries are catalog-wide).

use serde_json::json;
use silt_common::CollectionId;
use silt_sysdb::{NewCollection, SysDb, VersionRecord};
use tempfile::TempDir;

/// A new SQLite catalog; it lives as long as the returned directory.
pub async fn sqlite_catalog() -> (TempDir, SysDb) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    let db = SysDb::connect(&url).await.unwrap();
    (dir, db)
}

/// A new database named `{prefix}_{random}` on the server of `SILT_TEST_POSTGRES_URL`.
pub async fn own_postgres_database(prefix: &str) -> SysDb {
    use sqlx::Connection;
    let base = std::env::var("SILT_TEST_POSTGRES_URL").expect("SILT_TEST_POSTGRES_URL");
    let name = format!("{prefix}_{}", CollectionId::new_random().0.simple());
    let mut admin = sqlx::postgres::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    SysDb::connect(&format!("{server}/{name}")).await.unwrap()
}

/// Creates collection `name` in `tenant`'s default database.
pub async fn collection(db: &SysDb, tenant: &str, name: &str) -> CollectionId {
    let (c, _) = db
        .create_collection(NewCollection {
            tenant: tenant.into(),
            database: "default_database".into(),
            name: name.into(),
            metadata: None,
            configuration: json!({}),
            schema: None,
            dimension: None,
            get_or_create: false,
        })
        .await
        .unwrap();
    c.id
}

/// Version `version` of `id`, folding the log up to `compacted_offset`, holding `records`.
pub fn version(
    id: CollectionId,
    version: u64,
    compacted_offset: u64,
    records: u64,
) -> VersionRecord {
    VersionRecord {
        collection_id: id,
        version,
        manifest: format!("{id}/v/{version}/version.bin"),
        compacted_offset,
        record_count: records,
        superseded_at_ms: None,
    }
}
