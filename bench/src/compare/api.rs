//! The part of Chroma's v2 HTTP API the benchmark uses, spoken the same way to every server.
//! Bodies are JSON built once per request; responses are parsed only as far as the benchmark
//! needs (ids), so client-side work stays small next to the server's.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

const DB: &str = "/api/v2/tenants/default_tenant/databases/default_database";

#[derive(Clone)]
pub struct ChromaApi {
    base: String,
    http: reqwest::Client,
}

impl ChromaApi {
    pub fn new(base: &str) -> anyhow::Result<ChromaApi> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(ChromaApi {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&body)?)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        self.send(
            self.http
                .post(url)
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body)?),
        )
        .await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// True once the server answers its heartbeat.
    pub async fn is_up(&self) -> bool {
        self.get("/api/v2/heartbeat").await.is_ok()
    }

    /// Creates the collection (deleting one of the same name first) and returns its id.
    pub async fn fresh_collection(&self, name: &str, space: &str) -> anyhow::Result<String> {
        let _ = self
            .send(
                self.http
                    .delete(format!("{}{DB}/collections/{name}", self.base)),
            )
            .await;
        let created = self
            .post(
                &format!("{DB}/collections"),
                &json!({"name": name, "metadata": {"hnsw:space": space}}),
            )
            .await?;
        Ok(created["id"]
            .as_str()
            .context("create collection: no id")?
            .to_string())
    }

    pub async fn add(&self, collection: &str, body: &Value) -> anyhow::Result<()> {
        self.post(&format!("{DB}/collections/{collection}/add"), body)
            .await?;
        Ok(())
    }

    /// Sets the collection's search effort (`hnsw.ef_search`) as Chroma's client does with
    /// `collection.modify(configuration={"hnsw": {"ef_search": ef}})`.
    pub async fn set_ef_search(&self, collection: &str, ef: u64) -> anyhow::Result<()> {
        let body = json!({"new_configuration": {"hnsw": {"ef_search": ef}}});
        self.send(
            self.http
                .put(format!("{}{DB}/collections/{collection}", self.base))
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body)?),
        )
        .await?;
        Ok(())
    }

    /// The ids of each query's results, nearest first.
    pub async fn query(&self, collection: &str, body: &Value) -> anyhow::Result<Vec<Vec<String>>> {
        let answer = self
            .post(&format!("{DB}/collections/{collection}/query"), body)
            .await?;
        let lists = answer["ids"].as_array().context("query: no ids")?;
        Ok(lists.iter().map(string_list).collect())
    }

    pub async fn get_records(&self, collection: &str, body: &Value) -> anyhow::Result<Vec<String>> {
        let answer = self
            .post(&format!("{DB}/collections/{collection}/get"), body)
            .await?;
        Ok(string_list(&answer["ids"]))
    }

    /// Chroma's `read_level`: `index_only` counts what is indexed, `index_and_wal` everything.
    pub async fn count(&self, collection: &str, read_level: &str) -> anyhow::Result<u64> {
        let n = self
            .get(&format!(
                "{DB}/collections/{collection}/count?read_level={read_level}"
            ))
            .await?;
        n.as_u64().context("count is not a number")
    }

    /// The text of `GET /metrics` (Silt only).
    pub async fn metrics(&self) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET /metrics: HTTP {}", response.status());
        }
        Ok(response.text().await?)
    }
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
