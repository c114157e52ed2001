//! Custom domains for stores: what a merchant may add, the DNS records that prove the domain
//! is theirs (checked with hickory-resolver), and the registry rows: a domain asked for is a
//! claim (`platform.domain_claims`), which holds nothing exclusive and lapses after
//! [`CLAIM_DAYS`]; the first store whose DNS records prove it gets the domain (a row in
//! `platform.hostnames`), which ends every other claim on it.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{TokioResolver, lookup::Lookup};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::AppError;
use crate::tenancy;

/// Label under the merchant's domain that holds the verification TXT record.
pub const VERIFY_LABEL: &str = "_storefront-verify";
/// Prefix of the verification TXT record's value; the token follows it.
pub const VERIFY_PREFIX: &str = "storefront-verify=";
/// How long one DNS question may take before the check gives up on it.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);
/// CNAME hops followed before a chain is declared too long (as resolvers do, to stop loops).
const MAX_CNAME_HOPS: usize = 8;
/// Days an unproved claim on a domain lasts.
pub const CLAIM_DAYS: i32 = 7;

/// A domain a merchant may connect: lowercase ASCII, no trailing dot, at least two labels,
/// not an IP address, and outside the platform's own domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    /// Normalises what a merchant typed or pasted (case, spaces, a trailing dot, a scheme,
    /// a port, a path) and validates the rest. `platform_domain` must be normalised.
    pub fn parse(input: &str, platform_domain: &str) -> Result<Self, String> {
        let mut host = input.trim().to_lowercase();
        for scheme in ["https://", "http://"] {
            if let Some(rest) = host.strip_prefix(scheme) {
                host = rest.to_owned();
            }
        }
        // A pasted URL: keep only the authority.
        if let Some(end) = host.find(['/', '?', '#']) {
            host.truncate(end);
        }
        if host.is_empty() {
            return Err("Enter a domain name, such as shop.example.com.".into());
        }
        let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
        if unbracketed.parse::<IpAddr>().is_ok() || host.starts_with('[') {
            return Err("Enter a domain name, not an IP address.".into());
        }
        if let Some((name, port)) = host.rsplit_once(':')
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
        {
            host.truncate(name.len());
        }
        let host = host.strip_suffix('.').unwrap_or(&host).to_owned();
        if host.parse::<IpAddr>().is_ok() {
            return Err("Enter a domain name, not an IP address.".into());
        }
        if !host.is_ascii() {
            return Err(
                "Enter the domain in its ASCII form (an internationalised name starts with xn--)."
                    .into(),
            );
        }
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(format!(
                "A domain name cannot contain “{c}”: use letters, digits, hyphens and dots."
            ));
        }
        if host.len() > 253 {
            return Err("A domain name is at most 253 characters long.".into());
        }
        let labels: Vec<&str> = host.split('.').collect();
        if labels.len() < 2 {
            return Err("Enter a full domain name with a dot, such as shop.example.com.".into());
        }
        for label in &labels {
            if label.is_empty() {
                return Err("A domain name cannot have empty parts (two dots in a row).".into());
            }
            if label.len() > 63 {
                return Err("Each part of a domain name is at most 63 characters long.".into());
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err("A part of a domain name cannot start or end with a hyphen.".into());
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err("Enter a domain name, not an IP address.".into());
        }
        if host == platform_domain || host.ends_with(&format!(".{platform_domain}")) {
            return Err(format!(
                "Addresses under {platform_domain} belong to the platform: enter a domain you own."
            ));
        }
        Ok(Self(host))
    }

    /// The name, e.g. `shop.example.com`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the verification TXT record lives: `_storefront-verify.<domain>`.
    pub fn verification_record(&self) -> String {
        verification_record(&self.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the verification TXT record for `domain` lives.
pub fn verification_record(domain: &str) -> String {
    format!("{VERIFY_LABEL}.{domain}")
}

/// The value the verification TXT record must hold.
pub fn verification_value(token: &str) -> String {
    format!("{VERIFY_PREFIX}{token}")
}

/// What a custom-domain operation refused, or a database failure.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Another store proved this domain is theirs.
    #[error("this domain is already connected to a store")]
    Taken,
    /// This store already has this hostname.
    #[error("this domain is already on your list")]
    AlreadyYours,
    /// The store has no such hostname.
    #[error("no such hostname on this store")]
    NotFound,
    /// Only a verified domain can become primary.
    #[error("the domain is not verified yet")]
    NotVerified,
    /// The store's subdomain stays for good: the admin lives there.
    #[error("the store's own address cannot be removed")]
    Permanent,
    /// The registry could not be read or written.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl DomainError {
    /// What the merchant is told, as a sentence.
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::Taken => {
                "This domain is already connected to another store, whose DNS records proved it \
                 theirs. If it is yours, change its DNS records and contact support."
            }
            Self::AlreadyYours => "This domain is already on your list.",
            Self::NotFound => "This store has no such hostname.",
            Self::NotVerified => {
                "Verify the domain (create its DNS records, then check) before making it primary."
            }
            Self::Permanent => {
                "The store's own address cannot be removed: the admin always answers there."
            }
            Self::Database(_) => "Something went wrong on our side. Please try again.",
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Taken | DomainError::AlreadyYours => {
                Self::invalid("domain", e.user_message())
            }
            DomainError::NotVerified | DomainError::Permanent => {
                Self::invalid("hostname", e.user_message())
            }
            DomainError::NotFound => Self::NotFound,
            DomainError::Database(e) => Self::Internal(e.into()),
        }
    }
}

/// One of a store's hostnames as the registry holds it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Hostname {
    /// The registry key: the bare label for the subdomain, the full name for a custom domain.
    pub hostname: String,
    /// `subdomain` or `custom`.
    pub kind: String,
    /// Whether shoppers are sent here.
    pub is_primary: bool,
    /// When DNS proved the domain is the merchant's (always set for the subdomain).
    pub verified_at: Option<DateTime<Utc>>,
    /// The token the TXT record must carry (custom domains only).
    pub verification_token: Option<String>,
    /// When DNS was last checked.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// What the last failed check found missing or wrong.
    pub last_check_error: Option<String>,
    /// When the hostname was added.
    pub created_at: DateTime<Utc>,
}

impl Hostname {
    /// Whether this is a custom domain (rather than the store's subdomain).
    pub fn is_custom(&self) -> bool {
        self.kind == "custom"
    }
}

const HOSTNAME_COLUMNS: &str = "hostname, kind, is_primary, verified_at, verification_token, \
                                last_checked_at, last_check_error, created_at";

/// A store's hostnames and its live claims, as one list: the registry's rows, and each
/// claim as an unverified custom domain.
fn hostnames_and_claims() -> String {
    format!(
        "SELECT hostname, tenant_id, kind, is_primary, verified_at, verification_token, \
                last_checked_at, last_check_error, created_at \
         FROM platform.hostnames \
         UNION ALL \
         SELECT hostname, tenant_id, 'custom', false, NULL, verification_token, \
                last_checked_at, last_check_error, created_at \
         FROM platform.domain_claims \
         WHERE created_at > now() - make_interval(days => {CLAIM_DAYS})"
    )
}

/// A store's hostnames: its subdomain first, then custom domains (proved or claimed)
/// oldest first.
pub async fn list(conn: &mut PgConnection, tenant_id: Uuid) -> sqlx::Result<Vec<Hostname>> {
    sqlx::query_as(&format!(
        "SELECT {HOSTNAME_COLUMNS} FROM ({}) h WHERE tenant_id = $1 \
         ORDER BY kind = 'custom', created_at, hostname",
        hostnames_and_claims()
    ))
    .bind(tenant_id)
    .fetch_all(conn)
    .await
}

/// One of the store's hostnames, or a live claim of it, by registry key.
pub async fn find(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    key: &str,
) -> sqlx::Result<Option<Hostname>> {
    sqlx::query_as(&format!(
        "SELECT {HOSTNAME_COLUMNS} FROM ({}) h \
         WHERE tenant_id = $1 AND hostname = $2 ORDER BY verified_at NULLS LAST LIMIT 1",
        hostnames_and_claims()
    ))
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Like [`find`], and locks the row for the rest of the transaction.
async fn find_for_update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    key: &str,
) -> sqlx::Result<Option<Hostname>> {
    sqlx::query_as(&format!(
        "SELECT {HOSTNAME_COLUMNS} FROM platform.hostnames \
         WHERE tenant_id = $1 AND hostname = $2 FOR UPDATE"
    ))
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Claims a custom domain for the store, with a fresh verification token; an expired claim
/// of its own is made anew. Other stores' claims on the domain are no obstacle (nobody can
/// hold a domain without proving it); a domain another store proved is [`DomainError::Taken`].
pub async fn add(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    domain: &DomainName,
) -> Result<Hostname, DomainError> {
    let owner: Option<Uuid> =
        sqlx::query_scalar("SELECT tenant_id FROM platform.hostnames WHERE hostname = $1")
            .bind(domain.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    match owner {
        Some(owner) if owner == tenant_id => return Err(DomainError::AlreadyYours),
        Some(_) => return Err(DomainError::Taken),
        None => {}
    }
    let added: Option<Hostname> = sqlx::query_as(&format!(
        "INSERT INTO platform.domain_claims (hostname, tenant_id, verification_token) \
         VALUES ($1, $2, $3) \
         ON CONFLICT (hostname, tenant_id) DO UPDATE \
           SET verification_token = excluded.verification_token, created_at = now(), \
               last_checked_at = NULL, last_check_error = NULL \
           WHERE domain_claims.created_at <= now() - make_interval(days => {CLAIM_DAYS}) \
         RETURNING hostname, 'custom' AS kind, false AS is_primary, \
                   NULL::timestamptz AS verified_at, verification_token, last_checked_at, \
                   last_check_error, created_at"
    ))
    .bind(domain.as_str())
    .bind(tenant_id)
    .bind(crate::tokens::random_token())
    .fetch_optional(&mut *conn)
    .await?;
    added.ok_or(DomainError::AlreadyYours)
}

/// Records the outcome of a DNS check of the store's claim on `key`. A passing check gives
/// the store the domain (from then on it serves the store) and ends every claim on it,
/// other stores' too; unless another store proved it first ([`DomainError::Taken`]). A
/// failing one keeps what was wrong for the admin to show. A domain once proved is never
/// taken away by a later check (a flaky resolver must not take a store down).
pub async fn record_check(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    key: &str,
    verdict: &Verdict,
) -> Result<(), DomainError> {
    let problem = match verdict {
        Verdict::Verified => None,
        Verdict::NotYet(problem) => Some(problem.as_str()),
    };
    if let Some(problem) = problem {
        sqlx::query(
            "UPDATE platform.domain_claims SET last_checked_at = now(), last_check_error = $3 \
             WHERE tenant_id = $1 AND hostname = $2",
        )
        .bind(tenant_id)
        .bind(key)
        .bind(problem)
        .execute(&mut *conn)
        .await?;
        return Ok(());
    }
    let proved: Option<String> = sqlx::query_scalar(&format!(
        "INSERT INTO platform.hostnames \
           (hostname, tenant_id, kind, verification_token, verified_at, last_checked_at) \
         SELECT hostname, tenant_id, 'custom', verification_token, now(), now() \
         FROM platform.domain_claims \
         WHERE tenant_id = $1 AND hostname = $2 \
           AND created_at > now() - make_interval(days => {CLAIM_DAYS}) \
         ON CONFLICT (hostname) DO NOTHING RETURNING hostname"
    ))
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    if proved.is_none() {
        return Err(DomainError::Taken);
    }
    sqlx::query("DELETE FROM platform.domain_claims WHERE hostname = $1")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    tenancy::notify_hostname_changed(conn, key).await?;
    Ok(())
}

/// Makes `key` the store's only primary hostname: the subdomain, or a verified custom domain.
/// Returns the hostname keys whose mapping changed (announced on commit).
pub async fn make_primary(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    key: &str,
) -> Result<Vec<String>, DomainError> {
    lock_hostnames(conn, tenant_id).await?;
    let Some(row) = find_for_update(conn, tenant_id, key).await? else {
        return Err(match find(conn, tenant_id, key).await? {
            Some(_claim) => DomainError::NotVerified,
            None => DomainError::NotFound,
        });
    };
    if row.verified_at.is_none() {
        return Err(DomainError::NotVerified);
    }
    // Two statements, old primary off first: a unique index is checked row by row, so one
    // UPDATE flipping both could trip over the old primary still being set.
    sqlx::query(
        "UPDATE platform.hostnames SET is_primary = false \
         WHERE tenant_id = $1 AND is_primary AND hostname <> $2",
    )
    .bind(tenant_id)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE platform.hostnames SET is_primary = true WHERE tenant_id = $1 AND hostname = $2",
    )
    .bind(tenant_id)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    // Every hostname's cached tenant carries the primary host: all of them change.
    Ok(announce_all(conn, tenant_id).await?)
}

/// Removes a custom domain; if it was primary, the subdomain becomes primary again.
/// Returns the hostname keys whose mapping changed (announced on commit).
pub async fn remove(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    key: &str,
) -> Result<Vec<String>, DomainError> {
    lock_hostnames(conn, tenant_id).await?;
    let Some(row) = find_for_update(conn, tenant_id, key).await? else {
        // A claim: nothing resolves to it, nothing to announce.
        let dropped = sqlx::query(
            "DELETE FROM platform.domain_claims WHERE tenant_id = $1 AND hostname = $2",
        )
        .bind(tenant_id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
        return if dropped.rows_affected() == 0 {
            Err(DomainError::NotFound)
        } else {
            Ok(Vec::new())
        };
    };
    if !row.is_custom() {
        return Err(DomainError::Permanent);
    }
    // Announced while the row still exists so its key is among those announced; delivered
    // on commit.
    let changed = announce_all(conn, tenant_id).await?;
    sqlx::query("DELETE FROM platform.hostnames WHERE tenant_id = $1 AND hostname = $2")
        .bind(tenant_id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    if row.is_primary {
        sqlx::query(
            "UPDATE platform.hostnames SET is_primary = true \
             WHERE tenant_id = $1 AND kind = 'subdomain'",
        )
        .bind(tenant_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(changed)
}

/// Announces every hostname of a store as changed; returns their keys.
async fn announce_all(conn: &mut PgConnection, tenant_id: Uuid) -> sqlx::Result<Vec<String>> {
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT hostname FROM platform.hostnames WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(&mut *conn)
            .await?;
    for key in &keys {
        tenancy::notify_hostname_changed(conn, key).await?;
    }
    Ok(keys)
}

/// Serialises changes to one store's hostnames, so two "make primary" clicks cannot both
/// clear and set and trip the one-primary index.
async fn lock_hostnames(conn: &mut PgConnection, tenant_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 FROM platform.tenants WHERE id = $1 FOR NO KEY UPDATE")
        .bind(tenant_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The outcome of a DNS check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both records are in place.
    Verified,
    /// What is missing or wrong, in words for the merchant.
    NotYet(String),
}

/// Asks DNS whether `domain` carries the verification TXT record with `token` and points at
/// `target` (a CNAME chain ending there, or for an apex that cannot have a CNAME, addresses
/// that are all among the target's). `nameserver` overrides the system resolver.
pub async fn check_dns(
    nameserver: Option<SocketAddr>,
    domain: &str,
    token: &str,
    target: &str,
) -> anyhow::Result<Verdict> {
    let resolver = resolver(nameserver)?;
    let mut problems = Vec::new();
    if let Some(p) = check_txt(&resolver, domain, token).await {
        problems.push(p);
    }
    if let Some(p) = check_points_at_target(&resolver, domain, target).await {
        problems.push(p);
    }
    Ok(if problems.is_empty() {
        Verdict::Verified
    } else {
        Verdict::NotYet(problems.join(" "))
    })
}

/// A resolver for one check: built fresh each time so nothing is cached between checks (a
/// merchant who just created a record must not see yesterday's negative answer), with a
/// short timeout so the admin page does not hang on a dead name server.
fn resolver(nameserver: Option<SocketAddr>) -> anyhow::Result<TokioResolver> {
    let mut builder = match nameserver {
        Some(addr) => {
            let mut server = NameServerConfig::udp(addr.ip());
            for connection in &mut server.connections {
                connection.port = addr.port();
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| anyhow::anyhow!("reading the system DNS configuration: {e}"))?,
    };
    let options: &mut ResolverOpts = builder.options_mut();
    options.timeout = DNS_TIMEOUT;
    options.attempts = 1;
    // Only DNS counts: an /etc/hosts entry on our server proves nothing about the domain.
    options.use_hosts_file = ResolveHosts::Never;
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("building the DNS resolver: {e}"))
}

/// A fully qualified name, so the resolver's search domains never apply.
fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Either the records found, or None when the name has none of that type; other failures
/// (timeouts, refusals) become a message.
async fn lookup(
    resolver: &TokioResolver,
    name: &str,
    record_type: RecordType,
) -> Result<Option<Lookup>, String> {
    match resolver.lookup(fqdn(name).as_str(), record_type).await {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.is_no_records_found() => Ok(None),
        Err(e) => Err(describe_failure(name, record_type, &e)),
    }
}

fn describe_failure(name: &str, record_type: RecordType, e: &NetError) -> String {
    let why = match e {
        NetError::Timeout => "the name server did not answer in time".to_owned(),
        other => other.to_string(),
    };
    format!("Could not look up the {record_type} record of {name} ({why}); try again shortly.")
}

async fn check_txt(resolver: &TokioResolver, domain: &str, token: &str) -> Option<String> {
    let name = verification_record(domain);
    let expected = verification_value(token);
    let found = match lookup(resolver, &name, RecordType::TXT).await {
        Ok(found) => found,
        Err(problem) => return Some(problem),
    };
    let values: Vec<String> = found
        .iter()
        .flat_map(|l| l.answers())
        .filter_map(|r| match &r.data {
            // One record may be split into several strings; DNS joins them.
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect();
    if values.iter().any(|v| v.trim() == expected) {
        return None;
    }
    Some(if values.is_empty() {
        format!(
            "TXT record missing: no TXT record found at {name}; create it with the value {expected}."
        )
    } else {
        format!(
            "TXT record wrong: the TXT record at {name} holds “{}”, not {expected}.",
            values.join("”, “")
        )
    })
}

async fn check_points_at_target(
    resolver: &TokioResolver,
    domain: &str,
    target: &str,
) -> Option<String> {
    let target = normalise(target);
    let mut name = normalise(domain);
    let mut chain = Vec::new();
    for _ in 0..MAX_CNAME_HOPS {
        let found = match lookup(resolver, &name, RecordType::CNAME).await {
            Ok(found) => found,
            Err(problem) => return Some(problem),
        };
        let next = found
            .iter()
            .flat_map(|l| l.answers())
            .find_map(|r| match &r.data {
                RData::CNAME(cname) if normalise(&r.name.to_ascii()) == name => {
                    Some(normalise(&cname.0.to_ascii()))
                }
                _ => None,
            });
        let Some(next) = next else { break };
        if next == target {
            return None;
        }
        chain.push(next.clone());
        name = next;
    }
    if let Some(last) = chain.last() {
        return Some(format!(
            "CNAME record wrong: {domain} points to {last}, not to {target}; change its CNAME \
             record to {target}."
        ));
    }
    // No CNAME at all: an apex domain cannot have one, so accept A/AAAA records that are
    // the target's own addresses.
    let own = match addresses(resolver, domain).await {
        Ok(own) => own,
        Err(problem) => return Some(problem),
    };
    if own.is_empty() {
        return Some(format!(
            "CNAME record missing: no CNAME record found for {domain}; create one pointing to \
             {target}."
        ));
    }
    let targets = match addresses(resolver, &target).await {
        Ok(targets) => targets,
        Err(problem) => return Some(problem),
    };
    if own.is_subset(&targets) {
        return None;
    }
    let list = |set: &BTreeSet<IpAddr>| {
        set.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "CNAME record missing: {domain} has no CNAME record pointing to {target}, and its \
         addresses ({}) are not {target}'s ({}); create the CNAME record (or, at the apex of a \
         domain, A records with {target}'s addresses).",
        list(&own),
        if targets.is_empty() {
            "none".to_owned()
        } else {
            list(&targets)
        }
    ))
}

/// A name's IPv4 and IPv6 addresses (empty when it has none).
async fn addresses(resolver: &TokioResolver, name: &str) -> Result<BTreeSet<IpAddr>, String> {
    let mut all = BTreeSet::new();
    for record_type in [RecordType::A, RecordType::AAAA] {
        let found = lookup(resolver, name, record_type).await?;
        all.extend(
            found
                .iter()
                .flat_map(|l| l.answers())
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                }),
        );
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLATFORM: &str = "storefront.test";

    fn parse(input: &str) -> Result<String, String> {
        DomainName::parse(input, PLATFORM).map(|d| d.0)
    }

    #[test]
    fn pasted_domains_are_normalised() {
        for input in [
            "shop.example.com",
            "  Shop.Example.COM  ",
            "shop.example.com.",
            "https://shop.example.com/",
            "http://Shop.example.com/products/tea?x=1#top",
            "shop.example.com:443",
            "https://shop.example.com:8443/path",
        ] {
            assert_eq!(parse(input).as_deref(), Ok("shop.example.com"), "{input}");
        }
        assert_eq!(parse("example.com").as_deref(), Ok("example.com"));
        assert_eq!(
            parse("xn--bcher-kva.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
    }

    #[test]
    fn malformed_domains_are_refused_with_a_reason() {
        let refused = |input: &str, reason: &str| {
            let message = parse(input).expect_err(input);
            assert!(message.contains(reason), "{input}: {message}");
        };
        refused("", "Enter a domain name");
        refused("   ", "Enter a domain name");
        refused("https://", "Enter a domain name");
        refused("localhost", "with a dot");
        refused("shop..example.com", "empty parts");
        refused(".example.com", "empty parts");
        refused("-shop.example.com", "hyphen");
        refused("shop-.example.com", "hyphen");
        refused("shop_1.example.com", "cannot contain “_”");
        refused("shop example.com", "cannot contain “ ”");
        refused("bücher.example", "ASCII form");
        refused(&format!("{}.com", "a".repeat(64)), "63 characters");
        refused(
            &format!("{}.com", vec!["a".repeat(60); 5].join(".")),
            "253 characters",
        );
        refused("192.168.1.10", "not an IP address");
        refused("http://10.0.0.1:8080/", "not an IP address");
        refused("[::1]", "not an IP address");
        refused("::1", "not an IP address");
        refused("1.2.3.999", "not an IP address");
        refused("storefront.test", "belong to the platform");
        refused("Alpha.Storefront.Test.", "belong to the platform");
        refused("stores.storefront.test", "belong to the platform");
        assert!(parse("notstorefront.test").is_ok());
    }

    #[test]
    fn verification_record_and_value() {
        let d = DomainName::parse("shop.example.com", PLATFORM).unwrap();
        assert_eq!(
            d.verification_record(),
            "_storefront-verify.shop.example.com"
        );
        assert_eq!(verification_value("abc"), "storefront-verify=abc");
    }
}
