//! Tenants and databases.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::openapi::op;
use super::{route, Route, DB_PATH};
use crate::body::Body;
use crate::error::ApiResult;
use crate::tenancy::{Caller, RouteAccess};
use crate::validate::plain_name;
use crate::{wire, GatewayState};

pub(crate) fn routes() -> Vec<Route> {
    use RouteAccess::*;
    let dbs = "/api/v2/tenants/{tenant}/databases";
    vec![
        route(Method::POST, "/api/v2/tenants", Operator, create_tenant).doc(
            op("create_tenant", "Tenant", "Creates a tenant")
                .body::<NameBody>()
                .ok::<wire::Empty>(),
        ),
        route(Method::GET, "/api/v2/tenants/{tenant}", Read, get_tenant)
            .doc(op("get_tenant", "Tenant", "A tenant by name").ok::<wire::Tenant>()),
        route(
            Method::PATCH,
            "/api/v2/tenants/{tenant}",
            TenantAdmin,
            update_tenant,
        )
        .doc(
            op(
                "update_tenant",
                "Tenant",
                "Sets the tenant's resource name (once: 409 when it has one)",
            )
            .body::<UpdateTenantBody>()
            .ok::<wire::Empty>(),
        ),
        route(Method::POST, dbs, TenantAdmin, create_database).doc(
            op("create_database", "Database", "Creates a database")
                .body::<NameBody>()
                .ok::<wire::Empty>(),
        ),
        route(Method::GET, dbs, Read, list_databases).doc(
            op("list_databases", "Database", "The tenant's databases")
                .query::<Page>()
                .ok::<Vec<wire::Database>>(),
        ),
        route(Method::GET, DB_PATH, Read, get_database)
            .doc(op("get_database", "Database", "A database by name").ok::<wire::Database>()),
        route(Method::DELETE, DB_PATH, TenantAdmin, delete_database).doc(
            op(
                "delete_database",
                "Database",
                "Deletes a database and its collections",
            )
            .ok::<wire::Empty>(),
        ),
    ]
}

/// The name of the tenant or database to create.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "CreateNamePayload")]
struct NameBody {
    #[schemars(length(min = 1, max = 256))]
    name: String,
}

/// What Chroma's `PATCH /api/v2/tenants/{tenant}` sets: the tenant's resource name.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "UpdateTenantPayload")]
struct UpdateTenantBody {
    #[schemars(length(min = 1, max = 256))]
    resource_name: String,
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct Page {
    /// Most items to return.
    pub limit: Option<u32>,
    /// Items to skip.
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
    let resource_name = s.sysdb.tenant_resource_name(&tenant).await?;
    Ok(Json(
        json!({ "name": tenant, "resource_name": resource_name }),
    ))
}

/// As Chroma's distributed catalog does: the name is set once (a second PATCH, or a name
/// another tenant holds, is 409) and `GET` reports it.
async fn update_tenant(
    State(s): State<GatewayState>,
    Path(tenant): Path<String>,
    Body(body): Body<UpdateTenantBody>,
) -> ApiResult<Json<Value>> {
    plain_name("resource", &body.resource_name)?;
    s.sysdb
        .set_tenant_resource_name(&tenant, &body.resource_name)
        .await?;
    Ok(Json(json!({})))
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

/// A key limited to some databases sees only those.
async fn list_databases(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path(tenant): Path<String>,
    query: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let page = page(query)?;
    let scope = caller.key.as_ref().map(|k| k.scope.clone());
    let dbs = match scope.filter(|s| s.databases.is_some()) {
        None => {
            s.sysdb
                .list_databases(&tenant, page.limit, page.offset)
                .await?
        }
        Some(scope) => s
            .sysdb
            .list_databases(&tenant, None, 0)
            .await?
            .into_iter()
            .filter(|d| scope.allows_database(&d.name))
            .skip(page.offset as usize)
            .take(page.limit.map_or(usize::MAX, |l| l as usize))
            .collect(),
    };
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
