//! Metadata values as byte strings whose byte order is the filter language's order, so one
//! sorted index answers equality, ranges and `$in`. Ints and floats share one numeric order
//! (as f64), like the filter language compares them; the few ints that f64 cannot tell apart
//! (beyond 2^53) only make the index return a superset, which the query verifies anyway.

use silt_common::record::MetadataValue;

pub type SortKey = Vec<u8>;

pub const TAG_BOOL: u8 = 1;
pub const TAG_NUMBER: u8 = 2;
pub const TAG_STR: u8 = 3;

pub fn number_key(f: f64) -> SortKey {
    // Flip the sign bit of positives and every bit of negatives: the usual order-preserving
    // map from IEEE-754 to unsigned integers. -0.0 is folded into 0.0 first.
    let f = if f == 0.0 { 0.0 } else { f };
    let bits = f.to_bits();
    let ordered = if bits >> 63 == 0 {
        bits | (1 << 63)
    } else {
        !bits
    };
    let mut k = Vec::with_capacity(9);
    k.push(TAG_NUMBER);
    k.extend_from_slice(&ordered.to_be_bytes());
    k
}

fn str_key(s: &str) -> SortKey {
    let mut k = Vec::with_capacity(1 + s.len());
    k.push(TAG_STR);
    k.extend_from_slice(s.as_bytes());
    k
}

fn bool_key(b: bool) -> SortKey {
    vec![TAG_BOOL, u8::from(b)]
}

/// The keys one stored value is indexed under: one for a scalar, one per element for an array
/// (so array membership is an equality lookup).
pub fn sort_keys(v: &MetadataValue) -> Vec<SortKey> {
    match v {
        MetadataValue::Bool(b) => vec![bool_key(*b)],
        MetadataValue::Int(i) => vec![number_key(*i as f64)],
        MetadataValue::Float(f) => vec![number_key(*f)],
        MetadataValue::Str(s) => vec![str_key(s)],
        MetadataValue::BoolArray(v) => v.iter().map(|b| bool_key(*b)).collect(),
        MetadataValue::IntArray(v) => v.iter().map(|i| number_key(*i as f64)).collect(),
        MetadataValue::FloatArray(v) => v.iter().map(|f| number_key(*f)).collect(),
        MetadataValue::StrArray(v) => v.iter().map(|s| str_key(s)).collect(),
        // No filter compares a sparse vector: it is indexed by sparse.bin, not here.
        MetadataValue::SparseVector(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_keys_sort_like_numbers() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -0.0,
            0.0,
            1e-300,
            1.0,
            2.0,
            3.5,
            1e300,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(number_key(w[0]) <= number_key(w[1]), "{} vs {}", w[0], w[1]);
        }
        assert_eq!(number_key(-0.0), number_key(0.0));
        assert_eq!(
            sort_keys(&MetadataValue::Int(3)),
            sort_keys(&MetadataValue::Float(3.0))
        );
    }
}
