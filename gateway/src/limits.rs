//! Limits (quotas) enforced on every request and reported by `pre-flight-checks`. The server's
//! configuration gives the defaults (a cluster's gateway: `Limits::default()`; `silt run`:
//! `Limits::embedded()`, without quotas, like `chroma run`); an operator may override any of
//! them per tenant in the catalog (`silt admin set-quotas`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most records in one write, ids in one delete, or query embeddings in one query.
    pub max_batch_size: usize,
    /// Largest request body. Server-wide: checked before the caller is known.
    pub max_request_bytes: usize,
    pub max_dimension: usize,
    pub max_id_bytes: usize,
    pub max_document_bytes: usize,
    pub max_metadata_keys: usize,
    /// Size of one record's metadata, as JSON.
    pub max_metadata_bytes: usize,
    /// Most results one query or get may return (n_results, limit).
    pub max_n_results: usize,
    pub max_collections_per_tenant: u64,
    pub max_records_per_collection: u64,
    /// Sustained requests per second per tenant (0: unlimited), with this burst.
    pub tenant_requests_per_second: u32,
    pub tenant_request_burst: u32,
    /// Sustained requests per second per collection (0: unlimited), with this burst.
    pub collection_requests_per_second: u32,
    pub collection_request_burst: u32,
    /// Requests of one tenant being served at once (0: unlimited).
    pub max_concurrent_requests: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_batch_size: 10_000,
            max_request_bytes: 128 << 20,
            max_dimension: 16_384,
            max_id_bytes: 1024,
            max_document_bytes: 1 << 20,
            max_metadata_keys: 256,
            max_metadata_bytes: 64 << 10,
            max_n_results: 10_000,
            max_collections_per_tenant: 1_000_000,
            max_records_per_collection: 100_000_000,
            tenant_requests_per_second: 5_000,
            tenant_request_burst: 10_000,
            collection_requests_per_second: 2_000,
            collection_request_burst: 4_000,
            max_concurrent_requests: 256,
        }
    }
}

impl Limits {
    /// A local, single-user server's defaults: no quotas on what one request may return or a
    /// tenant may hold (`chroma run` has none), so only the protections stay: batch and body
    /// sizes, id length, rate and concurrency limits. A read stays bounded by what the
    /// collection holds. `silt admin set-quotas` still applies a tenant's quotas over these.
    pub fn embedded() -> Self {
        Limits {
            max_dimension: usize::MAX,
            max_document_bytes: usize::MAX,
            max_metadata_keys: usize::MAX,
            max_metadata_bytes: usize::MAX,
            max_n_results: usize::MAX,
            max_collections_per_tenant: u64::MAX,
            max_records_per_collection: u64::MAX,
            ..Limits::default()
        }
    }

    /// These limits with an operator's overrides applied. `overrides` is a JSON object of
    /// limit name → value; unknown names and wrong types are errors, so a typo cannot silently
    /// leave a tenant unlimited.
    pub fn with_overrides(&self, overrides: &Value) -> Result<Limits, String> {
        let Value::Object(changes) = overrides else {
            return Err(format!(
                "quota overrides must be a JSON object, got {overrides}"
            ));
        };
        let mut merged = serde_json::to_value(self).map_err(|e| e.to_string())?;
        for (name, value) in changes {
            match merged.get_mut(name) {
                Some(slot) => *slot = value.clone(),
                None => return Err(format!("unknown limit {name:?}")),
            }
        }
        serde_json::from_value(merged).map_err(|e| format!("invalid quota overrides: {e}"))
    }

    /// What `pre-flight-checks` reports: everything a client can plan around.
    pub fn report(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("supports_base64_encoding".into(), Value::Bool(true));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overrides_replace_only_what_they_name() {
        let base = Limits::default();
        let l = base
            .with_overrides(&json!({"max_batch_size": 5, "tenant_requests_per_second": 1}))
            .unwrap();
        assert_eq!(l.max_batch_size, 5);
        assert_eq!(l.tenant_requests_per_second, 1);
        assert_eq!(l.max_dimension, base.max_dimension);
        assert!(base.with_overrides(&json!({"max_batch_sise": 5})).is_err());
        assert!(base
            .with_overrides(&json!({"max_batch_size": "5"}))
            .is_err());
        assert!(base.with_overrides(&json!([1])).is_err());
        assert_eq!(base.report()["max_batch_size"], json!(10_000));
        assert_eq!(base.report()["supports_base64_encoding"], json!(true));
    }

    #[test]
    fn embedded_defaults_have_no_quotas_but_overrides_still_apply() {
        let e = Limits::embedded();
        assert_eq!(e.max_n_results, usize::MAX);
        assert_eq!(e.max_collections_per_tenant, u64::MAX);
        assert_eq!(e.max_batch_size, Limits::default().max_batch_size);
        assert_eq!(e.max_request_bytes, Limits::default().max_request_bytes);
        let capped = e.with_overrides(&json!({"max_n_results": 5})).unwrap();
        assert_eq!(capped.max_n_results, 5);
        assert_eq!(capped.max_records_per_collection, u64::MAX);
    }
}
