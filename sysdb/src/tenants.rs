//! Tenants and databases.

use sqlx::Row;

use crate::{Database, SysDb, SysDbError};

impl SysDb {
    pub async fn create_tenant(&self, name: &str) -> Result<(), SysDbError> {
        sqlx::query("INSERT INTO tenants (name, created_at_ms) VALUES ($1, $2)")
            .bind(name)
            .bind(self.now_ms())
            .execute(&self.pool)
            .await
            .map_err(SysDbError::exists_or(|| {
                format!("Tenant {name} already exists")
            }))?;
        Ok(())
    }

    pub async fn tenant_exists(&self, name: &str) -> Result<bool, SysDbError> {
        let row = sqlx::query("SELECT name FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The tenant's resource name (Chroma's `resource_name`), if one was set.
    pub async fn tenant_resource_name(&self, name: &str) -> Result<Option<String>, SysDbError> {
        let row = sqlx::query("SELECT resource_name FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| SysDbError::NotFound(format!("Tenant [{name}] not found")))?;
        Ok(row.try_get("resource_name")?)
    }

    /// Sets the tenant's resource name. As in Chroma's catalog it is set once: a tenant that
    /// has one already, or a name another tenant holds, is refused.
    pub async fn set_tenant_resource_name(
        &self,
        name: &str,
        resource_name: &str,
    ) -> Result<(), SysDbError> {
        let taken = || format!("Tenant [{name}]: resource name already set or in use");
        let updated = sqlx::query(
            "UPDATE tenants SET resource_name = $1 WHERE name = $2 AND resource_name IS NULL",
        )
        .bind(resource_name)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(SysDbError::exists_or(taken))?;
        if updated.rows_affected() == 1 {
            return Ok(());
        }
        if !self.tenant_exists(name).await? {
            return Err(SysDbError::NotFound(format!("Tenant [{name}] not found")));
        }
        Err(SysDbError::AlreadyExists(taken()))
    }

    pub async fn create_database(&self, tenant: &str, name: &str) -> Result<Database, SysDbError> {
        if !self.tenant_exists(tenant).await? {
            return Err(SysDbError::NotFound(format!("Tenant {tenant} not found")));
        }
        let id = self.entropy.uuid().to_string();
        sqlx::query(
            "INSERT INTO databases (id, tenant, name, created_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(name)
        .bind(self.now_ms())
        .execute(&self.pool)
        .await
        .map_err(SysDbError::exists_or(|| {
            format!("Database {name} already exists")
        }))?;
        Ok(Database {
            id,
            tenant: tenant.to_string(),
            name: name.to_string(),
        })
    }

    pub async fn get_database(&self, tenant: &str, name: &str) -> Result<Database, SysDbError> {
        let row = sqlx::query("SELECT id FROM databases WHERE tenant = $1 AND name = $2")
            .bind(tenant)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| SysDbError::NotFound(format!("Database {name} not found")))?;
        Ok(Database {
            id: row.try_get("id")?,
            tenant: tenant.to_string(),
            name: name.to_string(),
        })
    }

    pub async fn list_databases(
        &self,
        tenant: &str,
        limit: Option<u32>,
        offset: u32,
    ) -> Result<Vec<Database>, SysDbError> {
        let rows = sqlx::query(
            "SELECT id, name FROM databases WHERE tenant = $1 ORDER BY created_at_ms, name LIMIT $2 OFFSET $3",
        )
        .bind(tenant)
        .bind(limit.map_or(i64::MAX, i64::from))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Database {
                    id: row.try_get("id")?,
                    tenant: tenant.to_string(),
                    name: row.try_get("name")?,
                })
            })
            .collect()
    }

    /// Deletes a database; its collections are soft-deleted for the garbage collector.
    pub async fn delete_database(&self, tenant: &str, name: &str) -> Result<(), SysDbError> {
        let db = self.get_database(tenant, name).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE collections SET deleted_at_ms = $1 WHERE database_id = $2 AND deleted_at_ms IS NULL",
        )
        .bind(self.now_ms())
        .bind(&db.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM databases WHERE id = $1")
            .bind(&db.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
