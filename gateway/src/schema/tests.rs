//! The merge, validation and filter rules, each case as `chroma run` 1.5.9 answered it (raw
//! creates against it; tests/compat/test_schema.py compares whole answers).

use serde_json::{json, Value};

use super::filter::{check_where, check_where_document, is_indexed, ValueType};
use super::model::*;
use super::*;
use crate::wire::configuration;

/// What the Python client sends for `Schema()`: every default, the vector index with
/// Chroma's default embedding function.
fn client_default() -> Value {
    let ef = json!({"type": "known", "name": "default", "config": {}});
    json!({
        "defaults": {
            "string": {"fts_index": {"enabled": false, "config": {}}, "string_inverted_index": {"enabled": true, "config": {}}},
            "float_list": {"vector_index": {"enabled": false, "config": {"space": "l2", "embedding_function": ef}}},
            "sparse_vector": {"sparse_vector_index": {"enabled": false, "config": {"embedding_function": {"type": "unknown"}}}},
            "int": {"int_inverted_index": {"enabled": true, "config": {}}},
            "float": {"float_inverted_index": {"enabled": true, "config": {}}},
            "bool": {"bool_inverted_index": {"enabled": true, "config": {}}},
        },
        "keys": {
            "#document": {"string": {"fts_index": {"enabled": true, "config": {}}, "string_inverted_index": {"enabled": false, "config": {}}}},
            "#embedding": {"float_list": {"vector_index": {"enabled": true, "config": {"space": "l2", "embedding_function": ef, "source_key": "#document"}}}},
        },
    })
}

fn with(mut v: Value, pointer: &str, value: Value) -> Value {
    let (parent, leaf) = pointer.rsplit_once('/').unwrap();
    let target = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    target.insert(leaf.to_string(), value);
    v
}

fn parsed(v: Value) -> Schema {
    parse(Some(v)).unwrap().unwrap()
}

fn plain_config() -> Value {
    configuration::for_create(None, &None).unwrap()
}

/// Create as the gateway does: parse, validate, reconcile with the configuration.
fn create(schema: Value, config: Option<Value>) -> ApiResult<(Value, Value)> {
    let s = parse(Some(schema))?;
    if let Some(s) = &s {
        validate(s)?;
    }
    let config = configuration::for_create(config, &None)?;
    for_create(s.as_ref(), &config)
}

fn message(r: ApiResult<(Value, Value)>) -> String {
    r.map(|_| ()).unwrap_err().0.message
}

#[test]
fn no_schema_gives_the_schema_silt_derived_from_the_configuration() {
    let (config, schema) = for_create(None, &plain_config()).unwrap();
    assert_eq!(schema, configuration::schema(&config));
    assert_eq!(config, plain_config());
    // The client's `Schema()` is the default too, its "default" function named nowhere.
    let (_, from_client) = create(client_default(), None).unwrap();
    assert_eq!(from_client, schema);
}

#[test]
fn a_custom_schema_is_completed_field_by_field() {
    let sent = with(
        with(
            client_default(),
            "/defaults/int/int_inverted_index/enabled",
            json!(false),
        ),
        "/keys/secret",
        json!({"string": {"string_inverted_index": {"enabled": false, "config": {}}}}),
    );
    let sent = with(
        sent,
        "/keys/#embedding/float_list/vector_index/config/hnsw",
        json!({"ef_search": 55}),
    );
    let sent = with(
        sent,
        "/keys/#embedding/float_list/vector_index/config/space",
        json!("cosine"),
    );
    let (config, schema) = create(sent, None).unwrap();
    let view = configuration::configuration_json(&config);
    assert_eq!(view["hnsw"]["space"], "cosine");
    assert_eq!(view["hnsw"]["ef_search"], 55);
    assert_eq!(view["embedding_function"]["name"], "default");
    let emb = &schema["keys"]["#embedding"]["float_list"]["vector_index"]["config"];
    assert_eq!(emb["hnsw"]["ef_construction"], 100);
    assert_eq!(emb["hnsw"]["ef_search"], 55);
    assert_eq!(emb["source_key"], "#document");
    assert_eq!(
        schema["defaults"]["int"]["int_inverted_index"]["enabled"],
        false
    );
    // A key the defaults do not know is kept as sent, without the other types.
    assert_eq!(
        schema["keys"]["secret"],
        json!({"string": {"string_inverted_index": {"enabled": false, "config": {}}}})
    );
    // The defaults' sparse index keeps Chroma's filled-in settings.
    assert_eq!(
        schema["defaults"]["sparse_vector"]["sparse_vector_index"]["config"],
        json!({"embedding_function": {"type": "unknown"}, "bm25": false})
    );
}

#[test]
fn partial_schemas_merge_as_chroma_merges_them() {
    // Only the defaults' int index and a new key's full-text entry.
    let (_, s) = create(
        json!({"defaults": {"int": {"int_inverted_index": {"enabled": false, "config": {}}}},
               "keys": {"x": {"string": {"fts_index": {"enabled": false, "config": {}}}}}}),
        None,
    )
    .unwrap();
    assert_eq!(s["defaults"]["int"]["int_inverted_index"]["enabled"], false);
    assert_eq!(
        s["defaults"]["string"]["string_inverted_index"]["enabled"],
        true
    );
    assert_eq!(
        s["keys"]["x"],
        json!({"string": {"fts_index": {"enabled": false, "config": {}}}})
    );
    // A null or empty value-type map keeps the key with nothing set.
    let (_, s) = create(
        with(client_default(), "/keys/k", json!({"int": null})),
        None,
    )
    .unwrap();
    assert_eq!(s["keys"]["k"], json!({}));
    // SPANN settings do not survive into an HNSW collection's embedding index.
    let (config, s) = create(
        json!({"defaults": {}, "keys": {"#embedding": {"float_list": {"vector_index": {"enabled": true, "config": {"spann": {"search_nprobe": 10}}}}}}}),
        None,
    )
    .unwrap();
    assert!(
        s["keys"]["#embedding"]["float_list"]["vector_index"]["config"]
            .get("spann")
            .is_none()
    );
    assert_eq!(config, plain_config());
    // A disabled embedding index is kept (and still serves: dense vectors are always indexed).
    let (config, s) = create(
        json!({"defaults": {}, "keys": {"#embedding": {"float_list": {"vector_index": {"enabled": false, "config": {"space": "ip", "hnsw": {"ef_search": 7}}}}}}}),
        None,
    )
    .unwrap();
    assert_eq!(
        s["keys"]["#embedding"]["float_list"]["vector_index"]["enabled"],
        false
    );
    assert_eq!(
        configuration::configuration_json(&config)["hnsw"]["ef_search"],
        7
    );
    assert_eq!(
        configuration::configuration_json(&config)["hnsw"]["space"],
        "ip"
    );
}

#[test]
fn a_default_schema_takes_the_configuration_and_both_custom_conflict() {
    let (config, s) = create(client_default(), Some(json!({"hnsw": {"space": "cosine"}}))).unwrap();
    assert_eq!(
        configuration::configuration_json(&config)["hnsw"]["space"],
        "cosine"
    );
    assert_eq!(
        s["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["space"],
        "cosine"
    );
    let custom = with(
        client_default(),
        "/defaults/int/int_inverted_index/enabled",
        json!(false),
    );
    assert_eq!(
        message(create(
            custom.clone(),
            Some(json!({"hnsw": {"space": "cosine"}}))
        )),
        "Failed to reconcile schema: Cannot set both collection config and schema simultaneously"
    );
    // The client's embedding_function=None sends a legacy function: a custom configuration.
    assert!(create(
        custom.clone(),
        Some(json!({"embedding_function": {"type": "legacy"}}))
    )
    .is_err());
    assert!(create(
        custom,
        Some(json!({"embedding_function": {"type": "unknown"}}))
    )
    .is_ok());
    // Default schema, default configuration naming a function: the function is kept.
    let ef = json!({"type": "known", "name": "default", "config": {}});
    let (config, s) = create(
        json!({"defaults": {}, "keys": {}}),
        Some(json!({"embedding_function": ef})),
    )
    .unwrap();
    assert_eq!(
        configuration::configuration_json(&config)["embedding_function"],
        ef
    );
    assert_eq!(
        s["defaults"]["float_list"]["vector_index"]["config"]["embedding_function"],
        ef
    );
}

#[test]
fn invalid_schemas_are_refused_with_chromas_messages() {
    let base = client_default();
    let sparse = |config: Value| json!({"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": config}}});
    let cases = [
        (with(with(base.clone(), "/keys/a", sparse(json!({}))), "/keys/b", sparse(json!({}))),
         "At most one sparse vector index is allowed for the collection: [\"a\", \"b\"]"),
        (with(base.clone(), "/keys/#document/sparse_vector", sparse(json!({}))["sparse_vector"].clone()),
         "Document field cannot have any value types other than string: #document"),
        (with(base.clone(), "/keys/v", json!({"float_list": {"vector_index": {"enabled": true, "config": {}}}})),
         "Vector index can only be enabled on #embedding field: v"),
        (with(base.clone(), "/defaults/float_list/vector_index/enabled", json!(true)),
         "Vector index cannot be enabled by default. It can only be enabled on #embedding field."),
        (with(base.clone(), "/defaults/string/fts_index/enabled", json!(true)),
         "Full text search / regular expression index cannot be enabled by default. It can only be enabled on #document field."),
        (with(base.clone(), "/keys/t", json!({"string": {"fts_index": {"enabled": true, "config": {}}}})),
         "Full text search / regular expression index can only be enabled on #document field: t"),
        (with(base.clone(), "/keys/#foo", json!({})),
         "key cannot begin with '#'. Keys starting with '#' are reserved for system use: #foo"),
        (with(base.clone(), "/defaults/sparse_vector/sparse_vector_index/enabled", json!(true)),
         "Sparse vector index cannot be enabled by default. Please enable sparse vector index on specific keys. At most one sparse vector index is allowed for the collection."),
        (with(base.clone(), "/keys/sp", sparse(json!({"source_key": "#document"}))),
         "If source_key is provided then embedding_function must also be provided since there is no default embedding function."),
        (with(base.clone(), "/keys/#document/string/string_inverted_index/enabled", json!(true)),
         "String inverted index can not be enabled on #document key: #document"),
        (with(base.clone(), "/keys/#embedding/string", json!({})),
         "Embedding field cannot have any value types other than float_list: #embedding"),
        (with(base.clone(), "/defaults/float_list/vector_index/config/hnsw", json!({})),
         "__both__"),
        (with(base.clone(), "/keys/#embedding/float_list/vector_index/config/source_key", json!("x")),
         "Vector index can only source from #document"),
        (with(base.clone(), "/source_attached_function_id", json!("f")),
         "Cannot set source_attached_function_id. This field is reserved for system use."),
        (with(base.clone(), "/cmek", json!({"gcp": "bad"})),
         "CMEK does not match expected pattern: Gcp(\"bad\")"),
    ];
    for (schema, expected) in cases {
        let schema = if expected == "__both__" {
            with(
                schema,
                "/defaults/float_list/vector_index/config/spann",
                json!({}),
            )
        } else {
            schema
        };
        let expected = if expected == "__both__" {
            "Both spann and hnsw config cannot be present at the same time."
        } else {
            expected
        };
        let e = create(schema, None).map(|_| ()).unwrap_err();
        assert_eq!(e.0.kind, silt_common::ErrorKind::InvalidArgument);
        assert_eq!(e.0.message, format!("Validation error: schema: {expected}"));
    }
    let source_hash = with(
        base.clone(),
        "/keys/sp",
        json!({"sparse_vector": {"sparse_vector_index": {"enabled": false, "config": {"source_key": "#other"}}}}),
    );
    assert!(message(create(source_hash, None)).contains("source_key cannot begin with '#'"));
    assert_eq!(
        message(create(with(base.clone(), "/keys/#embedding/float_list/vector_index/config/hnsw", json!({"batch_size": 1})), None)),
        "Failed to reconcile schema: Invalid HNSW configuration: batch_size: Validation error: range [{\"value\": Number(1), \"min\": Number(2)}]"
    );
    // Malformed shapes are 422, as Chroma's body parser answers them.
    for bad in [
        with(
            base.clone(),
            "/defaults/int/int_inverted_index/config/bogus",
            json!(1),
        ),
        with(
            base.clone(),
            "/defaults/int/int_inverted_index/enabled",
            json!("yes"),
        ),
        with(
            base.clone(),
            "/keys/#embedding/float_list/vector_index/config/space",
            json!("manhattan"),
        ),
        with(
            base.clone(),
            "/keys/#embedding/float_list/vector_index/config/embedding_function",
            json!({"type": "weird"}),
        ),
        json!({"keys": {}}),
        json!(5),
    ] {
        let e = parse(Some(bad.clone())).map(|_| ()).unwrap_err();
        assert_eq!(e.0.kind, silt_common::ErrorKind::Unprocessable, "{bad}");
    }
    // ... while unknown index names and top-level fields are ignored, and the old field name
    // for keys is read.
    assert!(create(
        with(base.clone(), "/defaults/int/bogus_index", json!({})),
        None
    )
    .is_ok());
    assert!(create(with(base.clone(), "/bogus", json!(1)), None).is_ok());
    let (_, s) = create(json!({"defaults": {}, "key_overrides": {"k": {}}}), None).unwrap();
    assert_eq!(s["keys"]["k"], json!({}));
}

#[test]
fn a_sparse_index_declaration_round_trips() {
    let bm25 = json!({"type": "known", "name": "chroma_bm25", "config": {"k": 1.2, "b": 0.75, "avg_doc_length": 256.0, "token_max_length": 40}});
    let sent = with(
        client_default(),
        "/keys/sparse",
        json!({"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {"embedding_function": bm25, "source_key": "#document", "bm25": true}}}}),
    );
    let (_, s) = create(sent.clone(), None).unwrap();
    assert_eq!(s["keys"]["sparse"], sent["keys"]["sparse"]);
    let schema = parsed(s);
    assert_eq!(sparse_vector_keys(&schema), vec!["sparse".to_string()]);
    let (key, config) = sparse_vector_index(&schema).unwrap();
    assert_eq!(
        (key.as_str(), config.bm25, config.source_key.as_deref()),
        ("sparse", Some(true), Some("#document"))
    );
    assert!(filter::check_sparse_knn(&schema, "sparse").is_ok());
    assert_eq!(
        filter::check_sparse_knn(&schema, "other").unwrap_err().0.message,
        "Cannot filter using metadata key 'other' with type 'SparseVector' because indexing is disabled"
    );
    assert!(sparse_vector_keys(&parsed(client_default())).is_empty());
}

#[test]
fn filters_on_disabled_indexes_are_refused_in_order() {
    let sent = with(
        with(
            client_default(),
            "/defaults/int/int_inverted_index/enabled",
            json!(false),
        ),
        "/keys/secret",
        json!({"string": {"string_inverted_index": {"enabled": false, "config": {}}}}),
    );
    let sent = with(
        sent,
        "/keys/#document/string/fts_index/enabled",
        json!(false),
    );
    let (_, s) = create(sent, None).unwrap();
    let schema = parsed(s);
    let refused = |w: Value| {
        check_where(&schema, &w)
            .map(|_| String::new())
            .unwrap_or_else(|e| e.0.message)
    };
    let disabled = |k: &str, t: &str| {
        format!(
            "Cannot filter using metadata key '{k}' with type '{t}' because indexing is disabled"
        )
    };
    assert_eq!(refused(json!({"secret": "x"})), disabled("secret", "Str"));
    assert_eq!(
        refused(json!({"secret": {"$in": ["x"]}})),
        disabled("secret", "Str")
    );
    assert_eq!(refused(json!({"secret": 3})), disabled("secret", "Int"));
    assert_eq!(refused(json!({"n": {"$gt": 0}})), disabled("n", "Int"));
    assert_eq!(
        refused(json!({"$and": [{"f": 1.0}, {"n": 1}]})),
        disabled("n", "Int")
    );
    // Floats, other keys and the secret's other types are indexed.
    for ok in [
        json!({"f": {"$gt": 0.5}}),
        json!({"n": 1.0}),
        json!({"unknown": "z"}),
        json!({"secret": 1.5}),
    ] {
        assert_eq!(refused(ok.clone()), "", "{ok}");
    }
    let fts = "Cannot filter using full-text search because FTS indexing is disabled";
    assert_eq!(refused(json!({"#document": {"$contains": "x"}})), fts);
    assert_eq!(
        check_where_document(&schema, &json!({"$regex": "h.*"}))
            .unwrap_err()
            .0
            .message,
        fts
    );
    assert!(check_where_document(&schema, &json!({})).is_ok());
    assert!(is_indexed(&schema, "f", ValueType::Float));
    // A default schema refuses nothing.
    let plain = parsed(for_create(None, &plain_config()).unwrap().1);
    assert!(check_where(&plain, &json!({"$or": [{"a": 1}, {"b": "x"}, {"c": true}]})).is_ok());
    assert!(check_where_document(&plain, &json!({"$contains": "x"})).is_ok());
}

#[test]
fn modify_changes_the_schemas_vector_index_as_chroma_does() {
    let sent = with(
        client_default(),
        "/defaults/int/int_inverted_index/enabled",
        json!(false),
    );
    let (config, s) = create(sent, None).unwrap();
    let (config, schema) = update_parts(
        &config,
        Some(&s),
        Some(json!({"hnsw": {"ef_search": 77, "num_threads": 3}})),
    )
    .unwrap()
    .unwrap();
    let schema = schema.unwrap();
    assert_eq!(
        configuration::configuration_json(&config)["hnsw"]["ef_search"],
        77
    );
    for pointer in [
        "/defaults/float_list/vector_index/config/hnsw",
        "/keys/#embedding/float_list/vector_index/config/hnsw",
    ] {
        let h = schema.pointer(pointer).unwrap();
        assert_eq!(
            (h["ef_search"].as_u64(), h["num_threads"].as_u64()),
            (Some(77), Some(3)),
            "{pointer}"
        );
    }
    assert_eq!(
        schema["defaults"]["int"]["int_inverted_index"]["enabled"],
        false
    );
    let ef = json!({"type": "known", "name": "x", "config": {}});
    let (config, schema) = update_parts(
        &config,
        Some(&schema),
        Some(json!({"embedding_function": ef})),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        configuration::configuration_json(&config)["embedding_function"],
        ef
    );
    assert_eq!(
        schema.unwrap()["keys"]["#embedding"]["float_list"]["vector_index"]["config"]
            ["embedding_function"],
        ef
    );
    // Collections without a stored schema keep deriving it.
    let old = plain_config();
    let (_, schema) = update_parts(&old, None, Some(json!({"hnsw": {"ef_search": 5}})))
        .unwrap()
        .unwrap();
    assert_eq!(schema, None);
    assert_eq!(wire_parts(&old, None), configuration::schema(&old));
    assert!(stored_or_derived(&old, None).is_ok());
}

#[test]
fn writes_grow_the_schema_with_the_defaults_of_each_new_key_and_type() {
    let sent = with(
        client_default(),
        "/defaults/int/int_inverted_index/enabled",
        json!(false),
    );
    let (_, s) = create(sent, None).unwrap();
    let schema = parsed(s);
    let grown = evolve::with_metadata_keys(
        &schema,
        [
            ("k", ValueType::Str),
            ("n", ValueType::Int),
            ("k", ValueType::Str),
            ("chroma:x", ValueType::Int),
        ],
    )
    .unwrap();
    let v = serde_json::to_value(&grown).unwrap();
    assert_eq!(
        v["keys"]["k"],
        json!({"string": {"fts_index": {"config": {}, "enabled": false}, "string_inverted_index": {"config": {}, "enabled": true}}})
    );
    // The key takes the defaults as they are: ints are not indexed in this collection.
    assert_eq!(
        v["keys"]["n"],
        json!({"int": {"int_inverted_index": {"config": {}, "enabled": false}}})
    );
    assert!(v["keys"].get("chroma:x").is_none());
    // Nothing new: nothing to store. A known key with a new type gains that type only.
    assert!(evolve::with_metadata_keys(&grown, [("k", ValueType::Str)]).is_none());
    let again = evolve::with_metadata_keys(&grown, [("k", ValueType::Bool)]).unwrap();
    let v = serde_json::to_value(&again).unwrap();
    assert_eq!(
        v["keys"]["k"]["bool"]["bool_inverted_index"]["enabled"],
        true
    );
    assert_eq!(
        v["keys"]["k"]["string"]["string_inverted_index"]["enabled"],
        true
    );
}
