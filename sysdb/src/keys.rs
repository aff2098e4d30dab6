//! API keys and per-tenant quota overrides. Keys are stored only as a hash; the key itself is
//! shown once, by whoever created it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use crate::{SysDb, SysDbError};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyScope {
    pub access: Access,
    /// `None`: every database of the tenant.
    pub databases: Option<Vec<String>>,
}

impl KeyScope {
    pub fn allows_database(&self, database: &str) -> bool {
        self.databases
            .as_ref()
            .is_none_or(|dbs| dbs.iter().any(|d| d == database))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub tenant: String,
    pub label: Option<String>,
    pub scope: KeyScope,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

macro_rules! select_keys {
    ($rest:literal) => {
        concat!(
            "SELECT id, tenant, label, scope, created_at_ms, revoked_at_ms FROM api_keys ",
            $rest
        )
    };
}

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKey, SysDbError> {
    let scope: String = row.try_get("scope")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        label: row.try_get("label")?,
        scope: serde_json::from_str(&scope)
            .map_err(|e| SysDbError::Corrupt(format!("api key scope {scope:?}: {e}")))?,
        created_at_ms: row.try_get("created_at_ms")?,
        revoked_at_ms: row.try_get("revoked_at_ms")?,
    })
}

impl SysDb {
    /// Stores a new key by its hash. The tenant must exist.
    pub async fn create_api_key(
        &self,
        tenant: &str,
        label: Option<&str>,
        scope: &KeyScope,
        key_hash: &str,
    ) -> Result<ApiKey, SysDbError> {
        if !self.tenant_exists(tenant).await? {
            return Err(SysDbError::NotFound(format!("Tenant {tenant} not found")));
        }
        let key = ApiKey {
            id: self.entropy.uuid().to_string(),
            tenant: tenant.to_string(),
            label: label.map(str::to_string),
            scope: scope.clone(),
            created_at_ms: self.now_ms(),
            revoked_at_ms: None,
        };
        let scope_json = serde_json::to_string(scope)
            .map_err(|e| SysDbError::Corrupt(format!("api key scope: {e}")))?;
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, label, scope, key_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(tenant)
        .bind(label)
        .bind(scope_json)
        .bind(key_hash)
        .bind(key.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(SysDbError::exists_or(|| "an identical key hash exists".into()))?;
        Ok(key)
    }

    /// The live (not revoked) key with this hash.
    pub async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, SysDbError> {
        let row = sqlx::query(select_keys!(
            "WHERE key_hash = $1 AND revoked_at_ms IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Every key, revoked ones included, optionally of one tenant, oldest first.
    pub async fn list_api_keys(&self, tenant: Option<&str>) -> Result<Vec<ApiKey>, SysDbError> {
        let rows = match tenant {
            Some(tenant) => {
                sqlx::query(select_keys!("WHERE tenant = $1 ORDER BY created_at_ms, id"))
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(select_keys!("ORDER BY created_at_ms, id"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(key_from_row).collect()
    }

    /// Revokes a key; revoking twice is not an error. Unknown ids are.
    pub async fn revoke_api_key(&self, id: &str) -> Result<ApiKey, SysDbError> {
        sqlx::query(
            "UPDATE api_keys SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL",
        )
        .bind(self.now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(select_keys!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| SysDbError::NotFound(format!("API key {id} not found")))?;
        key_from_row(&row)
    }

    /// Replaces a tenant's quota overrides (a JSON object of limit name → value).
    pub async fn set_tenant_quotas(&self, tenant: &str, quotas: &Value) -> Result<(), SysDbError> {
        if !self.tenant_exists(tenant).await? {
            return Err(SysDbError::NotFound(format!("Tenant {tenant} not found")));
        }
        let text = quotas.to_string();
        let updated = sqlx::query(
            "UPDATE tenant_quotas SET quotas = $1, updated_at_ms = $2 WHERE tenant = $3",
        )
        .bind(&text)
        .bind(self.now_ms())
        .bind(tenant)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO tenant_quotas (tenant, quotas, updated_at_ms) VALUES ($1, $2, $3)",
            )
            .bind(tenant)
            .bind(&text)
            .bind(self.now_ms())
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// A tenant's quota overrides, if an operator set any.
    pub async fn tenant_quotas(&self, tenant: &str) -> Result<Option<Value>, SysDbError> {
        let row = sqlx::query("SELECT quotas FROM tenant_quotas WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get("quotas")?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SysDbError::Corrupt(format!("tenant quotas {text:?}: {e}")))
    }
}
