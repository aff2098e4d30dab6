//! Tenants and databases.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::Body;
use crate::error::ApiResult;
use crate::validate::plain_name;
use crate::GatewayState;

pub fn routes() -> Router<GatewayState> {
    Router::new()
        .route("/api/v2/tenants", post(create_tenant))
        .route("/api/v2/tenants/{tenant}", get(get_tenant))
        .route(
            "/api/v2/tenants/{tenant}/databases",
            post(create_database).get(list_databases),
        )
        .route(
            "/api/v2/tenants/{tenant}/databases/{database}",
            get(get_database).delete(delete_database),
        )
}

#[derive(Deserialize)]
struct NameBody {
    name: String,
}

#[derive(Deserialize)]
pub(crate) struct Page {
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: u32,
}

async fn create_tenant(
    State(s): State<GatewayState>,
    Body(body): Body<NameBody>,
) -> ApiResult<Json<Value>> {
    plain_name("tenant", &body.name)?;
    s.sysdb.create_tenant(&body.name).await?;
    Ok(Json(json!({})))
}

async fn get_tenant(
    State(s): State<GatewayState>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    if !s.sysdb.tenant_exists(&tenant).await? {
        return Err(silt_common::SiltError::not_found(format!("Tenant {tenant} not found")).into());
    }
    Ok(Json(json!({ "name": tenant, "resource_name": null })))
}

async fn create_database(
    State(s): State<GatewayState>,
    Path(tenant): Path<String>,
    Body(body): Body<NameBody>,
) -> ApiResult<Json<Value>> {
    plain_name("database", &body.name)?;
    s.sysdb.create_database(&tenant, &body.name).await?;
    Ok(Json(json!({})))
}

fn database_json(d: &silt_sysdb::Database) -> Value {
    json!({"id": d.id, "name": d.name, "tenant": d.tenant})
}

async fn list_databases(
    State(s): State<GatewayState>,
    Path(tenant): Path<String>,
    query: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let page = page(query)?;
    let dbs = s
        .sysdb
        .list_databases(&tenant, page.limit, page.offset)
        .await?;
    Ok(Json(Value::Array(dbs.iter().map(database_json).collect())))
}

async fn get_database(
    State(s): State<GatewayState>,
    Path((tenant, db)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(database_json(
        &s.sysdb.get_database(&tenant, &db).await?,
    )))
}

async fn delete_database(
    State(s): State<GatewayState>,
    Path((tenant, db)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    s.sysdb.delete_database(&tenant, &db).await?;
    Ok(Json(json!({})))
}

/// Query-string rejections become Chroma errors too.
pub(crate) fn page(
    q: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Page> {
    q.map(|Query(p)| p)
        .map_err(|e| crate::error::ApiError::invalid(format!("Invalid query parameters: {e}")))
}
