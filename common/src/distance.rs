//! Distance functions, computed as Chroma computes them: squared L2, `1 - cos`, `1 - dot`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Distance {
    Cosine,
    #[default]
    L2,
    Ip,
}

impl Distance {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cosine" => Some(Distance::Cosine),
            "l2" => Some(Distance::L2),
            "ip" => Some(Distance::Ip),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Distance::Cosine => "cosine",
            Distance::L2 => "l2",
            Distance::Ip => "ip",
        }
    }

    /// Distance between a query and a stored vector. For cosine, pass the query's norm so it is
    /// computed once per query rather than once per candidate.
    pub fn compute(&self, query: &[f32], query_norm: f32, v: &[f32]) -> f32 {
        match self {
            Distance::L2 => query
                .iter()
                .zip(v)
                .map(|(a, b)| {
                    let d = a - b;
                    d * d
                })
                .sum(),
            Distance::Ip => 1.0 - dot(query, v),
            Distance::Cosine => {
                let vn = norm(v);
                if query_norm == 0.0 || vn == 0.0 {
                    1.0
                } else {
                    1.0 - dot(query, v) / (query_norm * vn)
                }
            }
        }
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_chroma_definitions() {
        let q = [1.0, 0.0];
        let v = [0.0, 2.0];
        assert_eq!(Distance::L2.compute(&q, norm(&q), &v), 5.0);
        assert_eq!(Distance::Ip.compute(&q, norm(&q), &v), 1.0);
        assert!((Distance::Cosine.compute(&q, norm(&q), &v) - 1.0).abs() < 1e-6);
        let same = [3.0, 0.0];
        assert!(Distance::Cosine.compute(&q, norm(&q), &same).abs() < 1e-6);
        assert_eq!(Distance::Ip.compute(&q, norm(&q), &same), -2.0);
    }
}
