//! Merchant accounts: email addresses and passwords.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHasher as _, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash, PasswordVerifier as _};
use tokio::sync::Semaphore;

use crate::error::AppError;

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

/// Hashes a password with argon2id and a random salt (CPU-heavy: request handlers go
/// through [`PasswordWork`], which runs it off the async runtime, a few at a time).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
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

    #[tokio::test]
    async fn argon2_runs_wait_for_a_slot_and_a_full_queue_is_refused() {
        let work = Arc::new(PasswordWork::with_queue(1, 2));
        let hash = hash_password("correct horse battery").unwrap();
        // Every slot is taken (as by a long run).
        let held = Arc::clone(&work.slots).try_acquire_owned().unwrap();
        let queued: Vec<_> = (0..2)
            .map(|_| {
                let (work, hash) = (Arc::clone(&work), hash.clone());
                tokio::spawn(async move { work.verify("correct horse battery", &hash).await })
            })
            .collect();
        while work.waiting.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        // The queue is full: the next is refused at once, without a run.
        let refused = work.verify("correct horse battery", &hash).await;
        assert!(
            matches!(refused, Err(AppError::Unavailable(_))),
            "{refused:?}"
        );
        assert_eq!(work.runs(), 0);
        // A password longer than any account's is refused without a run or a slot.
        assert!(
            !work
                .verify(&"x".repeat(MAX_PASSWORD_BYTES + 1), &hash)
                .await
                .unwrap()
        );
        drop(held);
        for task in queued {
            assert!(task.await.unwrap().unwrap());
        }
        assert_eq!(work.runs(), 2);
        assert_eq!(work.waiting.load(Ordering::Acquire), 0);
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

/// The member of the store `tenant_id` whose address is `email`, if there is one.
pub async fn store_member(
    pool: &sqlx::PgPool,
    email: &Email,
    tenant_id: uuid::Uuid,
) -> Result<Option<uuid::Uuid>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT u.id FROM platform.users u JOIN platform.memberships m ON m.user_id = u.id \
         WHERE u.email = $1 AND m.tenant_id = $2",
    )
    .bind(email.as_str())
    .bind(tenant_id)
    .fetch_optional(pool)
    .await?)
}

/// Checks an email and password for `scope`; returns the user on success. An unknown
/// address costs the same argon2 work as a known one, so timing does not reveal accounts;
/// a password longer than any account can have costs none.
pub async fn check_credentials(
    pool: &sqlx::PgPool,
    passwords: &PasswordWork,
    email: &Email,
    password: &str,
    scope: SignInScope,
) -> Result<Option<uuid::Uuid>, AppError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(None);
    }
    let found: Option<(uuid::Uuid, String)> = match scope {
        SignInScope::Store(tenant_id) => {
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
        SignInScope::Operator => {
            sqlx::query_as(
                "SELECT u.id, u.password_hash FROM platform.users u \
                 JOIN platform.operators o ON o.user_id = u.id WHERE u.email = $1",
            )
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?
        }
    };
    let matches = match &found {
        Some((_, hash)) => passwords.verify(password, hash).await?,
        None => passwords.spend_a_verification(password).await?,
    };
    Ok(found.filter(|_| matches).map(|(id, _)| id))
}

/// Longest password, in bytes, that can match a stored hash: new passwords have at most
/// 1024 characters of at most 4 bytes. Anything longer is refused without hashing.
pub const MAX_PASSWORD_BYTES: usize = 4 * 1024;

/// Argon2 work on this node. Hashing is deliberately slow (and takes 19 MiB a run), so at
/// most a few runs go at once, on the blocking pool: password traffic, even allowed,
/// cannot take every core from the pages. A few dozen more wait their turn; beyond that a
/// request is refused at once (503) instead of queueing without end.
pub struct PasswordWork {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    runs: AtomicU64,
}

/// Requests queued for argon2 per slot before more are refused.
const WAITING_PER_SLOT: usize = 32;

impl PasswordWork {
    /// At most `concurrency` (at least 1) argon2 runs at once.
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self::with_queue(concurrency, concurrency * WAITING_PER_SLOT)
    }

    fn with_queue(concurrency: usize, max_waiting: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            runs: AtomicU64::new(0),
        }
    }

    /// How many argon2 runs (hashes and verifications) this node has started: what tests
    /// read to show that a request was answered without one.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Hashes a new password (see [`hash_password`]).
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_owned();
        self.run(move || hash_password(&password))
            .await?
            .map_err(AppError::Internal)
    }

    /// Whether `password` matches `hash` (see [`verify_password`]).
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, AppError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move || verify_password(&password, &hash)).await
    }

    /// Verifies `password` against a hash of a random string and returns false: what a
    /// sign-in with an unknown address does, so it costs the same as one with a known
    /// address.
    pub async fn spend_a_verification(&self, password: &str) -> Result<bool, AppError> {
        self.verify(password, &DUMMY_HASH).await?;
        Ok(false)
    }

    /// Runs `work` on the blocking pool once a slot is free. The slot is held until the
    /// work ends, even if the request that asked for it is gone: the core is busy till then.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let _queued = Queued::join(&self.waiting, self.max_waiting).ok_or_else(|| {
                    AppError::Unavailable(
                        "Too many sign-ins at once on this server. Please try again in a moment."
                            .into(),
                    )
                })?;
                Arc::clone(&self.slots)
                    .acquire_owned()
                    .await
                    .map_err(|e| AppError::Internal(e.into()))?
            }
        };
        self.runs.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let done = work();
            drop(slot);
            done
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2 task: {e}")))
    }
}

/// A place in the queue for a slot, given up when dropped (also when the request is).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn join(waiting: &'a AtomicUsize, max: usize) -> Option<Self> {
        waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(waiting))
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An argon2 hash of a random string, verified when the address is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_password(&generate_password()).expect("hashing a random password")
});
