//! Merchant accounts: email addresses and passwords.

use std::fmt;

use argon2::password_hash::{PasswordHasher as _, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash, PasswordVerifier as _};

/// A syntactically valid email address, lowercased.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address; the whole address is lowercased so lookups are case-insensitive.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("enter an email address".into());
        }
        if s.len() > 254 || !email_address::EmailAddress::is_valid(s) || !s.contains('.') {
            return Err(format!("“{s}” is not a valid email address"));
        }
        Ok(Self(s.to_lowercase()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    /// Logs never carry a full address: only its domain.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.rsplit('@').next().unwrap_or("");
        write!(f, "Email(…@{domain})")
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Checks a new password's strength; the message names the problem.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if password.chars().count() > 1024 {
        return Err("must be at most 1024 characters".into());
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (CPU-heavy: call off the async runtime).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// [`hash_password`] on a blocking thread: argon2 is deliberately slow and must not stall
/// the async runtime.
pub async fn hash_password_blocking(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password)).await?
}

/// [`verify_password`] on a blocking thread.
pub async fn verify_password_blocking(password: &str, hash: &str) -> anyhow::Result<bool> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    Ok(tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await?)
}

/// Whether `password` matches a stored argon2 hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random password for accounts created without one (printed once to the operator).
pub fn generate_password() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Owner@Example.COM ").unwrap().as_str(),
            "owner@example.com"
        );
        for bad in [
            "",
            "owner",
            "owner@",
            "@example.com",
            "a b@example.com",
            "owner@localhost",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", Email::parse("a@b.co").unwrap()),
            "Email(…@b.co)"
        );
    }

    #[test]
    fn passwords_hash_and_verify() {
        assert!(check_new_password("short").is_err());
        let hash = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert_eq!(generate_password().len(), 20);
        assert!(check_new_password(&generate_password()).is_ok());
    }
}

/// Where a sign-in is for: which accounts may use it.
#[derive(Clone, Copy, Debug)]
pub enum SignInScope {
    /// Members of one store.
    Store(uuid::Uuid),
    /// Platform operators.
    Operator,
}

/// Checks an email and password for `scope`; returns the user on success. An unknown
/// address costs the same argon2 work as a known one, so timing does not reveal accounts.
pub async fn check_credentials(
    pool: &sqlx::PgPool,
    email: &str,
    password: &str,
    scope: SignInScope,
) -> anyhow::Result<Option<uuid::Uuid>> {
    let found: Option<(uuid::Uuid, String)> = match (Email::parse(email), scope) {
        (Err(_), _) => None,
        (Ok(email), SignInScope::Store(tenant_id)) => {
            sqlx::query_as(
                "SELECT u.id, u.password_hash FROM platform.users u \
                 JOIN platform.memberships m ON m.user_id = u.id \
                 WHERE u.email = $1 AND m.tenant_id = $2",
            )
            .bind(email.as_str())
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?
        }
        (Ok(email), SignInScope::Operator) => {
            sqlx::query_as(
                "SELECT u.id, u.password_hash FROM platform.users u \
                 JOIN platform.operators o ON o.user_id = u.id WHERE u.email = $1",
            )
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?
        }
    };
    let hash = found
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |(_, h)| h.clone());
    let matches = verify_password_blocking(password, &hash).await?;
    Ok(found.filter(|_| matches).map(|(id, _)| id))
}

/// Verifies `password` against a hash of a random string and returns false: what a sign-in
/// with an unknown address does, so it costs the same as one with a known address.
pub async fn spend_a_verification(password: &str) -> anyhow::Result<bool> {
    let hash = DUMMY_HASH.clone();
    verify_password_blocking(password, &hash).await?;
    Ok(false)
}

/// An argon2 hash of a random string, verified when the address is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_password(&generate_password()).expect("hashing a random password")
});
