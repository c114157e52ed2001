//! Gateway secrets at rest: sealed with a key derived from `SECRET_KEY`, masked for display.
//!
//! Sealed text is `v1.` followed by unpadded URL-safe base64 of a random 96-bit nonce and the
//! ChaCha20-Poly1305 ciphertext with its tag. The caller's context string (for example
//! `"tenant:<id>/gateway:stripe"`) is authenticated too, so a value copied to another tenant's
//! row does not open there.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::BillingError;

const VERSION_PREFIX: &str = "v1.";
/// Labels the derived key, so `SECRET_KEY` yields unrelated keys for unrelated purposes.
const HKDF_INFO: &[u8] = b"storefront billing gateway-secrets v1";
const NONCE_LEN: usize = 12;
/// The shortest `SECRET_KEY` accepted, the same rule the platform's configuration applies.
const MIN_SECRET_KEY_LEN: usize = 32;

/// Seals and opens gateway secrets with a key derived from the server's `SECRET_KEY`.
#[derive(Clone)]
pub struct SecretsCipher {
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for SecretsCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsCipher").finish_non_exhaustive()
    }
}

impl SecretsCipher {
    /// The cipher for this server's `SECRET_KEY` (at least 32 characters).
    pub fn new(secret_key: &SecretString) -> Result<Self, BillingError> {
        let ikm = secret_key.expose_secret().as_bytes();
        if ikm.len() < MIN_SECRET_KEY_LEN {
            return Err(BillingError::invalid(
                "secret_key",
                format!("must be at least {MIN_SECRET_KEY_LEN} characters"),
            ));
        }
        let mut key = Key::default();
        Hkdf::<Sha256>::new(None, ikm)
            .expand(HKDF_INFO, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Ok(Self {
            cipher: ChaCha20Poly1305::new(&key),
        })
    }

    /// Encrypts `plaintext`, bound to `context`; every call gives a different text.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encrypts any message that fits in memory");
        let mut raw = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ciphertext);
        format!("{VERSION_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// Decrypts what [`seal`](Self::seal) made with the same key and context.
    ///
    /// Fails with [`BillingError::SecretUnreadable`] when the text was altered, sealed for
    /// another context, or sealed under another `SECRET_KEY`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, BillingError> {
        let raw = sealed
            .strip_prefix(VERSION_PREFIX)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|raw| raw.len() > NONCE_LEN)
            .ok_or(BillingError::SecretUnreadable)?;
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| BillingError::SecretUnreadable)
    }
}

/// A secret as the admin may show it once saved: its type prefix and last four characters.
///
/// `sk_test_51Habc…wxyz` becomes `sk_test_…wxyz`; a secret too short to keep anything back
/// is all hidden.
pub fn mask_secret(secret: &str) -> String {
    const HIDDEN: &str = "…";
    /// At least this many characters stay hidden, or nothing but the kind is shown.
    const MIN_HIDDEN: usize = 8;
    // Stripe-style keys name their kind before the last underscore of a short prefix
    // (`sk_test_`, `rk_live_`, `whsec_`); that part says which key it is, not the key.
    let prefix_len = secret
        .char_indices()
        .take(9)
        .filter(|&(_, c)| c == '_')
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(0);
    let (prefix, rest) = secret.split_at(prefix_len);
    let rest: Vec<char> = rest.chars().collect();
    if rest.len() < 4 + MIN_HIDDEN {
        return format!("{prefix}{HIDDEN}");
    }
    let last4: String = rest[rest.len() - 4..].iter().collect();
    format!("{prefix}{HIDDEN}{last4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(key: &str) -> SecretsCipher {
        SecretsCipher::new(&SecretString::from(key)).expect("long enough")
    }

    const KEY: &str = "an-example-secret-key-of-enough-length-0123";

    #[test]
    fn round_trips_and_differs_every_time() {
        let cipher = cipher(KEY);
        let secret = br#"{"secret_key":"sk_test_abc","webhook_secret":"whsec_def"}"#;
        let a = cipher.seal("tenant:1/gateway:stripe", secret);
        let b = cipher.seal("tenant:1/gateway:stripe", secret);
        assert_ne!(a, b);
        assert!(a.starts_with("v1."));
        assert!(!a.contains("sk_test"));
        assert_eq!(
            cipher.open("tenant:1/gateway:stripe", &a).expect("opens"),
            secret
        );
        assert_eq!(
            cipher.open("tenant:1/gateway:stripe", &b).expect("opens"),
            secret
        );
    }

    #[test]
    fn wrong_key_context_or_tampering_is_refused() {
        let sealed = cipher(KEY).seal("tenant:1/gateway:stripe", b"sk_test_abc");
        let other_key = cipher("another-example-secret-key-of-enough-length");
        assert_eq!(
            other_key.open("tenant:1/gateway:stripe", &sealed),
            Err(BillingError::SecretUnreadable)
        );
        assert_eq!(
            cipher(KEY).open("tenant:2/gateway:stripe", &sealed),
            Err(BillingError::SecretUnreadable)
        );
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        for bad in [
            tampered.as_str(),
            "",
            "v1.",
            "v2.AAAA",
            sealed.trim_start_matches("v1."),
        ] {
            assert_eq!(
                cipher(KEY).open("tenant:1/gateway:stripe", bad),
                Err(BillingError::SecretUnreadable),
                "{bad:?} opened"
            );
        }
    }

    #[test]
    fn short_secret_keys_are_refused() {
        assert!(SecretsCipher::new(&SecretString::from("short")).is_err());
        assert!(!format!("{:?}", cipher(KEY)).contains(KEY));
    }

    #[test]
    fn masks_keep_the_kind_and_last_four() {
        assert_eq!(mask_secret("sk_test_51HabcdefghWXYZ"), "sk_test_…WXYZ");
        assert_eq!(mask_secret("rk_live_0123456789abcd"), "rk_live_…abcd");
        assert_eq!(mask_secret("whsec_0123456789abcdef"), "whsec_…cdef");
        assert_eq!(mask_secret("0123456789abcdef"), "…cdef");
        assert_eq!(mask_secret("short"), "…");
        assert_eq!(mask_secret(""), "…");
        // Too short to show the last four without giving most of it away.
        assert_eq!(mask_secret("sk_test_abcd"), "sk_test_…");
        assert_eq!(mask_secret("sk_test_éèêëàáâãäåæç"), "sk_test_…äåæç");
    }
}
