//! `GET /openapi.json`: an OpenAPI 3.1 document generated from the route table.
//!
//! Each route declaration carries a [`Doc`]: its operation id (Chroma's, where Chroma has the
//! route), a summary, and the Rust types of its query string, headers, request body and answer.
//! The schemas are derived from those types with `schemars`, and the types are the ones the
//! handlers deserialize and serialize, so the document follows the code. Method, path, path
//! parameters and the need for a key come from the route table itself. A route declared without
//! a `Doc` still appears, but `every_route_is_described` fails.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use axum::response::IntoResponse;
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::{route, Route};
use crate::tenancy::RouteAccess;
use crate::wire;

/// Produces the schema of one Rust type, registering the types it refers to.
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a successful call answers.
#[derive(Clone, Copy)]
enum Reply {
    Json(u16, SchemaFn),
    Text(u16),
}

/// The description of one route, attached to its declaration.
#[derive(Clone)]
pub(crate) struct Doc {
    operation_id: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: Option<SchemaFn>,
    headers: Vec<(&'static str, SchemaFn)>,
    body: Option<SchemaFn>,
    reply: Option<Reply>,
}

/// Starts the description of a route: Chroma's operation id and tag (System, Tenant, Database,
/// Collection, Record) where Chroma has the route, so generated clients keep Chroma's names.
pub(crate) fn op(operation_id: &'static str, tag: &'static str, summary: &'static str) -> Doc {
    Doc {
        operation_id,
        tag,
        summary,
        query: None,
        headers: Vec::new(),
        body: None,
        reply: None,
    }
}

impl Doc {
    /// The query string, as the struct the handler deserializes it into.
    pub(crate) fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(schema_of::<T>);
        self
    }

    /// An optional request header and the schema of its value.
    pub(crate) fn header<T: JsonSchema>(mut self, name: &'static str) -> Self {
        self.headers.push((name, schema_of::<T>));
        self
    }

    /// The JSON body, as the type the handler deserializes.
    pub(crate) fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(schema_of::<T>);
        self
    }

    /// 200 with a JSON answer of type `T`.
    pub(crate) fn ok<T: JsonSchema>(self) -> Self {
        self.answers::<T>(200)
    }

    /// `status` with a JSON answer of type `T`.
    pub(crate) fn answers<T: JsonSchema>(mut self, status: u16) -> Self {
        self.reply = Some(Reply::Json(status, schema_of::<T>));
        self
    }

    /// 200 with a plain-text answer.
    pub(crate) fn text(mut self) -> Self {
        self.reply = Some(Reply::Text(200));
        self
    }
}

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/openapi.json", RouteAccess::Public, serve).doc(
            op(
                "openapi",
                "System",
                "This OpenAPI document, generated from the route table",
            )
            .ok::<Map<String, Value>>(),
        ),
    ]
}

/// The document never changes while the process runs, so it is built once.
async fn serve() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| document(&super::all_routes()).0.to_string());
    ([(CONTENT_TYPE, "application/json")], body.clone())
}

/// Path parameter names used in the route table, and what they hold.
fn path_parameter(name: &str) -> Value {
    let (description, format) = match name {
        "tenant" => ("Tenant name", None),
        "database" => ("Database name", None),
        "collection" => (
            "Collection name; for PUT, the collection id (as Chroma's clients send them)",
            None,
        ),
        "id" => ("Collection id", Some("uuid")),
        _ => ("", None),
    };
    let mut schema = json!({"type": "string"});
    if let Some(f) = format {
        schema["format"] = json!(f);
    }
    json!({
        "name": name,
        "in": "path",
        "required": true,
        "description": description,
        "schema": schema,
        "example": match name {
            "tenant" => json!(silt_sysdb::DEFAULT_TENANT),
            "database" => json!(silt_sysdb::DEFAULT_DATABASE),
            "collection" => json!("my_collection"),
            _ => json!("1e30d217-3d78-4f8c-b244-79381dc6a254"),
        },
    })
}

fn path_parameter_names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// A query-string parameter cannot be JSON null: an absent parameter is the null.
fn without_null(mut schema: Value) -> Value {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            schema["type"] = only;
        }
    }
    if let Some(Value::Array(any_of)) = schema.get_mut("anyOf") {
        any_of.retain(|s| s.get("type") != Some(&json!("null")));
        if any_of.len() == 1 {
            return any_of[0].clone();
        }
    }
    schema
}

/// The query struct's fields as parameters. Its schema is built inline (not as a component),
/// so its properties can be read here.
fn query_parameters(query: SchemaFn, g: &mut SchemaGenerator) -> Vec<Value> {
    let schema = query(g).to_value();
    let required: Vec<&Value> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, s)| {
            let mut s = s.clone();
            let description = s
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(json!(""));
            json!({
                "name": name,
                "in": "query",
                "required": required.contains(&&json!(name)),
                "description": description,
                "schema": without_null(s),
            })
        })
        .collect()
}

/// The error statuses a route can answer, from what its declaration says: whether it needs a
/// key, names things in its path, takes a body.
fn error_statuses(
    method: &Method,
    path: &str,
    access: RouteAccess,
    doc: &Doc,
) -> Vec<(u16, &'static str)> {
    let mut out = Vec::new();
    let public = access == RouteAccess::Public;
    if !public {
        out.push((400, "Invalid request"));
        out.push((401, "Missing, unknown or revoked API key"));
    }
    if !matches!(access, RouteAccess::Public | RouteAccess::Authenticated) {
        out.push((
            403,
            "The key has no access to this tenant, database or operation",
        ));
    }
    if path.contains('{') {
        out.push((404, "Tenant, database or collection not found"));
    }
    // Creating, renaming to a name in use, or setting a tenant's resource name twice.
    if [Method::POST, Method::PUT, Method::PATCH].contains(method) && doc.body.is_some() {
        out.push((409, "Already exists"));
    }
    if doc.body.is_some() {
        out.push((413, "Request body or batch too large"));
        out.push((415, "The body is not sent as application/json"));
        out.push((422, "The body does not have the expected shape"));
    }
    if !public {
        out.push((
            429,
            "Rate limited or too many records waiting to be indexed",
        ));
    }
    out.push((500, "Server error"));
    out.push((503, "A service this call needs is unavailable; retry"));
    out
}

/// Builds the document for these routes. Also returns the names of schemas that requests and
/// answers define differently (a test keeps it empty).
pub(crate) fn document(routes: &[Route]) -> (Value, Vec<String>) {
    let settings = |contract: Contract, inline: bool| {
        SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
                s.contract = contract;
                s.inline_subschemas = inline;
            })
            .into_generator()
    };
    let mut requests = settings(Contract::Deserialize, false);
    let mut answers = settings(Contract::Serialize, false);
    let mut inline = settings(Contract::Deserialize, true);
    let error = answers.subschema_for::<wire::ErrorResponse>().to_value();

    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for r in routes {
        let spec = &r.spec;
        let fallback;
        let doc = match &r.doc {
            Some(d) => d,
            None => {
                fallback = op("", "", "");
                &fallback
            }
        };
        let mut parameters: Vec<Value> = path_parameter_names(&spec.path)
            .into_iter()
            .map(path_parameter)
            .collect();
        if let Some(q) = doc.query {
            parameters.extend(query_parameters(q, &mut inline));
        }
        for (name, schema) in &doc.headers {
            let mut s = schema(&mut inline).to_value();
            let description = s
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(json!(""));
            parameters.push(json!({
                "name": name, "in": "header", "required": false,
                "description": description, "schema": s,
            }));
        }
        let mut responses = Map::new();
        match doc.reply {
            Some(Reply::Json(status, schema)) => {
                responses.insert(
                    status.to_string(),
                    json!({"description": "Success", "content": {
                        "application/json": {"schema": schema(&mut answers).to_value()}}}),
                );
            }
            Some(Reply::Text(status)) => {
                responses.insert(
                    status.to_string(),
                    json!({"description": "Success", "content": {
                        "text/plain": {"schema": {"type": "string"}}}}),
                );
            }
            None => {
                responses.insert("200".into(), json!({"description": "Success"}));
            }
        }
        for (status, description) in error_statuses(&spec.method, &spec.path, spec.access, doc) {
            responses.insert(
                status.to_string(),
                json!({"description": description, "content": {
                    "application/json": {"schema": error.clone()}}}),
            );
        }
        let mut operation = json!({
            "summary": doc.summary,
            "parameters": parameters,
            "responses": responses,
            "x-silt-access": spec.access.as_str(),
        });
        if !doc.operation_id.is_empty() {
            operation["operationId"] = json!(doc.operation_id);
            operation["tags"] = json!([doc.tag]);
        }
        if let Some(body) = doc.body {
            operation["requestBody"] = json!({"required": true, "content": {
                "application/json": {"schema": body(&mut requests).to_value()}}});
        }
        if spec.access != RouteAccess::Public {
            operation["security"] = json!([{"ApiKeyAuth": []}, {"BearerAuth": []}]);
        }
        paths
            .entry(spec.path.clone())
            .or_default()
            .insert(spec.method.as_str().to_ascii_lowercase(), operation);
    }

    let mut schemas = requests.take_definitions(true);
    let mut conflicts = Vec::new();
    for (name, schema) in answers.take_definitions(true) {
        match schemas.get(&name) {
            Some(existing) if *existing != schema => conflicts.push(name),
            Some(_) => {}
            None => {
                schemas.insert(name, schema);
            }
        }
    }
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Silt",
            "description": "Silt's HTTP API: Chroma's v2 API as Silt serves it. Generated from the \
                gateway's route table.",
            "license": {"name": "Apache-2.0"},
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "x-chroma-token"},
                "BearerAuth": {"type": "http", "scheme": "bearer"},
            },
        },
    });
    (document, conflicts)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::routes::{all_routes, route_specs};

    fn doc() -> Value {
        let (doc, conflicts) = document(&all_routes());
        assert!(
            conflicts.is_empty(),
            "schemas defined twice, differently: {conflicts:?}"
        );
        doc
    }

    #[test]
    fn every_route_is_in_the_document() {
        let doc = doc();
        let specs = route_specs();
        assert!(specs.len() > 20);
        for spec in &specs {
            let method = spec.method.as_str().to_ascii_lowercase();
            let operation = doc["paths"][&spec.path][&method].as_object();
            assert!(operation.is_some(), "{} {} missing", spec.method, spec.path);
        }
        // ...and nothing else: every operation in the document is a route.
        let count: usize = doc["paths"]
            .as_object()
            .map(|p| p.values().map(|m| m.as_object().map_or(0, Map::len)).sum())
            .unwrap_or(0);
        assert_eq!(count, specs.len());
    }

    #[test]
    fn every_route_is_described() {
        let mut ids = HashSet::new();
        for r in all_routes() {
            let what = format!("{} {}", r.spec.method, r.spec.path);
            let doc = r
                .doc
                .as_ref()
                .unwrap_or_else(|| panic!("{what} has no .doc(...)"));
            assert!(doc.reply.is_some(), "{what} does not say what it answers");
            assert!(
                !doc.operation_id.is_empty() && !doc.summary.is_empty(),
                "{what}"
            );
            assert!(
                ids.insert(doc.operation_id),
                "{what}: operation id {} twice",
                doc.operation_id
            );
            if r.spec.method == Method::POST || r.spec.method == Method::PUT {
                // Reset takes no body; every other write does.
                assert!(
                    doc.body.is_some() || r.spec.path.ends_with("/reset"),
                    "{what} has no body schema"
                );
            }
        }
    }

    #[test]
    fn schemas_are_the_wire_types() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        let ops = &doc["paths"]
            ["/api/v2/tenants/{tenant}/databases/{database}/collections/{id}/add"]["post"];
        assert_eq!(ops["operationId"], "collection_add");
        assert_eq!(
            ops["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/EmptyResponse"
        );
        let body = ops["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_default();
        let name = body.trim_start_matches("#/components/schemas/");
        assert_eq!(schemas[name]["required"], json!(["ids"]));
        assert!(schemas[name]["properties"]["embeddings"].is_object());
        // Every $ref resolves.
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').unwrap_or(0)];
            assert!(schemas.get(name).is_some(), "dangling $ref {name}");
        }
        // Errors are Chroma's {error, message}.
        assert_eq!(
            schemas["ErrorResponse"]["required"],
            json!(["error", "message"])
        );
        let count = &doc["paths"]
            ["/api/v2/tenants/{tenant}/databases/{database}/collections/{id}/count"]["get"];
        let names: Vec<&str> = count["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "tenant",
                "database",
                "id",
                "read_level",
                "X-Silt-Consistency"
            ]
        );
        assert_eq!(
            count["parameters"][3]["schema"]["$ref"],
            Value::Null,
            "query parameters are inlined"
        );
    }
}
