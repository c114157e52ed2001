//! Host resolution: the Host header decides whether a request is for the platform site, a
//! tenant's store, or nobody. Lookups are cached in memory; every app node drops a cached
//! entry when PostgreSQL announces (LISTEN/NOTIFY) that the hostname changed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use sqlx::PgPool;

use super::{HOSTNAMES_CHANNEL, Tenant};

/// Whom a request is for.
#[derive(Clone, Debug)]
pub enum Site {
    /// The bare platform domain: landing page, signup, operator console.
    Platform,
    /// A tenant's store (its subdomain or a verified custom domain).
    Store(Arc<Tenant>),
    /// No store has this hostname.
    Unknown,
}

/// What a Host header turns into before any lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKey {
    /// The platform domain itself.
    Platform,
    /// A registry key: a subdomain label, or a full custom domain.
    Lookup(String),
    /// Nothing any tenant could have (empty, malformed, a deeper subdomain).
    Invalid,
}

/// Turns a Host header into a [`HostKey`]: case-insensitive, port stripped, trailing dot
/// ignored. `platform_domain` must already be normalised.
pub fn host_key(host: &str, platform_domain: &str) -> HostKey {
    let host = strip_port(host.trim())
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host.is_empty()
        || host.len() > 253
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return HostKey::Invalid;
    }
    if host == platform_domain {
        return HostKey::Platform;
    }
    if let Some(label) = host
        .strip_suffix(platform_domain)
        .and_then(|rest| rest.strip_suffix('.'))
    {
        return if label.is_empty() || label.contains('.') {
            HostKey::Invalid
        } else {
            HostKey::Lookup(label.to_owned())
        };
    }
    if host.contains('.') {
        HostKey::Lookup(host)
    } else {
        HostKey::Invalid
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 literal: no store lives there; keep it recognisably invalid.
        return rest.split(']').next().map_or("", |_| "[");
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Resolves hostnames to tenants through a bounded in-memory cache.
pub struct HostResolver {
    pool: PgPool,
    platform_domain: String,
    cache: Cache<String, Option<Arc<Tenant>>>,
    /// Bumped on every invalidation: a lookup that raced with one does not cache its answer.
    generation: AtomicU64,
}

impl HostResolver {
    /// A resolver for `platform_domain` (already normalised).
    pub fn new(pool: PgPool, platform_domain: String) -> Arc<Self> {
        Arc::new(Self {
            pool,
            platform_domain,
            cache: Cache::builder()
                .max_capacity(100_000)
                // A safety net only: changes arrive by NOTIFY long before this.
                .time_to_live(Duration::from_secs(300))
                .build(),
            generation: AtomicU64::new(0),
        })
    }

    /// The platform domain this resolver serves.
    pub fn platform_domain(&self) -> &str {
        &self.platform_domain
    }

    /// Who a request with this Host header is for.
    pub async fn resolve(&self, host: &str) -> anyhow::Result<Site> {
        let key = match host_key(host, &self.platform_domain) {
            HostKey::Platform => return Ok(Site::Platform),
            HostKey::Invalid => return Ok(Site::Unknown),
            HostKey::Lookup(key) => key,
        };
        if let Some(hit) = self.cache.get(&key).await {
            return Ok(hit.map_or(Site::Unknown, Site::Store));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = super::find_by_hostname(&self.pool, &key)
            .await?
            .map(Arc::new);
        if self.generation.load(Ordering::Acquire) == generation {
            self.cache.insert(key, found.clone()).await;
        }
        Ok(found.map_or(Site::Unknown, Site::Store))
    }

    /// Forgets one hostname's mapping.
    pub async fn invalidate(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(key).await;
    }

    /// Forgets every mapping.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
    }

    /// Follows hostname changes announced by any node (see [`crate::follow`]).
    pub fn spawn_listener(
        self: &Arc<Self>,
        channels: &mut crate::follow::Channels,
    ) -> tokio::task::JoinHandle<()> {
        crate::follow::spawn(
            channels.subscribe(HOSTNAMES_CHANNEL),
            Arc::clone(self) as Arc<dyn crate::follow::Follower>,
        )
    }
}

#[async_trait::async_trait]
impl crate::follow::Follower for HostResolver {
    async fn changed(&self, payload: &str) {
        if payload == "*" {
            self.invalidate_all();
        } else {
            self.invalidate(payload).await;
        }
    }

    fn forget_all(&self) {
        self.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys() {
        let d = "storefront.test";
        let key = |h| host_key(h, d);
        assert_eq!(key("storefront.test"), HostKey::Platform);
        assert_eq!(key("StoreFront.Test:8080"), HostKey::Platform);
        assert_eq!(key("storefront.test."), HostKey::Platform);
        assert_eq!(key("acme.storefront.test"), HostKey::Lookup("acme".into()));
        assert_eq!(
            key("ACME.storefront.test.:443"),
            HostKey::Lookup("acme".into())
        );
        assert_eq!(
            key("shop.example.com"),
            HostKey::Lookup("shop.example.com".into())
        );
        assert_eq!(
            key("Shop.Example.com."),
            HostKey::Lookup("shop.example.com".into())
        );
        assert_eq!(key("a.b.storefront.test"), HostKey::Invalid);
        assert_eq!(key(".storefront.test"), HostKey::Invalid);
        assert_eq!(
            key("xstorefront.test"),
            HostKey::Lookup("xstorefront.test".into())
        );
        assert_eq!(key(""), HostKey::Invalid);
        assert_eq!(key("localhost"), HostKey::Invalid);
        assert_eq!(key("[::1]:8080"), HostKey::Invalid);
        assert_eq!(key("bad host.com"), HostKey::Invalid);
        assert_eq!(key("évil.com"), HostKey::Invalid);
    }
}
