//! Rate limits kept in PostgreSQL (fixed windows), so every app node counts together.

use std::time::Duration;

use sqlx::PgPool;

use crate::error::AppError;

/// A limit: at most `max` hits per `window` for one subject (an IP, an account).
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Prefix of the counter key, e.g. `login:ip`.
    pub name: &'static str,
    /// Hits allowed per window.
    pub max: i32,
    /// The window.
    pub window: Duration,
}

/// Sign-in attempts from one IP address.
pub const LOGIN_PER_IP: Limit = Limit {
    name: "login:ip",
    max: 20,
    window: Duration::from_secs(15 * 60),
};
/// Sign-in attempts for one account, from anywhere.
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    name: "login:account",
    max: 8,
    window: Duration::from_secs(15 * 60),
};
/// Signups from one IP address.
pub const SIGNUP_PER_IP: Limit = Limit {
    name: "signup:ip",
    max: 10,
    window: Duration::from_secs(60 * 60),
};

/// Contact-form messages from one IP address to one store.
pub const CONTACT_PER_IP: Limit = Limit {
    name: "contact:ip",
    max: 5,
    window: Duration::from_secs(60 * 60),
};

/// Counts a hit; refuses with 429 (and when to retry) once the window's allowance is spent.
pub async fn hit(pool: &PgPool, limit: Limit, subject: &str) -> Result<(), AppError> {
    let key = format!("{}:{}", limit.name, subject.to_lowercase());
    let (hits, retry_after): (i32, f64) = sqlx::query_as(
        "INSERT INTO platform.rate_limits AS r (key, window_start, hits) VALUES ($1, now(), 1) \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN r.window_start <= now() - make_interval(secs => $2) THEN 1 ELSE r.hits + 1 END, \
           window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $2) THEN now() ELSE r.window_start END \
         RETURNING hits, extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8",
    )
    .bind(&key)
    .bind(limit.window.as_secs_f64())
    .fetch_one(pool)
    .await?;
    if hits > limit.max {
        return Err(AppError::TooManyRequests {
            retry_after_secs: retry_after.ceil().max(1.0) as u64,
        });
    }
    Ok(())
}

/// Emails one account can trigger (password reset, verification resend).
pub const MAIL_PER_ACCOUNT: Limit = Limit {
    name: "mail:account",
    max: 5,
    window: Duration::from_secs(60 * 60),
};
