//! Where clients put their key: Chroma's `x-chroma-token` header, or `Authorization: Bearer`.

use axum::http::HeaderMap;

pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-chroma-token").and_then(|v| v.to_str().ok()) {
        return Some(v.trim()).filter(|k| !k.is_empty());
    }
    let auth = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("authorization", "Bearer silt_abc".parse().unwrap());
        assert_eq!(presented_key(&h), Some("silt_abc"));
        h.insert("authorization", "Basic eA==".parse().unwrap());
        assert_eq!(presented_key(&h), None);
        h.insert("x-chroma-token", "silt_xyz".parse().unwrap());
        assert_eq!(presented_key(&h), Some("silt_xyz"));
    }
}
