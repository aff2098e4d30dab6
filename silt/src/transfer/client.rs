//! A typed client for the part of Chroma's v2 HTTP API that moving data needs, spoken the same
//! way to Chroma's own server and to Silt (embedded or a cluster's gateway).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{Result, TransferError};
use super::records::{GetAnswer, Records};

/// Attempts for a request the server refused only because it was busy (429, 502-504) or that
/// never reached it; the pause doubles from 200 ms, or follows `Retry-After`.
const ATTEMPTS: u32 = 8;

#[derive(Clone)]
pub struct ChromaClient {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
}

/// A collection as the server describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Collection {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub configuration_json: Option<Value>,
    /// Chroma's index schema (value types and indexes per key), when the server reports one.
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub dimension: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Identity {
    pub tenant: String,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

/// Whether a request may be sent again after its answer was lost: a second create could meet
/// the collection the first one made.
#[derive(Clone, Copy, PartialEq)]
enum Retry {
    Always,
    OnlyIfRefused,
}

impl ChromaClient {
    pub fn new(base: &str, key: Option<String>) -> Result<ChromaClient> {
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(TransferError::Usage(format!(
                "{base:?}: expected a server URL such as http://localhost:8000"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TransferError::Unreachable {
                url: base.clone(),
                reason: e.to_string(),
            })?;
        Ok(ChromaClient { base, key, http })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        retry: Retry,
    ) -> Result<T> {
        let mut pause = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base));
            if let Some(key) = &self.key {
                // Chroma's server reads the key from the one header it is configured for
                // (`Authorization: Bearer` by default, `x-chroma-token` on Chroma Cloud and
                // Silt); sending both reaches either configuration.
                request = request
                    .header("x-chroma-token", key)
                    .header("authorization", format!("Bearer {key}"));
            }
            if let Some(body) = &body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    let never_arrived = e.is_connect();
                    if attempt < ATTEMPTS && (retry == Retry::Always || never_arrived) {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(10));
                        attempt += 1;
                        continue;
                    }
                    return Err(TransferError::Unreachable {
                        url: self.base.clone(),
                        reason: error_chain(&e),
                    });
                }
            };
            let status = outcome.status();
            let busy = matches!(status.as_u16(), 429 | 502..=504);
            if busy && attempt < ATTEMPTS {
                let wait = retry_after(&outcome).unwrap_or(pause);
                tokio::time::sleep(wait).await;
                pause = (pause * 2).min(Duration::from_secs(10));
                attempt += 1;
                continue;
            }
            let bytes = outcome
                .bytes()
                .await
                .map_err(|e| TransferError::Unreachable {
                    url: self.base.clone(),
                    reason: error_chain(&e),
                })?;
            if !status.is_success() {
                return Err(self.refusal(&method, path, status, &bytes));
            }
            let text = if bytes.is_empty() {
                &b"null"[..]
            } else {
                &bytes
            };
            return serde_json::from_slice(text).map_err(|e| TransferError::BadAnswer {
                url: self.base.clone(),
                path: path.to_string(),
                reason: e.to_string(),
            });
        }
    }

    fn refusal(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        body: &[u8],
    ) -> TransferError {
        // Chroma's errors are {"error": ..., "message": ...}; anything else is shown as text.
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| v.get("error").map(|e| e.to_string()))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect());
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return TransferError::Auth {
                url: self.base.clone(),
                status: status.as_u16(),
                message,
            };
        }
        TransferError::Http {
            url: self.base.clone(),
            method: method.as_str().to_string(),
            path: path.to_string(),
            status: status.as_u16(),
            message,
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None, Retry::Always).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value, retry: Retry) -> Result<T> {
        self.call(Method::POST, path, Some(to_bytes(body)), retry)
            .await
    }

    /// Fails with a clear message when the server is down or is not a Chroma API.
    pub async fn heartbeat(&self) -> Result<()> {
        self.get::<Value>("/api/v2/heartbeat").await.map(|_| ())
    }

    /// The tenant and databases the API key belongs to.
    pub async fn identity(&self) -> Result<Identity> {
        self.get("/api/v2/auth/identity").await
    }

    pub async fn tenant_exists(&self, tenant: &str) -> Result<bool> {
        match self
            .get::<Value>(&format!("/api/v2/tenants/{}", seg(tenant)))
            .await
        {
            Ok(_) => Ok(true),
            Err(TransferError::Http { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates the tenant unless it exists (creating one is an operator's right: a key that
    /// lacks it can still use a tenant that is there).
    pub async fn ensure_tenant(&self, tenant: &str) -> Result<()> {
        if self.tenant_exists(tenant).await? {
            return Ok(());
        }
        match self
            .post::<Value>("/api/v2/tenants", &json!({"name": tenant}), Retry::Always)
            .await
        {
            Ok(_) | Err(TransferError::Http { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn list_databases(&self, tenant: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        loop {
            let page: Vec<Named> = self
                .get(&format!(
                    "/api/v2/tenants/{}/databases?limit=100&offset={}",
                    seg(tenant),
                    names.len()
                ))
                .await?;
            let done = page.len() < 100;
            names.extend(page.into_iter().map(|d| d.name));
            if done {
                return Ok(names);
            }
        }
    }

    pub async fn ensure_database(&self, tenant: &str, database: &str) -> Result<()> {
        let path = format!("/api/v2/tenants/{}/databases", seg(tenant));
        match self
            .get::<Value>(&format!("{path}/{}", seg(database)))
            .await
        {
            Ok(_) => return Ok(()),
            Err(TransferError::Http { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
        match self
            .post::<Value>(&path, &json!({"name": database}), Retry::Always)
            .await
        {
            Ok(_) | Err(TransferError::Http { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn list_collections(&self, tenant: &str, database: &str) -> Result<Vec<Collection>> {
        let mut all: Vec<Collection> = Vec::new();
        loop {
            let page: Vec<Collection> = self
                .get(&format!(
                    "{}/collections?limit=100&offset={}",
                    db_path(tenant, database),
                    all.len()
                ))
                .await?;
            let done = page.len() < 100;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// The collection of that name, or None.
    pub async fn find_collection(
        &self,
        tenant: &str,
        database: &str,
        name: &str,
    ) -> Result<Option<Collection>> {
        let path = format!("{}/collections/{}", db_path(tenant, database), seg(name));
        match self.get(&path).await {
            Ok(c) => Ok(Some(c)),
            Err(TransferError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a collection (never gets an existing one: a clash is the caller's to report).
    pub async fn create_collection(
        &self,
        tenant: &str,
        database: &str,
        name: &str,
        metadata: &Option<Value>,
        configuration: &Option<Value>,
        schema: &Option<Value>,
    ) -> Result<Collection> {
        let mut body = json!({"name": name, "get_or_create": false});
        if let Some(m) = metadata.as_ref().filter(|m| !m.is_null()) {
            body["metadata"] = m.clone();
        }
        // The schema holds the configuration's vector index settings too, and a server refuses
        // a create that sets both: the schema, when there is one, says everything.
        if let Some(s) = schema.as_ref().filter(|s| s.is_object()) {
            body["schema"] = s.clone();
        } else if let Some(c) = configuration.as_ref().filter(|c| !c.is_null()) {
            body["configuration"] = creatable_configuration(c);
        }
        self.post(
            &format!("{}/collections", db_path(tenant, database)),
            &body,
            Retry::OnlyIfRefused,
        )
        .await
    }

    pub async fn count(&self, tenant: &str, database: &str, id: &str) -> Result<u64> {
        self.get(&format!(
            "{}/collections/{}/count",
            db_path(tenant, database),
            seg(id)
        ))
        .await
    }

    /// Records `offset..offset + limit` in the collection's order, every field included.
    pub async fn get_page(
        &self,
        tenant: &str,
        database: &str,
        id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Records> {
        let body = json!({
            "offset": offset,
            "limit": limit,
            "include": ["embeddings", "documents", "metadatas", "uris"],
        });
        self.get_records(tenant, database, id, &body).await
    }

    /// The records with these ids (those that exist), every field included.
    pub async fn get_ids(
        &self,
        tenant: &str,
        database: &str,
        id: &str,
        ids: &[String],
    ) -> Result<Records> {
        let body = json!({
            "ids": ids,
            "include": ["embeddings", "documents", "metadatas", "uris"],
        });
        self.get_records(tenant, database, id, &body).await
    }

    /// Every id of the collection, in pages of `page` (nothing else is fetched).
    pub async fn all_ids(
        &self,
        tenant: &str,
        database: &str,
        id: &str,
        page: u64,
    ) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        loop {
            let body = json!({"offset": ids.len(), "limit": page, "include": []});
            let got = self.get_records(tenant, database, id, &body).await?;
            let n = got.ids.len() as u64;
            ids.extend(got.ids);
            if n < page {
                return Ok(ids);
            }
        }
    }

    async fn get_records(
        &self,
        tenant: &str,
        database: &str,
        id: &str,
        body: &Value,
    ) -> Result<Records> {
        let path = format!("{}/collections/{}/get", db_path(tenant, database), seg(id));
        let answer: GetAnswer = self.post(&path, body, Retry::Always).await?;
        answer
            .into_records()
            .map_err(|reason| TransferError::BadAnswer {
                url: self.base.clone(),
                path,
                reason,
            })
    }

    /// Writes the records with upsert, so that sending a page twice (a resumed run) leaves one
    /// copy of each.
    pub async fn upsert(
        &self,
        tenant: &str,
        database: &str,
        id: &str,
        records: &Records,
    ) -> Result<()> {
        if records.ids.is_empty() {
            return Ok(());
        }
        let path = format!(
            "{}/collections/{}/upsert",
            db_path(tenant, database),
            seg(id)
        );
        let body = records
            .upsert_body()
            .map_err(|e| TransferError::BadAnswer {
                url: self.base.clone(),
                path: path.clone(),
                reason: format!("cannot encode records: {e}"),
            })?;
        self.call::<Value>(Method::POST, &path, Some(body), Retry::Always)
            .await
            .map(|_| ())
    }

    /// The most records the server takes in one write, if it says.
    pub async fn max_batch_size(&self) -> Option<u64> {
        let checks: Value = self.get("/api/v2/pre-flight-checks").await.ok()?;
        checks.get("max_batch_size").and_then(Value::as_u64)
    }
}

/// The configuration a collection is created with: what the source reports, without its
/// null entries (Chroma reports an unused `spann` as null, which a create refuses). The
/// `embedding_function` descriptor is kept, so Chroma's clients reading the copy pick the same
/// embedding function as they did on the source.
fn creatable_configuration(reported: &Value) -> Value {
    match reported {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => json!({}),
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let secs: f64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(60.0)))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn to_bytes(v: &Value) -> Vec<u8> {
    // A Value always serializes (its map keys are strings).
    serde_json::to_vec(v).unwrap_or_default()
}

fn db_path(tenant: &str, database: &str) -> String {
    format!(
        "/api/v2/tenants/{}/databases/{}",
        seg(tenant),
        seg(database)
    )
}

/// A name as one URL path segment: tenant and database names may hold characters a path
/// cannot carry as they are.
fn seg(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(seg("default_tenant"), "default_tenant");
        assert_eq!(seg("a b/c?"), "a%20b%2Fc%3F");
        assert_eq!(seg("é"), "%C3%A9");
    }

    #[test]
    fn null_configuration_entries_are_dropped_at_creation() {
        let reported = json!({
            "hnsw": {"space": "cosine", "ef_search": 50},
            "spann": null,
            "embedding_function": {"type": "known", "name": "default"},
        });
        assert_eq!(
            creatable_configuration(&reported),
            json!({
                "hnsw": {"space": "cosine", "ef_search": 50},
                "embedding_function": {"type": "known", "name": "default"},
            })
        );
    }
}
