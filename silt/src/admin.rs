//! `silt admin`: operator commands run directly against the catalog. Every key creation and
//! revocation is written to the audit log (target `silt::audit`) with tenant and key id, never
//! the key.

use anyhow::Context;
use serde_json::{json, Value};
use silt_common::api_key::{generate_key, hash_key};
use silt_common::routing::{Member, Ring};
use silt_gateway::Limits;
use silt_sysdb::{Access, ApiKey, KeyScope, SysDb};

use crate::cli::{AdminArgs, AdminCommand};

fn key_json(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "tenant": k.tenant,
        "label": k.label,
        "access": k.scope.access,
        "databases": k.scope.databases,
        "created_at_ms": k.created_at_ms,
        "revoked_at_ms": k.revoked_at_ms,
    })
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let url = match args.catalog {
        Some(url) => url,
        None => {
            let path = args.path.join("catalog.db");
            if !path.exists() {
                anyhow::bail!(
                    "no catalog at {}: pass --path of a Silt data directory or --catalog URL",
                    path.display()
                );
            }
            format!("sqlite://{}", path.display())
        }
    };
    let sysdb = SysDb::connect(&url).await.context("opening the catalog")?;
    let out = match args.command {
        AdminCommand::CreateTenant { name } => {
            silt_gateway::validate_tenant_name(&name).map_err(|e| anyhow::anyhow!(e.0.message))?;
            sysdb.create_tenant(&name).await?;
            sysdb
                .create_database(&name, silt_sysdb::DEFAULT_DATABASE)
                .await?;
            tracing::info!(target: "silt::audit", tenant = %name, "tenant created");
            json!({"tenant": name, "databases": [silt_sysdb::DEFAULT_DATABASE]})
        }
        AdminCommand::CreateKey {
            tenant,
            read_only,
            databases,
            label,
        } => {
            let scope = KeyScope {
                access: if read_only {
                    Access::Read
                } else {
                    Access::Write
                },
                databases,
            };
            let key = generate_key();
            let stored = sysdb
                .create_api_key(&tenant, label.as_deref(), &scope, &hash_key(&key))
                .await?;
            tracing::info!(target: "silt::audit", tenant = %stored.tenant, key_id = %stored.id, access = ?scope.access, "API key created");
            let mut v = key_json(&stored);
            v["key"] = json!(key);
            v
        }
        AdminCommand::ListKeys { tenant } => Value::Array(
            sysdb
                .list_api_keys(tenant.as_deref())
                .await?
                .iter()
                .map(key_json)
                .collect(),
        ),
        AdminCommand::RevokeKey { id } => {
            let key = sysdb.revoke_api_key(&id).await?;
            tracing::info!(target: "silt::audit", tenant = %key.tenant, key_id = %key.id, "API key revoked");
            key_json(&key)
        }
        AdminCommand::SetQuotas { tenant, quotas } => {
            let overrides: Value =
                serde_json::from_str(&quotas).context("quotas must be a JSON object")?;
            let limits = Limits::default()
                .with_overrides(&overrides)
                .map_err(anyhow::Error::msg)?;
            sysdb.set_tenant_quotas(&tenant, &overrides).await?;
            tracing::info!(target: "silt::audit", %tenant, %overrides, "quotas set");
            serde_json::to_value(limits)?
        }
        AdminCommand::ShowQuotas { tenant } => {
            let overrides = sysdb.tenant_quotas(&tenant).await?;
            let limits = match &overrides {
                Some(o) => Limits::default()
                    .with_overrides(o)
                    .map_err(anyhow::Error::msg)?,
                None => Limits::default(),
            };
            json!({"tenant": tenant, "overrides": overrides, "limits": limits})
        }
        AdminCommand::Placement {
            role,
            membership_timeout_ms,
        } => placement(&sysdb, &role, membership_timeout_ms).await?,
        AdminCommand::Nodes => {
            // Heartbeats are wall-clock times written by every node's system clock.
            let now = silt_common::clock::Clock::now_ms(&silt_common::clock::SystemClock);
            Value::Array(
                sysdb
                    .all_nodes()
                    .await?
                    .into_iter()
                    .map(|n| {
                        json!({
                            "id": n.id,
                            "role": n.role,
                            "address": n.address,
                            "heartbeat_age_ms": now - n.heartbeat_at_ms,
                            "up_for_ms": now - n.started_at_ms,
                        })
                    })
                    .collect(),
            )
        }
        // Prints tables or JSON itself.
        AdminCommand::Status {
            json,
            limit,
            membership_timeout_ms,
        } => {
            let options = crate::status::StatusOptions {
                limit,
                membership_timeout_ms,
                json,
            };
            return crate::status::admin_status(&sysdb, options).await;
        }
        // Prints a table or JSON itself.
        AdminCommand::Usage { tenant, table } => {
            return crate::usage::admin_usage(&sysdb, tenant.as_deref(), table).await
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn placement(sysdb: &SysDb, role: &str, timeout_ms: i64) -> anyhow::Result<Value> {
    let ring = Ring::new(
        sysdb
            .live_nodes(role, timeout_ms)
            .await?
            .into_iter()
            .map(|n| Member {
                id: n.id,
                address: n.address,
            }),
    );
    let mut out = serde_json::Map::new();
    let mut after = None;
    loop {
        let ids = sysdb.collection_ids(after, 1000).await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        for id in ids {
            let key = id.to_string();
            let owner = ring
                .owner(&key)
                .map(|m| json!({"id": m.id, "address": m.address}));
            out.insert(key, owner.unwrap_or(Value::Null));
        }
        after = Some(last);
    }
    Ok(Value::Object(out))
}
