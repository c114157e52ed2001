//! Rate limits kept in PostgreSQL (fixed windows), so every app node counts together, with
//! a per-node memory in front: once a subject has spent its allowance, this node refuses it
//! from memory until the window ends, so a flood costs no database write per request.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Sign-in attempts (and other account lookups: `/login`, password and sign-in link
/// requests) from one IP address. Guessing one account's password from one address is
/// slowed further by [`crate::sign_in_throttle`].
pub const LOGIN_PER_IP: Limit = Limit {
    name: "login:ip",
    max: 20,
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

/// Forms behind a mailed link (new password, invitation, sign-in link) posted from one IP
/// address: the link is checked before any password work, and this bounds how fast anyone
/// can make the server check links at all.
pub const LINK_FORMS_PER_IP: Limit = Limit {
    name: "link:ip",
    max: 20,
    window: Duration::from_secs(15 * 60),
};

/// Emails one account can trigger (password reset, sign-in link, verification resend).
pub const MAIL_PER_ACCOUNT: Limit = Limit {
    name: "mail:account",
    max: 5,
    window: Duration::from_secs(60 * 60),
};

/// Emails asked for from one IP address (password reset, sign-in link), whichever account.
pub const MAIL_PER_IP: Limit = Limit {
    name: "mail:ip",
    max: 20,
    window: Duration::from_secs(60 * 60),
};

/// Checks of a signed-in customer's current password (to change it), per customer.
pub const PASSWORD_CHECK_PER_ACCOUNT: Limit = Limit {
    name: "password:account",
    max: 10,
    window: Duration::from_secs(15 * 60),
};

/// Counters this node remembers at most (least used forgotten first; a forgotten one is
/// simply asked of PostgreSQL again).
const REMEMBERED: u64 = 50_000;

/// The node's rate limiter: PostgreSQL's counters, and what this node last learnt of them.
pub struct RateLimits {
    db: PgPool,
    seen: moka::sync::Cache<String, Arc<Mutex<Seen>>>,
}

/// A counter as PostgreSQL last answered for it, plus the refusals since.
#[derive(Clone, Copy)]
struct Seen {
    /// When the window PostgreSQL counts in ends.
    until: Instant,
    /// Hits in that window when PostgreSQL last answered.
    hits: i32,
}

impl RateLimits {
    /// Counters in `db`.
    pub fn new(db: PgPool) -> Self {
        Self {
            db,
            seen: moka::sync::Cache::builder()
                .max_capacity(REMEMBERED)
                .time_to_idle(Duration::from_secs(60 * 60))
                .build(),
        }
    }

    /// Counts a hit; refuses with 429 (and when to retry) once the window's allowance is
    /// spent. A subject this node already saw past its allowance in the current window is
    /// refused without asking PostgreSQL: the shared count only grows within a window, so
    /// PostgreSQL would refuse it too.
    pub async fn hit(&self, limit: Limit, subject: &str) -> Result<(), AppError> {
        let key = format!("{}:{}", limit.name, subject.to_lowercase());
        let entry = self.seen.get_with_by_ref(&key, || {
            Arc::new(Mutex::new(Seen {
                until: Instant::now(),
                hits: 0,
            }))
        });
        let known = *entry.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if now < known.until && known.hits >= limit.max {
            return Err(too_many(known.until - now));
        }
        let (hits, retry_after): (i32, f64) = sqlx::query_as(
            "INSERT INTO platform.rate_limits AS r (key, window_start, hits) VALUES ($1, now(), 1) \
             ON CONFLICT (key) DO UPDATE SET \
               hits = CASE WHEN r.window_start <= now() - make_interval(secs => $2) THEN 1 ELSE r.hits + 1 END, \
               window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $2) THEN now() ELSE r.window_start END \
             RETURNING hits, extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8",
        )
        .bind(&key)
        .bind(limit.window.as_secs_f64())
        .fetch_one(&self.db)
        .await?;
        let left = Duration::from_secs_f64(retry_after.clamp(0.0, limit.window.as_secs_f64()));
        *entry.lock().unwrap_or_else(|e| e.into_inner()) = Seen {
            until: Instant::now() + left,
            hits,
        };
        if hits > limit.max {
            return Err(too_many(left));
        }
        Ok(())
    }

    /// Refuses, without counting, a subject this node already saw past its allowance in the
    /// current window: for forms that count only what they act on, to refuse a flood
    /// before doing any of the work.
    pub fn refuse_if_spent(&self, limit: Limit, subject: &str) -> Result<(), AppError> {
        let key = format!("{}:{}", limit.name, subject.to_lowercase());
        let Some(entry) = self.seen.get(&key) else {
            return Ok(());
        };
        let known = *entry.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if now < known.until && known.hits >= limit.max {
            return Err(too_many(known.until - now));
        }
        Ok(())
    }

    /// [`RateLimits::hit`] for a client address (see [`ip_subject`]).
    pub async fn hit_ip(&self, limit: Limit, ip: IpAddr) -> Result<(), AppError> {
        self.hit(limit, &ip_subject(ip)).await
    }
}

/// How long a request refused by [`shield`] is held before its answer: a client past its
/// allowance that keeps posting gets one answer a second per connection, not as many as
/// the node can give.
pub const SHIELD_HOLD: Duration = Duration::from_secs(1);

/// The limit by client address an anonymous form's handler counts, and whether it counts
/// per store (`<tenant id>:<address>`).
fn guarding(path: &str) -> Option<(Limit, bool)> {
    let link_form = [
        "/admin/password/reset/",
        "/admin/invitations/",
        "/admin/login/link/",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix));
    match path {
        "/admin/login"
        | "/admin/password/forgot"
        | "/login"
        | "/operator/login"
        | "/account/login" => Some((LOGIN_PER_IP, false)),
        "/admin/login/link" => Some((MAIL_PER_IP, false)),
        "/signup" => Some((SIGNUP_PER_IP, false)),
        "/account/register" => Some((SIGNUP_PER_IP, true)),
        "/contact" => Some((CONTACT_PER_IP, true)),
        _ if link_form => Some((LINK_FORMS_PER_IP, false)),
        _ => None,
    }
}

/// In front of the session and CSRF layers: a post to an anonymous form from an address
/// this node already saw past that form's allowance is refused from memory, before its
/// session is read or anything else is done, and held [`SHIELD_HOLD`] first. A flood of
/// such posts then costs the node almost nothing (the handlers refuse the same posts, but
/// only after the session's database read and the CSRF check).
pub async fn shield(
    axum::extract::State(app): axum::extract::State<crate::app::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if req.method() != axum::http::Method::POST {
        return next.run(req).await;
    }
    let Some((limit, per_store)) = guarding(req.uri().path()) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let ip =
        match <crate::extract::ClientIp as axum::extract::FromRequestParts<_>>::from_request_parts(
            &mut parts, &app,
        )
        .await
        {
            Ok(ip) => ip.0,
            Err(e) => return e.into_response(),
        };
    let subject = match parts.extensions.get::<crate::extract::CurrentTenant>() {
        Some(tenant) if per_store => format!("{}:{}", tenant.id, ip_subject(ip)),
        _ => ip_subject(ip),
    };
    if let Err(refused) = app.limits.refuse_if_spent(limit, &subject) {
        tokio::time::sleep(SHIELD_HOLD).await;
        return refused.into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

fn too_many(left: Duration) -> AppError {
    AppError::TooManyRequests {
        retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// How a client address is counted: an IPv4 address as it is, an IPv6 address by its /64
/// network (one subscriber gets a whole /64, so counting single addresses would let anyone
/// step around every limit).
pub fn ip_subject(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_network() {
        let subject = |s: &str| ip_subject(s.parse().unwrap());
        assert_eq!(subject("203.0.113.7"), "203.0.113.7");
        assert_eq!(subject("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(subject("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            subject("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            subject("2001:db8:1:2::9")
        );
        assert_ne!(subject("2001:db8:1:3::1"), subject("2001:db8:1:2::1"));
    }
}
