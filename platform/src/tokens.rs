//! Single-use, expiring tokens (cross-host login, email verification, password reset,
//! mailed sign-in links).
//! Only a SHA-256 of each token is stored, so a database leak yields no usable link.

use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// What a token may be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Carries a fresh sign-in from the platform host to a store's admin.
    Login,
    /// Proves the owner of an email address clicked the link.
    VerifyEmail,
    /// Lets the owner of an email address choose a new password.
    PasswordReset,
    /// Signs the owner of an email address in to a store's admin without a password (mailed
    /// when sign-in from their address is slowed).
    SignInLink,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::SignInLink => "sign_in_link",
        }
    }
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a token for `user_id` (and optionally one tenant) valid for `ttl`; returns the
/// token to put in the link.
pub async fn issue(
    conn: &mut PgConnection,
    purpose: Purpose,
    user_id: Uuid,
    tenant_id: Option<Uuid>,
    ttl: Duration,
) -> sqlx::Result<String> {
    let token = random_token();
    sqlx::query(
        "INSERT INTO platform.login_tokens (token_hash, purpose, user_id, tenant_id, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(hash(&token))
    .bind(purpose.as_str())
    .bind(user_id)
    .bind(tenant_id)
    .bind(ttl.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(token)
}

/// Uses a token once: returns its user when it exists, has this purpose (and tenant), has
/// not expired and was not used before. Malformed input is simply not found.
pub async fn redeem(
    conn: &mut PgConnection,
    purpose: Purpose,
    token: &str,
    tenant_id: Option<Uuid>,
) -> sqlx::Result<Option<Uuid>> {
    if token.len() > 128 {
        return Ok(None);
    }
    sqlx::query_scalar(
        "UPDATE platform.login_tokens SET used_at = now() \
         WHERE token_hash = $1 AND purpose = $2 AND tenant_id IS NOT DISTINCT FROM $3 \
           AND used_at IS NULL AND expires_at > now() \
         RETURNING user_id",
    )
    .bind(hash(token))
    .bind(purpose.as_str())
    .bind(tenant_id)
    .fetch_optional(conn)
    .await
}

/// Whether a token would redeem now, without using it (to show a form before the POST that
/// redeems it).
pub async fn peek(
    conn: &mut PgConnection,
    purpose: Purpose,
    token: &str,
    tenant_id: Option<Uuid>,
) -> sqlx::Result<Option<Uuid>> {
    if token.len() > 128 {
        return Ok(None);
    }
    sqlx::query_scalar(
        "SELECT user_id FROM platform.login_tokens \
         WHERE token_hash = $1 AND purpose = $2 AND tenant_id IS NOT DISTINCT FROM $3 \
           AND used_at IS NULL AND expires_at > now()",
    )
    .bind(hash(token))
    .bind(purpose.as_str())
    .bind(tenant_id)
    .fetch_optional(conn)
    .await
}

/// The stored form of a token, for tables that keep their own tokens (invitations).
pub fn token_hash(token: &str) -> String {
    hash(token)
}
