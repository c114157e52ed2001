//! Slows password guessing without locking the owner out: failed sign-ins are counted per
//! account *and* client address, and after a few free ones each failure makes that address
//! wait twice as long before its next try at that account. Nobody else is slowed: the
//! owner signing in from another address is not, and on a slowed address the owner can
//! ask for a sign-in link by mail instead.

use std::net::IpAddr;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::AppError;
use crate::rate_limit::ip_subject;

/// Failures an address may have on one account before it has to wait.
pub const FREE_FAILURES: i32 = 5;
/// The wait after the first failure past [`FREE_FAILURES`]; each further failure doubles it.
pub const FIRST_DELAY: Duration = Duration::from_secs(5);
/// The longest wait between two tries.
pub const LONGEST_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one (and at once on a sign-in).
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Whose failures a sign-in counts with: where, which account, from which address.
#[derive(Clone, Debug)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    /// A store's admin (sign-in, and an invitation accepted with an existing password).
    pub fn store_admin(tenant_id: Uuid, email: &str, ip: IpAddr) -> Self {
        Self::new(&format!("admin:{tenant_id}"), email, ip)
    }

    /// The operator console.
    pub fn operator(email: &str, ip: IpAddr) -> Self {
        Self::new("operator", email, ip)
    }

    /// A store's customer accounts.
    pub fn customer(tenant_id: Uuid, email: &str, ip: IpAddr) -> Self {
        Self::new(&format!("customer:{tenant_id}"), email, ip)
    }

    /// `area` names the sign-in; `account` is the email address as typed, lowercased;
    /// IPv6 counts by its /64.
    fn new(area: &str, account: &str, ip: IpAddr) -> Self {
        Self(format!(
            "{area}:{}:{}",
            account.trim().to_lowercase(),
            ip_subject(ip)
        ))
    }
}

/// Where a key stands before a try.
#[derive(Clone, Copy, Debug, Default)]
pub struct Standing {
    /// Failures counted (none once forgotten).
    pub failures: i32,
    /// How long until the next try is allowed; None when it is allowed now.
    pub wait: Option<Duration>,
}

impl Standing {
    /// While a wait lasts: the seconds to wait (for `Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.wait.map(|w| w.as_secs_f64().ceil().max(1.0) as u64)
    }
}

/// The wait that follows `failures` failures.
pub fn delay_after(failures: i32) -> Option<Duration> {
    let past_free = failures - FREE_FAILURES;
    if past_free < 1 {
        return None;
    }
    // 5 s, 10 s, 20 s ... up to 15 minutes (the shift is capped before it overflows).
    let doublings = u32::try_from(past_free - 1).unwrap_or(0).min(16);
    Some(
        FIRST_DELAY
            .saturating_mul(1 << doublings)
            .min(LONGEST_DELAY),
    )
}

/// Reads the key's standing (one indexed read, before any password work).
pub async fn check(pool: &PgPool, key: &ThrottleKey) -> Result<Standing, AppError> {
    let row: Option<(i32, f64)> = sqlx::query_as(
        "SELECT failures, extract(epoch FROM now() - last_failed_at)::float8 \
         FROM platform.sign_in_throttle \
         WHERE key = $1 AND last_failed_at > now() - make_interval(secs => $2)",
    )
    .bind(&key.0)
    .bind(FORGET_AFTER.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Standing::default(),
        Some((failures, since)) => standing(failures, since),
    })
}

/// Counts a failed try; returns the standing after it (with the wait it starts).
pub async fn record_failure(pool: &PgPool, key: &ThrottleKey) -> Result<Standing, AppError> {
    let failures: i32 = sqlx::query_scalar(
        "INSERT INTO platform.sign_in_throttle AS t (key, failures, last_failed_at) \
         VALUES ($1, 1, now()) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN t.last_failed_at <= now() - make_interval(secs => $2) \
                           THEN 1 ELSE t.failures + 1 END, \
           last_failed_at = now() \
         RETURNING failures",
    )
    .bind(&key.0)
    .bind(FORGET_AFTER.as_secs_f64())
    .fetch_one(pool)
    .await?;
    Ok(standing(failures, 0.0))
}

/// Forgets the key's failures (after a sign-in).
pub async fn clear(pool: &PgPool, key: &ThrottleKey) -> Result<(), AppError> {
    sqlx::query("DELETE FROM platform.sign_in_throttle WHERE key = $1")
        .bind(&key.0)
        .execute(pool)
        .await?;
    Ok(())
}

fn standing(failures: i32, seconds_since_last: f64) -> Standing {
    let since = Duration::from_secs_f64(seconds_since_last.max(0.0));
    Standing {
        failures,
        wait: delay_after(failures)
            .and_then(|d| d.checked_sub(since))
            .filter(|w| !w.is_zero()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_failures_up_to_a_ceiling() {
        let secs = |n| delay_after(n).map(|d| d.as_secs());
        assert_eq!(secs(0), None);
        assert_eq!(secs(FREE_FAILURES), None);
        assert_eq!(secs(FREE_FAILURES + 1), Some(5));
        assert_eq!(secs(FREE_FAILURES + 2), Some(10));
        assert_eq!(secs(FREE_FAILURES + 3), Some(20));
        assert_eq!(secs(FREE_FAILURES + 8), Some(640));
        assert_eq!(secs(FREE_FAILURES + 9), Some(900));
        assert_eq!(secs(i32::MAX), Some(900));
        assert_eq!(standing(FREE_FAILURES + 1, 2.0).retry_after_secs(), Some(3));
        assert_eq!(standing(FREE_FAILURES + 1, 6.0).retry_after_secs(), None);
        assert_eq!(standing(FREE_FAILURES, 0.0).retry_after_secs(), None);
    }

    #[test]
    fn keys_count_an_account_per_address() {
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.8".parse().unwrap();
        let key = |who, ip| ThrottleKey::store_admin(Uuid::nil(), who, ip).0;
        assert_eq!(key(" Owner@Shop.example", a), key("owner@shop.example", a));
        assert_ne!(key("owner@shop.example", a), key("owner@shop.example", b));
        assert_ne!(
            key("owner@shop.example", a),
            ThrottleKey::customer(Uuid::nil(), "owner@shop.example", a).0
        );
    }
}
