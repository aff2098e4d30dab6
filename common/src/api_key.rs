//! API key material: how keys are made and how they are hashed for storage. The catalog only
//! ever sees the hash; the key is shown once, to whoever created it.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every key starts with this, so a leaked key is recognisable in logs and by secret scanners.
pub const KEY_PREFIX: &str = "silt_";

/// A new random key: 256 bits from the OS generator, URL-safe.
// A secret: it must come from the OS generator, never from a seed.
#[allow(clippy::disallowed_methods)]
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a key. Keys carry 256 random bits, so one unsalted SHA-256 is enough:
/// there is nothing to brute-force that is cheaper than guessing the key itself.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hash_stably() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 43);
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_ne!(hash_key(&a), hash_key(&b));
        // Pinned: a stored hash must stay valid across releases.
        assert_eq!(
            hash_key("silt_test"),
            "1fdde258ef53a560a0ca01abb367e3abddb497a6630017e1ab22f000f9379b96"
        );
    }
}
