//! The images a product CSV names (`Image Src`, `Variant Image`), fetched and attached to
//! the imported product as Shopify does.
//!
//! A URL of this store's own media (what an export writes) is mapped back to its storage
//! key and reused without a download, so an export imported back duplicates nothing. Any
//! other URL is downloaded over http(s) with a size cap, a timeout and few redirects, from
//! public addresses only (outside development), then checked and resized like an upload.
//! An image already on the product (same content, so same storage key) is skipped, which
//! keeps a re-import idempotent. A failed image is a note; the product stays imported.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use tenant_store::catalog::images::{self, MAX_ALT_CHARS, NewImage};
use tenant_store::{TenantSchema, audit};
use uuid::Uuid;

use super::RowError;
use crate::config::{Environment, Settings};
use crate::media::{self, MediaStore, RENDITION_CONTENT_TYPE, UploadError};

/// Longest a download may take, connection to last byte.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(15);
/// Redirects followed for one image.
pub const MAX_REDIRECTS: usize = 3;

/// One image URL of a product's rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImageRef {
    /// The line of the row naming it.
    pub line: u64,
    /// `Image Src` or `Variant Image`.
    pub column: &'static str,
    /// The URL as written (trimmed).
    pub url: String,
    /// `Image Position`, when given and a whole number.
    pub position: Option<u32>,
    /// `Image Alt Text` of its row (`Image Src` only).
    pub alt: String,
}

/// Puts a product's images in the order they are attached: by `Image Position` where given
/// (file order otherwise, and after the positioned ones), each URL once.
pub(crate) fn ordered(mut refs: Vec<ImageRef>) -> Vec<ImageRef> {
    refs.sort_by_key(|r| r.position.unwrap_or(u32::MAX));
    let mut seen = HashSet::new();
    refs.retain(|r| seen.insert(r.url.clone()));
    refs
}

/// Why a download or an address was refused; carried through reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

/// Whether an address may be fetched from production: not private, loopback, link-local,
/// unspecified, shared (carrier-grade NAT), multicast or broadcast, in IPv4 or IPv6 (an
/// IPv4-mapped IPv6 address is judged as its IPv4 address).
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local
                || (first & 0xfe00) == 0xfc00
                // fe80::/10 link-local
                || (first & 0xffc0) == 0xfe80
                // fec0::/10 site-local (deprecated, still private)
                || (first & 0xffc0) == 0xfec0
                // ::/96 IPv4-compatible (deprecated)
                || v6.segments()[..6].iter().all(|s| *s == 0))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        // 0.0.0.0/8 "this network"
        || a == 0
        // 100.64.0.0/10 shared address space
        || (a == 100 && (b & 0xc0) == 64))
}

/// Refuses a URL that is not http(s) or names a refused IP address literally (host names
/// are checked when they are resolved).
fn check_url(url: &Url, allow_private: bool) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused("only http and https URLs can be imported".into()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Refused("the URL has no host".into()))?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = literal.parse::<IpAddr>() else {
        return Ok(());
    };
    if allow_private || is_public_address(ip) {
        Ok(())
    } else {
        Err(Refused(format!("{ip} is not a public address")))
    }
}

/// Resolves host names, keeping only the addresses [`is_public_address`] allows (all of
/// them in development): the connection goes to the very addresses checked.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public_address(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused(format!(
                    "{host} does not resolve to a public address"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Downloads and stores the images of imported products: the media store, and an HTTP
/// client with the download limits and the address guard.
#[derive(Clone, Debug)]
pub struct ImageFetcher {
    media: MediaStore,
    client: reqwest::Client,
    allow_private: bool,
}

impl ImageFetcher {
    /// A fetcher storing into `media`; private addresses may be fetched only when
    /// `settings.environment` is development.
    pub fn new(media: MediaStore, settings: &Settings) -> anyhow::Result<Self> {
        Self::with_guard(media, settings.environment != Environment::Development)
    }

    /// A fetcher on the media store `settings` name (for the command line).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Self::new(MediaStore::from_settings(settings)?, settings)
    }

    /// A fetcher that refuses private addresses when `guard` is true.
    pub fn with_guard(media: MediaStore, guard: bool) -> anyhow::Result<Self> {
        let allow_private = !guard;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(Refused(format!("more than {MAX_REDIRECTS} redirects")));
            }
            match check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        let client = reqwest::Client::builder()
            .timeout(DOWNLOAD_TIMEOUT)
            .connect_timeout(DOWNLOAD_TIMEOUT)
            .redirect(redirects)
            // A proxy would resolve the host itself, past the guard.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("storefront-import/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            media,
            client,
            allow_private,
        })
    }

    /// The bytes at `url`, at most the media store's upload limit; the error is the reason
    /// for the merchant.
    async fn download(&self, url: &Url) -> Result<Vec<u8>, String> {
        check_url(url, self.allow_private).map_err(|refused| refused.0)?;
        let max = self.media.max_upload_bytes();
        let too_large = || self.media.too_large().to_string();
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the server answered {status}"));
        }
        if response
            .content_length()
            .is_some_and(|len| len > max as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if bytes.len() + chunk.len() > max {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// A download error in the merchant's words.
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut innermost = None;
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return refused.0.clone();
        }
        innermost = Some(s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        format!(
            "the download took longer than {} s",
            DOWNLOAD_TIMEOUT.as_secs()
        )
    } else if e.is_redirect() {
        format!("more than {MAX_REDIRECTS} redirects")
    } else if e.is_connect() {
        match innermost {
            Some(why) => format!("could not connect to the server ({why})"),
            None => "could not connect to the server".into(),
        }
    } else {
        match innermost {
            Some(why) => format!("the download failed ({why})"),
            None => "the download failed".into(),
        }
    }
}

/// Reads a URL of the file: the storage key when it is this store's media (absolute, or
/// relative as an export without a base writes it), and the URL when it is absolute.
fn source(raw: &str, schema: &TenantSchema) -> Result<(Option<String>, Option<Url>), String> {
    let parsed = Url::parse(raw);
    let path = match &parsed {
        Ok(url) => url.path().to_owned(),
        Err(_) if raw.starts_with('/') && !raw.starts_with("//") => {
            raw.split(['?', '#']).next().unwrap_or_default().to_owned()
        }
        Err(_) => return Err("is not an absolute http or https URL".into()),
    };
    if let Some(key) = own_media_key(&path, schema) {
        return Ok((Some(key), parsed.ok()));
    }
    let url = parsed.map_err(|_| "is not an absolute http or https URL".to_owned())?;
    Ok((None, Some(url)))
}

/// The storage key behind `/media/<schema>/<64 hex>/<width>[.<ext>]` when `schema` is this
/// store's.
fn own_media_key(path: &str, schema: &TenantSchema) -> Option<String> {
    let rest = path.strip_prefix("/media/")?;
    let rest = match rest.rsplit_once('/') {
        Some((head, last)) => match last.split_once('.') {
            Some((width, _ext)) => format!("{head}/{width}"),
            None => rest.to_owned(),
        },
        None => return None,
    };
    media::parse_media_path(&rest, schema).map(|(key, _)| key)
}

/// What attaching a product's images did.
#[derive(Debug, Default)]
pub(crate) struct Attached {
    /// Images added to the product.
    pub added: u64,
    /// Images refused, by line and column.
    pub notes: Vec<RowError>,
}

/// A product and where its images go.
pub(crate) struct Target<'a> {
    pub pool: &'a PgPool,
    pub schema: &'a TenantSchema,
    pub actor: &'a str,
    pub product_id: Uuid,
    pub handle: &'a str,
}

impl ImageFetcher {
    /// Attaches `refs` (already [`ordered`]) to the product, after its current images.
    /// Never fails: what went wrong is in the notes.
    pub(crate) async fn attach(&self, target: &Target<'_>, refs: &[ImageRef]) -> Attached {
        let mut done = Attached::default();
        let on_product = match self.keys_on_product(target).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    handle = target.handle,
                    "listing a product's images"
                );
                for r in refs {
                    done.notes.push(note(
                        target,
                        r,
                        "not imported because of an error on our side; import the file again",
                    ));
                }
                return done;
            }
        };
        let mut on_product = on_product;
        for r in refs {
            match self.attach_one(target, r, &mut on_product).await {
                Ok(true) => done.added += 1,
                Ok(false) => {}
                Err(reason) => done.notes.push(note(target, r, &reason)),
            }
        }
        done
    }

    async fn keys_on_product(&self, target: &Target<'_>) -> anyhow::Result<HashSet<String>> {
        let mut tx = tenant_store::begin(target.pool, target.schema).await?;
        let list = images::list_images(&mut tx, target.product_id).await?;
        tx.commit().await?;
        Ok(list.into_iter().map(|i| i.storage_key).collect())
    }

    /// Attaches one image; `Ok(false)` when the product already has it.
    async fn attach_one(
        &self,
        target: &Target<'_>,
        r: &ImageRef,
        on_product: &mut HashSet<String>,
    ) -> Result<bool, String> {
        let (own, absolute) = source(&r.url, target.schema)?;
        let alt: String = r.alt.trim().chars().take(MAX_ALT_CHARS).collect();
        if let Some(key) = &own {
            if on_product.contains(key) {
                return Ok(false);
            }
            match self.reuse(target, key, &alt).await {
                Ok(true) => {
                    on_product.insert(key.clone());
                    return Ok(true);
                }
                Ok(false) => {}
                Err(e) => return Err(internal(target, e)),
            }
            // The key is no longer used here, so its files are gone: download it like any
            // other image when the URL says where from.
            if absolute.is_none() {
                return Err("is no longer among this store's images".into());
            }
        }
        let Some(url) = absolute else {
            return Err("is not an absolute http or https URL".into());
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err("only http and https URLs can be imported".into());
        }
        let bytes = self.download(&url).await?;
        let key = media::storage_key(target.schema, &hex::encode(Sha256::digest(&bytes)));
        if on_product.contains(&key) {
            return Ok(false);
        }
        let processed = self.media.process(bytes).await.map_err(|e| match e {
            UploadError::Internal(e) => internal(target, e),
            UploadError::Missing => "the server sent an empty file".into(),
            refused => refused.to_string(),
        })?;
        let key = media::storage_key(target.schema, &processed.content_hash);
        if on_product.contains(&key) {
            return Ok(false);
        }
        let width = i32::try_from(processed.width).map_err(|e| internal(target, e.into()))?;
        let height = i32::try_from(processed.height).map_err(|e| internal(target, e.into()))?;
        let stored = async {
            let mut tx = tenant_store::begin(target.pool, target.schema).await?;
            images::lock_key(&mut tx, &key).await?;
            // Content-addressed: if a row already uses this key, its files are in place.
            if images::count_references(&mut tx, &key).await? == 0 {
                self.media.put(&key, &processed).await?;
            }
            let image = NewImage {
                storage_key: &key,
                content_type: RENDITION_CONTENT_TYPE,
                width,
                height,
                alt: &alt,
            };
            add(&mut tx, target, image).await?;
            tx.commit().await?;
            anyhow::Ok(())
        }
        .await;
        match stored {
            Ok(()) => {
                on_product.insert(key);
                Ok(true)
            }
            Err(e) => {
                // Files just written for a row that was never committed must not linger.
                self.delete_if_unreferenced(target, &key).await;
                Err(internal(target, e))
            }
        }
    }

    /// Adds an image whose files this store already has under `key`, with the size its
    /// other rows record; `Ok(false)` when no row uses the key any more.
    async fn reuse(&self, target: &Target<'_>, key: &str, alt: &str) -> anyhow::Result<bool> {
        let mut tx = tenant_store::begin(target.pool, target.schema).await?;
        images::lock_key(&mut tx, key).await?;
        let known: Option<(String, i32, i32)> = sqlx::query_as(
            "SELECT content_type, width, height FROM product_images WHERE storage_key = $1 \
             ORDER BY id LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((content_type, width, height)) = known else {
            tx.rollback().await?;
            return Ok(false);
        };
        let image = NewImage {
            storage_key: key,
            content_type: &content_type,
            width,
            height,
            alt,
        };
        add(&mut tx, target, image).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_if_unreferenced(&self, target: &Target<'_>, key: &str) {
        let cleaned = async {
            let mut tx = tenant_store::begin(target.pool, target.schema).await?;
            images::lock_key(&mut tx, key).await?;
            if images::count_references(&mut tx, key).await? == 0 {
                self.media.delete(key).await?;
            }
            tx.commit().await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = cleaned {
            tracing::warn!(
                error = format!("{e:#}"),
                key,
                "could not clean up after a failed image import"
            );
        }
    }
}

/// Adds the row and records it in the audit log.
async fn add(
    tx: &mut sqlx::PgConnection,
    target: &Target<'_>,
    image: NewImage<'_>,
) -> anyhow::Result<()> {
    let key = image.storage_key.to_owned();
    let added = images::add_image(tx, target.product_id, image).await?;
    audit::record(
        tx,
        target.actor,
        "product.image.add",
        &target.product_id.to_string(),
        serde_json::json!({ "image_id": added.id, "storage_key": key, "source": "import" }),
    )
    .await?;
    Ok(())
}

fn internal(target: &Target<'_>, e: anyhow::Error) -> String {
    tracing::warn!(
        error = format!("{e:#}"),
        handle = target.handle,
        "importing a product image failed"
    );
    "not imported because of an error on our side; import the file again".into()
}

fn note(target: &Target<'_>, r: &ImageRef, reason: &str) -> RowError {
    RowError {
        line: r.line,
        column: r.column.to_owned(),
        handle: target.handle.to_owned(),
        message: format!("“{}” not imported: {reason}", r.url),
    }
}

/// The note for an image when the import has no media store to put it in.
pub(crate) fn skipped(handle: &str, r: &ImageRef) -> RowError {
    RowError {
        line: r.line,
        column: r.column.to_owned(),
        handle: handle.to_owned(),
        message: format!("“{}” skipped: images are not imported here", r.url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_pass_the_guard() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "2606:2800:220:1:248:1893:25c8:1946",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public_address(ip(public)), "{public}");
        }
        for private in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
        ] {
            assert!(!is_public_address(ip(private)), "{private}");
        }
    }

    #[test]
    fn urls_must_be_http_and_name_no_private_address() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&url("https://cdn.example/a.jpg"), false).is_ok());
        assert!(check_url(&url("http://93.184.216.34/a.jpg"), false).is_ok());
        assert!(check_url(&url("http://127.0.0.1:8080/a.jpg"), false).is_err());
        assert!(check_url(&url("http://[::1]/a.jpg"), false).is_err());
        // Decimal and other IPv4 spellings are parsed as the address they are.
        assert!(check_url(&url("http://2130706433/a.jpg"), false).is_err());
        assert!(check_url(&url("http://127.0.0.1:8080/a.jpg"), true).is_ok());
        assert!(check_url(&url("file:///etc/passwd"), true).is_err());
        assert!(check_url(&url("ftp://cdn.example/a.jpg"), true).is_err());
    }

    fn fetcher(guard: bool) -> ImageFetcher {
        let store = Arc::new(object_store::memory::InMemory::new());
        ImageFetcher::with_guard(MediaStore::new(store, 1), guard).unwrap()
    }

    #[tokio::test]
    async fn the_guard_refuses_loopback_by_address_and_by_name() {
        let guarded = fetcher(true);
        let by_address = guarded
            .download(&Url::parse("http://127.0.0.1:9/a.png").unwrap())
            .await
            .unwrap_err();
        assert!(by_address.contains("not a public address"), "{by_address}");
        let by_name = guarded
            .download(&Url::parse("http://localhost:9/a.png").unwrap())
            .await
            .unwrap_err();
        assert!(
            by_name.contains("does not resolve to a public address"),
            "{by_name}"
        );
    }

    #[test]
    fn own_media_urls_map_back_to_their_key() {
        let schema = TenantSchema::from_registry("t_abcdefghij".into()).unwrap();
        let hash = "0123456789abcdef".repeat(4);
        let key = format!("t_abcdefghij/{hash}");
        for url in [
            format!("http://alpha.storefront.test/media/{key}/2048"),
            format!("https://shop.example/media/{key}/480.jpg"),
            format!("/media/{key}/160"),
        ] {
            match source(&url, &schema) {
                Ok((Some(k), _)) => assert_eq!(k, key, "{url}"),
                _ => panic!("{url} is this store's media"),
            }
        }
        let other = format!("http://beta.storefront.test/media/t_zzzzzzzzzz/{hash}/2048");
        assert!(matches!(source(&other, &schema), Ok((None, Some(_)))));
        assert!(source("cdn.example/a.jpg", &schema).is_err());
        assert!(source("/images/a.jpg", &schema).is_err());
    }

    #[test]
    fn images_go_by_position_then_file_order_each_url_once() {
        let r = |url: &str, position: Option<u32>| ImageRef {
            line: 2,
            column: "Image Src",
            url: url.into(),
            position,
            alt: String::new(),
        };
        let order: Vec<String> = ordered(vec![
            r("c", None),
            r("b", Some(2)),
            r("a", Some(1)),
            r("b", None),
            r("d", None),
        ])
        .into_iter()
        .map(|r| r.url)
        .collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }
}
