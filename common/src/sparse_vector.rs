//! Sparse vectors: Chroma's `SparseVector` metadata value (parallel `indices` and `values`,
//! optionally `tokens`), as its clients send it — `{"#type": "sparse_vector", "indices": [...],
//! "values": [...]}` — and as Silt stores and returns it. Chroma also accepts the form without
//! `#type`; so does Silt, and it always answers with `#type`.

use serde_json::{Map, Value};

/// Chroma's type tag for a sparse vector inside metadata.
pub const TYPE_KEY: &str = "#type";
pub const TYPE_VALUE: &str = "sparse_vector";

#[derive(Debug, Clone, PartialEq)]
pub struct SparseVector {
    /// Strictly ascending dimension numbers.
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    /// The token each dimension stands for (Chroma's BM25 function can send them).
    pub tokens: Option<Vec<String>>,
}

impl SparseVector {
    /// Whether a JSON object is meant as a sparse vector (rather than a nested map, which
    /// metadata cannot hold).
    pub fn looks_like(map: &Map<String, Value>) -> bool {
        map.contains_key(TYPE_KEY) || (map.contains_key("indices") && map.contains_key("values"))
    }

    /// Parses and validates Chroma's JSON form. Messages follow Chroma's validation
    /// (`Invalid sparse vector: ...`).
    pub fn from_json(map: &Map<String, Value>) -> Result<SparseVector, String> {
        let bad = |why: &str| format!("Invalid sparse vector: {why}");
        match map.get(TYPE_KEY) {
            None => {}
            Some(Value::String(t)) if t == TYPE_VALUE => {}
            Some(other) => {
                return Err(bad(&format!(
                    "expected {TYPE_KEY}='{TYPE_VALUE}', got {other}"
                )))
            }
        }
        if let Some(k) = map
            .keys()
            .find(|k| !matches!(k.as_str(), TYPE_KEY | "indices" | "values" | "tokens"))
        {
            return Err(bad(&format!("unknown field {k:?}")));
        }
        let list = |name: &str| -> Result<&Vec<Value>, String> {
            match map.get(name) {
                Some(Value::Array(items)) => Ok(items),
                Some(other) => Err(bad(&format!("{name} must be a list, got {other}"))),
                None => Err(bad(&format!("missing field {name:?}"))),
            }
        };
        let indices = list("indices")?
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|i| u32::try_from(i).ok())
                    .ok_or_else(|| {
                        bad(&format!(
                            "indices must be integers from 0 to {}, got {v}",
                            u32::MAX
                        ))
                    })
            })
            .collect::<Result<Vec<u32>, String>>()?;
        let values = list("values")?
            .iter()
            .map(|v| {
                v.as_f64()
                    .map(|f| f as f32)
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| bad(&format!("values must be finite numbers, got {v}")))
            })
            .collect::<Result<Vec<f32>, String>>()?;
        let tokens = match map.get("tokens") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|t| {
                        t.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad(&format!("tokens must be strings, got {t}")))
                    })
                    .collect::<Result<Vec<String>, String>>()?,
            ),
            Some(other) => return Err(bad(&format!("tokens must be a list, got {other}"))),
        };
        let v = SparseVector {
            indices,
            values,
            tokens,
        };
        v.validate().map_err(|why| bad(&why))?;
        Ok(v)
    }

    /// Chroma's rules: equal lengths, indices strictly ascending. An empty vector is valid (a
    /// document without tokens embeds to one).
    pub fn validate(&self) -> Result<(), String> {
        let tokens_match = self
            .tokens
            .as_ref()
            .is_none_or(|t| t.len() == self.indices.len());
        if self.indices.len() != self.values.len() || !tokens_match {
            return Err(
                "Sparse vector indices, values, and tokens (when present) must have the same length"
                    .to_string(),
            );
        }
        if self.indices.windows(2).any(|w| w[1] <= w[0]) {
            return Err(
                "Sparse vector indices must be sorted in strictly ascending order (no duplicates)"
                    .to_string(),
            );
        }
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(TYPE_KEY.into(), Value::String(TYPE_VALUE.into()));
        m.insert("indices".into(), Value::from(self.indices.clone()));
        m.insert(
            "values".into(),
            Value::Array(
                self.values
                    .iter()
                    .map(|&f| {
                        // The shortest decimal that reads back as this f32, as Chroma prints
                        // its f32 values: 0.1 stays 0.1, not 0.10000000149011612.
                        let shortest = f.to_string().parse::<f64>().unwrap_or(f64::from(f));
                        serde_json::Number::from_f64(shortest).map_or(Value::Null, Value::Number)
                    })
                    .collect(),
            ),
        );
        if let Some(t) = &self.tokens {
            m.insert("tokens".into(), Value::from(t.clone()));
        }
        Value::Object(m)
    }

    pub fn size_hint(&self) -> usize {
        self.indices.len() * 8
            + self
                .tokens
                .as_ref()
                .map_or(0, |t| t.iter().map(|s| s.len() + 1).sum())
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The dot product with `other`, or `None` when they share no dimension (a record no
    /// posting list of the query reaches). Products are summed in f64 in index order, so the
    /// same pair always gives the same f32, whoever computes it.
    pub fn dot(&self, other: &SparseVector) -> Option<f32> {
        let (mut i, mut j) = (0, 0);
        let mut sum = 0f64;
        let mut shared = false;
        while i < self.indices.len() && j < other.indices.len() {
            match self.indices[i].cmp(&other.indices[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    sum += f64::from(self.values[i]) * f64::from(other.values[j]);
                    shared = true;
                    i += 1;
                    j += 1;
                }
            }
        }
        shared.then_some(sum as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<SparseVector, String> {
        SparseVector::from_json(v.as_object().unwrap())
    }

    #[test]
    fn both_forms_parse_and_print_with_the_tag() {
        let v = parse(json!({"#type": "sparse_vector", "indices": [1, 5], "values": [0.5, 2]}))
            .unwrap();
        assert_eq!(v.indices, [1, 5]);
        assert_eq!(v.values, [0.5, 2.0]);
        assert_eq!(
            v.to_json(),
            json!({"#type": "sparse_vector", "indices": [1, 5], "values": [0.5, 2.0]})
        );
        let old =
            parse(json!({"indices": [1, 5], "values": [0.5, 2], "tokens": ["a", "b"]})).unwrap();
        assert_eq!(old.tokens, Some(vec!["a".into(), "b".into()]));
        assert!(parse(json!({"#type": "sparse_vector", "indices": [], "values": []})).is_ok());
        let f = 0.1f32;
        let back = parse(
            SparseVector {
                indices: vec![0],
                values: vec![f],
                tokens: None,
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(back.values[0].to_bits(), f.to_bits());
        assert_eq!(
            SparseVector {
                indices: vec![0],
                values: vec![f],
                tokens: None,
            }
            .to_json()["values"],
            json!([0.1])
        );
    }

    #[test]
    fn chroma_rules_are_enforced() {
        for bad in [
            json!({"#type": "sparse_vector", "indices": [2, 1], "values": [1, 1]}),
            json!({"#type": "sparse_vector", "indices": [1, 1], "values": [1, 1]}),
            json!({"#type": "sparse_vector", "indices": [1], "values": [1, 2]}),
            json!({"#type": "sparse_vector", "indices": [-1], "values": [1]}),
            json!({"#type": "sparse_vector", "indices": [4294967296u64], "values": [1]}),
            json!({"#type": "sparse_vector", "indices": [1.5], "values": [1]}),
            json!({"#type": "sparse_vector", "indices": [1], "values": ["x"]}),
            json!({"#type": "sparse_vector", "indices": [1], "values": [1], "tokens": []}),
            json!({"#type": "dense", "indices": [1], "values": [1]}),
            json!({"#type": "sparse_vector", "values": [1]}),
            json!({"#type": "sparse_vector", "indices": [1], "values": [1], "x": 1}),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert!(e.starts_with("Invalid sparse vector"), "{bad}: {e}");
        }
    }

    #[test]
    fn dot_products_need_a_shared_dimension() {
        let a = SparseVector {
            indices: vec![1, 3, 9],
            values: vec![1.0, 2.0, 3.0],
            tokens: None,
        };
        let b = SparseVector {
            indices: vec![3, 4, 9],
            values: vec![0.5, 7.0, -1.0],
            tokens: None,
        };
        assert_eq!(a.dot(&b), Some(1.0 - 3.0));
        let c = SparseVector {
            indices: vec![2],
            values: vec![1.0],
            tokens: None,
        };
        assert_eq!(a.dot(&c), None);
    }
}
