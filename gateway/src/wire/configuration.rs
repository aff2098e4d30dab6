//! Chroma's collection configuration: what a create or modify may send, the complete form
//! Silt stores (every default filled in, as `chroma run` does), and the two views clients read
//! back, `configuration_json` and `schema`. docs/chroma-configuration.md says which settings
//! Silt applies and which it accepts and ignores.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use silt_common::distance::Distance;

use crate::error::{ApiError, ApiResult};
use silt_common::ErrorKind;

/// Chroma's HNSW defaults (the schema's defaults use them too).
pub(crate) mod defaults {
    pub const EF_CONSTRUCTION: u64 = 100;
    pub const EF_SEARCH: u64 = 100;
    pub const MAX_NEIGHBORS: u64 = 16;
    pub const RESIZE_FACTOR: f64 = 1.2;
    pub const SYNC_THRESHOLD: u64 = 1000;
    pub const BATCH_SIZE: u64 = 100;

    /// Chroma's default is the machine's thread count; recorded at creation so it stays stable.
    pub fn num_threads() -> u64 {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
    }
}

use defaults::*;

/// The `hnsw` section as a create may send it; unknown keys are refused, as by Chroma.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HnswCreate {
    space: Option<SpaceName>,
    ef_construction: Option<u64>,
    ef_search: Option<u64>,
    max_neighbors: Option<u64>,
    num_threads: Option<u64>,
    resize_factor: Option<f64>,
    sync_threshold: Option<u64>,
    batch_size: Option<u64>,
}

/// The `hnsw` section of a modify: the build-time settings and the distance cannot change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HnswUpdate {
    ef_search: Option<u64>,
    max_neighbors: Option<u64>,
    num_threads: Option<u64>,
    resize_factor: Option<f64>,
    sync_threshold: Option<u64>,
    batch_size: Option<u64>,
}

/// `spann` is Chroma's distributed index; `chroma run` keeps only its distance and so does Silt.
#[derive(Debug, Default, Deserialize)]
struct SpannSection {
    space: Option<SpaceName>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum SpaceName {
    L2,
    Cosine,
    Ip,
}

impl SpaceName {
    fn as_str(self) -> &'static str {
        match self {
            SpaceName::L2 => "l2",
            SpaceName::Cosine => "cosine",
            SpaceName::Ip => "ip",
        }
    }
}

/// The stored `hnsw` section: every setting, defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hnsw {
    space: String,
    ef_construction: u64,
    ef_search: u64,
    max_neighbors: u64,
    num_threads: u64,
    resize_factor: f64,
    sync_threshold: u64,
    batch_size: u64,
}

impl Default for Hnsw {
    fn default() -> Self {
        Hnsw {
            space: Distance::L2.as_str().to_string(),
            ef_construction: EF_CONSTRUCTION,
            ef_search: EF_SEARCH,
            max_neighbors: MAX_NEIGHBORS,
            num_threads: defaults::num_threads(),
            resize_factor: RESIZE_FACTOR,
            sync_threshold: SYNC_THRESHOLD,
            batch_size: BATCH_SIZE,
        }
    }
}

/// A body part that does not have the shape Chroma's server expects: 422, as Chroma answers.
fn unprocessable(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorKind::Unprocessable, format!("Invalid {what}: {e}"))
}

fn section<T: for<'de> Deserialize<'de> + Default>(
    config: &Map<String, Value>,
    key: &str,
    what: &str,
) -> ApiResult<Option<T>> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| unprocessable(&format!("{what}.{key}"), e)),
        Some(other) => Err(unprocessable(
            &format!("{what}.{key}"),
            format!("expected an object, got {other}"),
        )),
    }
}

fn as_object(v: Option<Value>, what: &str) -> ApiResult<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(unprocessable(
            what,
            format!("expected an object, got {other}"),
        )),
    }
}

/// A legacy `hnsw:*` collection metadata key as a number (Chroma still reads them at creation).
fn legacy_number(metadata: &Option<Value>, key: &str) -> ApiResult<Option<f64>> {
    match metadata.as_ref().and_then(|m| m.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(ApiError::invalid(format!(
            "Invalid metadata {key}: expected a number, got {other}"
        ))),
    }
}

fn legacy_count(metadata: &Option<Value>, key: &str) -> ApiResult<Option<u64>> {
    match legacy_number(metadata, key)? {
        Some(x) if x >= 0.0 && x.fract() == 0.0 => Ok(Some(x as u64)),
        Some(x) => Err(ApiError::invalid(format!(
            "Invalid metadata {key}: expected a non-negative integer, got {x}"
        ))),
        None => Ok(None),
    }
}

fn parse_space(s: &str) -> ApiResult<Distance> {
    Distance::parse(s).ok_or_else(|| {
        ApiError::invalid(format!(
            "Invalid distance function {s:?}: expected cosine, l2 or ip"
        ))
    })
}

/// The HNSW settings the legacy `hnsw:*` collection metadata keys ask for (defaults for the
/// keys not given). Refused values are refused whether or not they end up used, as by Chroma.
fn legacy_hnsw(metadata: &Option<Value>) -> ApiResult<Hnsw> {
    let d = Hnsw::default();
    let space = match metadata.as_ref().and_then(|m| m.get("hnsw:space")) {
        None | Some(Value::Null) => Distance::L2,
        Some(Value::String(s)) => parse_space(s)?,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid distance function {other}"
            )))
        }
    };
    let count = |key: &str, default: u64| -> ApiResult<u64> {
        Ok(legacy_count(metadata, key)?.unwrap_or(default))
    };
    Ok(Hnsw {
        space: space.as_str().to_string(),
        ef_construction: count("hnsw:construction_ef", d.ef_construction)?,
        ef_search: count("hnsw:search_ef", d.ef_search)?,
        max_neighbors: count("hnsw:M", d.max_neighbors)?,
        num_threads: count("hnsw:num_threads", d.num_threads)?,
        resize_factor: legacy_number(metadata, "hnsw:resize_factor")?.unwrap_or(d.resize_factor),
        sync_threshold: count("hnsw:sync_threshold", d.sync_threshold)?,
        batch_size: count("hnsw:batch_size", d.batch_size)?,
    })
}

/// The complete configuration a new collection is stored with, from the create request's
/// `configuration` and the legacy `hnsw:*` metadata keys, as Chroma chooses between them: an
/// `hnsw` section that asks for anything but the defaults wins whole; otherwise the metadata
/// keys give every setting. A `spann` section (Chroma's distributed index) gives its distance
/// only.
pub fn for_create(configuration: Option<Value>, metadata: &Option<Value>) -> ApiResult<Value> {
    let config = as_object(configuration, "configuration")?;
    let hnsw: Option<HnswCreate> = section(&config, "hnsw", "configuration")?;
    let spann: Option<SpannSection> = section(&config, "spann", "configuration")?;
    if hnsw.is_some() && spann.is_some() {
        return Err(ApiError::invalid(
            "Multiple vector index configurations provided",
        ));
    }
    let legacy = legacy_hnsw(metadata)?;
    let defaults = Hnsw::default();
    let hnsw = match (hnsw, spann) {
        (None, Some(spann)) => Hnsw {
            space: spann
                .space
                .map_or(defaults.space.clone(), |s| s.as_str().to_string()),
            ..defaults
        },
        (None, None) => legacy,
        (Some(given), _) => {
            let given = Hnsw {
                space: given
                    .space
                    .map_or(defaults.space.clone(), |s| s.as_str().to_string()),
                ef_construction: given.ef_construction.unwrap_or(defaults.ef_construction),
                ef_search: given.ef_search.unwrap_or(defaults.ef_search),
                max_neighbors: given.max_neighbors.unwrap_or(defaults.max_neighbors),
                num_threads: given.num_threads.unwrap_or(defaults.num_threads),
                resize_factor: given.resize_factor.unwrap_or(defaults.resize_factor),
                sync_threshold: given.sync_threshold.unwrap_or(defaults.sync_threshold),
                batch_size: given.batch_size.unwrap_or(defaults.batch_size),
            };
            if given == defaults {
                legacy
            } else {
                given
            }
        }
    };
    let embedding_function = config
        .get("embedding_function")
        .cloned()
        .unwrap_or(Value::Null);
    Ok(stored(&hnsw, embedding_function))
}

fn stored(hnsw: &Hnsw, embedding_function: Value) -> Value {
    json!({
        "hnsw": serde_json::to_value(hnsw).unwrap_or(Value::Null),
        "spann": null,
        "embedding_function": embedding_function,
    })
}

/// The stored configuration completed with defaults, field by field: collections created
/// before Silt stored the complete form hold only what their client sent, possibly with values
/// of the wrong type (then the default is reported).
fn complete(stored_config: &Value) -> (Hnsw, Value) {
    let mut hnsw = Hnsw::default();
    let given = |key: &str| stored_config.get("hnsw").and_then(|h| h.get(key));
    let count = |key: &str, default: u64| given(key).and_then(Value::as_u64).unwrap_or(default);
    hnsw.ef_construction = count("ef_construction", hnsw.ef_construction);
    hnsw.ef_search = count("ef_search", hnsw.ef_search);
    hnsw.max_neighbors = count("max_neighbors", hnsw.max_neighbors);
    hnsw.num_threads = count("num_threads", hnsw.num_threads);
    hnsw.sync_threshold = count("sync_threshold", hnsw.sync_threshold);
    hnsw.batch_size = count("batch_size", hnsw.batch_size);
    hnsw.resize_factor = given("resize_factor")
        .and_then(Value::as_f64)
        .unwrap_or(hnsw.resize_factor);
    // The distance the read path uses (`Collection::distance`): stored configurations always
    // carry it in `hnsw.space`.
    if let Some(space) = given("space")
        .and_then(Value::as_str)
        .and_then(Distance::parse)
    {
        hnsw.space = space.as_str().to_string();
    }
    let ef = stored_config
        .get("embedding_function")
        .cloned()
        .unwrap_or(Value::Null);
    (hnsw, ef)
}

/// The vector index settings of a stored configuration, for the schema (which describes the
/// same index): the distance, every other HNSW setting, and the embedding function.
pub(crate) struct VectorSettings {
    pub space: Distance,
    /// Every HNSW setting but `space`, defaults filled in.
    pub hnsw: Value,
    pub embedding_function: Value,
    default: bool,
}

impl VectorSettings {
    /// Chroma's test for a configuration that asks for nothing: every HNSW setting at its
    /// default (`num_threads` included), L2, and no embedding function, an unknown one or
    /// Chroma's default model.
    pub fn is_default(&self) -> bool {
        self.default
    }
}

fn embedding_function_is_default(ef: &Value) -> bool {
    match ef.get("type").and_then(Value::as_str) {
        _ if ef.is_null() => true,
        Some("unknown") => true,
        Some("known") => ef.get("name").and_then(Value::as_str) == Some("default"),
        _ => false,
    }
}

pub(crate) fn vector_settings(stored_config: &Value) -> VectorSettings {
    let (hnsw, ef) = complete(stored_config);
    let default = hnsw == Hnsw::default() && embedding_function_is_default(&ef);
    let space = Distance::parse(&hnsw.space).unwrap_or_default();
    let mut params = serde_json::to_value(&hnsw).unwrap_or(json!({}));
    if let Some(m) = params.as_object_mut() {
        m.remove("space");
    }
    VectorSettings {
        space,
        hnsw: params,
        embedding_function: ef,
        default,
    }
}

/// The stored configuration of a vector index described by a schema: `space`, the HNSW
/// settings it has (the others take their defaults) and the embedding function.
pub(crate) fn stored_from_parts(space: &str, hnsw: &Value, embedding_function: Value) -> Value {
    let mut section = hnsw.as_object().cloned().unwrap_or_default();
    section.insert("space".into(), json!(space));
    let (hnsw, ef) = complete(&json!({"hnsw": section, "embedding_function": embedding_function}));
    stored(&hnsw, ef)
}

/// The stored configuration with a modify's `new_configuration` applied. Chroma refuses
/// settings that cannot change after creation (the distance, `ef_construction`) as unknown
/// fields; a `spann` section does not apply to a local (HNSW) collection and changes nothing.
pub fn for_update(current: &Value, update: Option<Value>) -> ApiResult<Option<Value>> {
    let update = as_object(update, "new_configuration")?;
    if update.is_empty() {
        return Ok(None);
    }
    let hnsw: Option<HnswUpdate> = section(&update, "hnsw", "new_configuration")?;
    let _spann: Option<Map<String, Value>> = section(&update, "spann", "new_configuration")?;
    let (mut config, mut ef) = complete(current);
    if let Some(h) = hnsw {
        config.ef_search = h.ef_search.unwrap_or(config.ef_search);
        config.max_neighbors = h.max_neighbors.unwrap_or(config.max_neighbors);
        config.num_threads = h.num_threads.unwrap_or(config.num_threads);
        config.resize_factor = h.resize_factor.unwrap_or(config.resize_factor);
        config.sync_threshold = h.sync_threshold.unwrap_or(config.sync_threshold);
        config.batch_size = h.batch_size.unwrap_or(config.batch_size);
    }
    if let Some(new_ef) = update.get("embedding_function").filter(|v| !v.is_null()) {
        ef = new_ef.clone();
    }
    Ok(Some(stored(&config, ef)))
}

/// `configuration_json` as `chroma run` answers it: `num_threads` and `batch_size` are in the
/// schema only.
pub fn configuration_json(stored_config: &Value) -> Value {
    let (hnsw, ef) = complete(stored_config);
    json!({
        "hnsw": {
            "space": hnsw.space,
            "ef_construction": hnsw.ef_construction,
            "ef_search": hnsw.ef_search,
            "max_neighbors": hnsw.max_neighbors,
            "resize_factor": hnsw.resize_factor,
            "sync_threshold": hnsw.sync_threshold,
        },
        "spann": null,
        "embedding_function": ef,
    })
}

/// Chroma's index schema for the collection, as `chroma run` derives it from the
/// configuration: the embedding's vector index and the document's full-text index on, an
/// inverted index on every metadata type. Clients read it to apply a modify locally.
pub fn schema(stored_config: &Value) -> Value {
    let (hnsw, ef) = complete(stored_config);
    let hnsw_params = json!({
        "ef_construction": hnsw.ef_construction,
        "max_neighbors": hnsw.max_neighbors,
        "ef_search": hnsw.ef_search,
        "num_threads": hnsw.num_threads,
        "batch_size": hnsw.batch_size,
        "sync_threshold": hnsw.sync_threshold,
        "resize_factor": hnsw.resize_factor,
    });
    let vector_config = |source_key: bool| {
        let mut c = Map::new();
        c.insert("space".into(), json!(hnsw.space));
        if !ef.is_null() {
            c.insert("embedding_function".into(), ef.clone());
        }
        if source_key {
            c.insert("source_key".into(), json!("#document"));
        }
        c.insert("hnsw".into(), hnsw_params.clone());
        Value::Object(c)
    };
    let index = |enabled: bool| json!({"enabled": enabled, "config": {}});
    json!({
        "defaults": {
            "string": {"fts_index": index(false), "string_inverted_index": index(true)},
            "float_list": {"vector_index": {"enabled": false, "config": vector_config(false)}},
            "sparse_vector": {"sparse_vector_index": {
                "enabled": false,
                "config": {"embedding_function": {"type": "unknown"}, "bm25": false},
            }},
            "int": {"int_inverted_index": index(true)},
            "float": {"float_inverted_index": index(true)},
            "bool": {"bool_inverted_index": index(true)},
        },
        "keys": {
            "#document": {"string": {"fts_index": index(true), "string_inverted_index": index(false)}},
            "#embedding": {"float_list": {"vector_index": {"enabled": true, "config": vector_config(true)}}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_fills_every_default_and_keeps_what_was_sent() {
        let c = for_create(
            Some(json!({"hnsw": {"space": "cosine", "ef_search": 7}})),
            &None,
        )
        .unwrap();
        let view = configuration_json(&c);
        assert_eq!(view["hnsw"]["space"], "cosine");
        assert_eq!(view["hnsw"]["ef_search"], 7);
        assert_eq!(view["hnsw"]["ef_construction"], 100);
        assert_eq!(view["hnsw"]["max_neighbors"], 16);
        assert!(view["hnsw"].get("num_threads").is_none());
        assert_eq!(view["spann"], Value::Null);
        assert_eq!(view["embedding_function"], Value::Null);
        assert_eq!(
            schema(&c)["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["hnsw"]
                ["batch_size"],
            100
        );
    }

    #[test]
    fn legacy_metadata_and_spann_give_the_settings() {
        let md = Some(json!({"hnsw:space": "ip", "hnsw:search_ef": 33, "hnsw:M": 5}));
        let view = configuration_json(&for_create(None, &md).unwrap());
        assert_eq!(view["hnsw"]["space"], "ip");
        assert_eq!(view["hnsw"]["ef_search"], 33);
        assert_eq!(view["hnsw"]["max_neighbors"], 5);
        let c = for_create(Some(json!({"spann": {"space": "cosine"}})), &None).unwrap();
        assert_eq!(configuration_json(&c)["hnsw"]["space"], "cosine");
    }

    #[test]
    fn a_configured_hnsw_section_wins_whole_over_legacy_metadata() {
        // chroma run: {"hnsw": {"space": "ip"}} with metadata {"hnsw:M": 8} keeps 16 neighbors;
        // a section of defaults only lets the metadata decide.
        let md = Some(json!({"hnsw:M": 8, "hnsw:space": "cosine"}));
        let view =
            configuration_json(&for_create(Some(json!({"hnsw": {"space": "ip"}})), &md).unwrap());
        assert_eq!(
            (
                view["hnsw"]["space"].as_str(),
                view["hnsw"]["max_neighbors"].as_u64()
            ),
            (Some("ip"), Some(16))
        );
        let view = configuration_json(&for_create(Some(json!({"hnsw": {}})), &md).unwrap());
        assert_eq!(
            (
                view["hnsw"]["space"].as_str(),
                view["hnsw"]["max_neighbors"].as_u64()
            ),
            (Some("cosine"), Some(8))
        );
        let view = configuration_json(&for_create(Some(json!({"spann": {}})), &md).unwrap());
        assert_eq!(
            (
                view["hnsw"]["space"].as_str(),
                view["hnsw"]["max_neighbors"].as_u64()
            ),
            (Some("l2"), Some(16))
        );
    }

    #[test]
    fn create_refuses_what_chroma_refuses() {
        for bad in [
            json!({"hnsw": {"space": "cosine"}, "spann": {"space": "cosine"}}),
            json!({"hnsw": {"space": "manhattan"}}),
            json!({"hnsw": {"ef_search": "x"}}),
            json!({"hnsw": {"bogus": 1}}),
            json!({"hnsw": 3}),
            json!({"spann": "__main__"}),
        ] {
            assert!(for_create(Some(bad.clone()), &None).is_err(), "{bad}");
        }
    }

    #[test]
    fn update_changes_search_settings_only() {
        let c = for_create(Some(json!({"hnsw": {"space": "cosine"}})), &None).unwrap();
        let u = for_update(&c, Some(json!({"hnsw": {"ef_search": 9}})))
            .unwrap()
            .unwrap();
        assert_eq!(configuration_json(&u)["hnsw"]["ef_search"], 9);
        assert_eq!(configuration_json(&u)["hnsw"]["space"], "cosine");
        assert!(for_update(&c, Some(json!({"hnsw": {"space": "l2"}}))).is_err());
        assert!(for_update(&c, Some(json!({"hnsw": {"ef_construction": 1}}))).is_err());
        assert_eq!(for_update(&c, Some(json!({}))).unwrap(), None);
        let spann = for_update(&c, Some(json!({"spann": {"search_nprobe": 3}})))
            .unwrap()
            .unwrap();
        assert_eq!(configuration_json(&spann), configuration_json(&c));
    }

    #[test]
    fn configurations_stored_as_given_are_completed() {
        let old = json!({"hnsw": {"space": "ip"}});
        let view = configuration_json(&old);
        assert_eq!(view["hnsw"]["space"], "ip");
        assert_eq!(view["hnsw"]["ef_search"], 100);
    }
}
