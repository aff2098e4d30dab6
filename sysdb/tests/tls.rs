//! The catalog connects to Postgres over TLS (`sslmode=require`), as RDS with `rds.force_ssl`
//! demands. scripts/test.sh starts its throwaway Postgres with TLS on.

use silt_sysdb::SysDb;

#[tokio::test]
#[ignore = "needs SILT_TEST_POSTGRES_URL; scripts/test.sh starts a throwaway Postgres with TLS and runs it"]
async fn postgres_catalog_over_tls() {
    let base = std::env::var("SILT_TEST_POSTGRES_URL").expect("SILT_TEST_POSTGRES_URL");
    let db = SysDb::connect(&format!("{base}?sslmode=require"))
        .await
        .expect("connecting with sslmode=require");
    db.ping().await.unwrap();
    assert!(db.tenant_exists("default_tenant").await.unwrap());
    // The server saw an encrypted connection, not a plain one that happened to work.
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(&format!("{base}?sslmode=require"))
        .await
        .unwrap();
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(ssl, "the connection is not encrypted");
}
