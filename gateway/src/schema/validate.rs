//! What Chroma refuses in a schema a client sends, with its messages (400
//! `InvalidArgumentError`, "Validation error: schema: ..."), checked before any default is
//! filled in. Chroma's `chroma run` additionally refuses every sparse vector index ("not
//! enabled in local"); Silt serves them, as Chroma's distributed deployment does.

use super::model::*;
use crate::error::{ApiError, ApiResult};

fn refuse(message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("Validation error: schema: {message}"))
}

fn enabled<C>(index: &Option<Index<C>>) -> bool {
    index.as_ref().is_some_and(|i| i.enabled)
}

/// Chroma's pattern for a GCP key: `projects/*/locations/*/keyRings/*/cryptoKeys/*`, each part
/// non-empty (the last may contain further slashes).
fn gcp_key_is_well_formed(resource: &str) -> bool {
    let mut rest = resource;
    for (i, part) in ["projects/", "/locations/", "/keyRings/", "/cryptoKeys/"]
        .iter()
        .enumerate()
    {
        if i == 0 {
            match rest.strip_prefix(*part) {
                Some(r) => rest = r,
                None => return false,
            }
            continue;
        }
        // The separator must follow a non-empty segment; `.+` is greedy in Chroma's regex,
        // so any later occurrence will do.
        match rest.match_indices(*part).find(|(at, _)| *at > 0) {
            Some((at, _)) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    !rest.is_empty()
}

pub fn validate(schema: &Schema) -> ApiResult<()> {
    if schema.source_attached_function_id.is_some() {
        return Err(refuse(
            "Cannot set source_attached_function_id. This field is reserved for system use.",
        ));
    }
    let defaults = &schema.defaults;
    let default_vector = defaults
        .float_list
        .as_ref()
        .and_then(|f| f.vector_index.as_ref());
    if default_vector.is_some_and(|v| v.enabled) {
        return Err(refuse("Vector index cannot be enabled by default. It can only be enabled on #embedding field."));
    }
    if default_vector.is_some_and(|v| v.config.hnsw.is_some() && v.config.spann.is_some()) {
        return Err(refuse(
            "Both spann and hnsw config cannot be present at the same time.",
        ));
    }
    if defaults
        .sparse_vector
        .as_ref()
        .is_some_and(|s| enabled(&s.sparse_vector_index))
    {
        return Err(refuse("Sparse vector index cannot be enabled by default. Please enable sparse vector index on specific keys. At most one sparse vector index is allowed for the collection."));
    }
    if defaults
        .string
        .as_ref()
        .is_some_and(|s| enabled(&s.fts_index))
    {
        return Err(refuse("Full text search / regular expression index cannot be enabled by default. It can only be enabled on #document field."));
    }
    let mut sparse_keys: Vec<&String> = Vec::new();
    for (key, types) in &schema.keys {
        if key.starts_with('#') && key != DOCUMENT_KEY && key != EMBEDDING_KEY {
            return Err(refuse(format!("key cannot begin with '#'. Keys starting with '#' are reserved for system use: {key}")));
        }
        if key == DOCUMENT_KEY
            && (types.boolean.is_some()
                || types.float.is_some()
                || types.int.is_some()
                || types.float_list.is_some()
                || types.sparse_vector.is_some())
        {
            return Err(refuse(format!(
                "Document field cannot have any value types other than string: {key}"
            )));
        }
        if key == EMBEDDING_KEY
            && (types.boolean.is_some()
                || types.float.is_some()
                || types.int.is_some()
                || types.string.is_some()
                || types.sparse_vector.is_some())
        {
            return Err(refuse(format!(
                "Embedding field cannot have any value types other than float_list: {key}"
            )));
        }
        if let Some(vector) = types
            .float_list
            .as_ref()
            .and_then(|f| f.vector_index.as_ref())
        {
            if vector.enabled && key != EMBEDDING_KEY {
                return Err(refuse(format!(
                    "Vector index can only be enabled on #embedding field: {key}"
                )));
            }
            if vector
                .config
                .source_key
                .as_ref()
                .is_some_and(|k| k != DOCUMENT_KEY)
            {
                return Err(refuse("Vector index can only source from #document"));
            }
        }
        if let Some(sparse) = types
            .sparse_vector
            .as_ref()
            .and_then(|s| s.sparse_vector_index.as_ref())
        {
            if sparse.enabled {
                sparse_keys.push(key);
                if sparse_keys.len() > 1 {
                    return Err(refuse(format!(
                        "At most one sparse vector index is allowed for the collection: {sparse_keys:?}"
                    )));
                }
                if sparse.config.source_key.is_some() && sparse.config.embedding_function.is_none()
                {
                    return Err(refuse("If source_key is provided then embedding_function must also be provided since there is no default embedding function."));
                }
            }
            if sparse
                .config
                .source_key
                .as_ref()
                .is_some_and(|k| k.starts_with('#') && k != DOCUMENT_KEY)
            {
                return Err(refuse("source_key cannot begin with '#'. The only valid key starting with '#' is Key.DOCUMENT or '#document'."));
            }
        }
        if key != DOCUMENT_KEY && types.string.as_ref().is_some_and(|s| enabled(&s.fts_index)) {
            return Err(refuse(format!("Full text search / regular expression index can only be enabled on #document field: {key}")));
        }
        if key == DOCUMENT_KEY
            && types
                .string
                .as_ref()
                .is_some_and(|s| enabled(&s.string_inverted_index))
        {
            return Err(refuse(format!(
                "String inverted index can not be enabled on #document key: {key}"
            )));
        }
    }
    if let Some(Cmek::Gcp(resource)) = &schema.cmek {
        if !gcp_key_is_well_formed(resource) {
            return Err(refuse(format!(
                "CMEK does not match expected pattern: Gcp({resource:?})"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::gcp_key_is_well_formed;

    #[test]
    fn gcp_keys_follow_chromas_pattern() {
        assert!(gcp_key_is_well_formed(
            "projects/p/locations/us/keyRings/r/cryptoKeys/k"
        ));
        assert!(gcp_key_is_well_formed(
            "projects/a/b/locations/us/keyRings/r/cryptoKeys/k/v"
        ));
        for bad in [
            "bad",
            "projects//locations/us/keyRings/r/cryptoKeys/k",
            "projects/p/locations/us/keyRings/r/cryptoKeys/",
            "projects/p/keyRings/r/locations/us/cryptoKeys/k",
        ] {
            assert!(!gcp_key_is_well_formed(bad), "{bad}");
        }
    }
}
