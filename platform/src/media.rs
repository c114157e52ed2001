//! Product image storage: uploads are checked and resized ([`process`]) and their
//! renditions kept in an object store (a directory under `DATA_DIR/media` by default, an
//! S3-compatible bucket by configuration) under content-addressed keys
//! `<tenant schema>/<sha-256 hex>`, so the bytes behind a media URL never change.

mod process;

use std::sync::Arc;

use anyhow::Context as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetResult, ObjectStore, ObjectStoreExt as _, PutPayload};
use secrecy::ExposeSecret as _;
use tenant_store::TenantSchema;
use tokio::sync::Semaphore;

use crate::config::Settings;
use crate::error::AppError;
use crate::media_urls::IMAGE_WIDTHS;

pub use process::{
    MAX_PIXELS, MAX_SIDE, Processed, RENDITION_CONTENT_TYPE, UploadError, check_dimensions,
    slots_for,
};

/// Uploads decoded at once per process: decoding a large image takes hundreds of
/// megabytes, so a burst of uploads waits its turn instead of exhausting memory.
const CONCURRENT_PROCESSING: usize = 2;

/// Where product images are kept, and the work of getting them there.
#[derive(Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    processing: Arc<Semaphore>,
    max_upload_mb: u64,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStore")
            .field("store", &self.store.to_string())
            .field("max_upload_mb", &self.max_upload_mb)
            .finish()
    }
}

impl MediaStore {
    /// The store the settings name: an S3 bucket when `MEDIA_S3_BUCKET` is set, otherwise
    /// the directory `DATA_DIR/media` (created if missing).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match &settings.media_s3_bucket {
            Some(bucket) => {
                // The standard AWS_* variables apply; MEDIA_S3_* settings take precedence.
                let mut s3 = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = &settings.media_s3_endpoint {
                    s3 = s3
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                if let Some(region) = &settings.media_s3_region {
                    s3 = s3.with_region(region);
                }
                if let Some(id) = &settings.media_s3_access_key_id {
                    s3 = s3.with_access_key_id(id);
                }
                if let Some(secret) = &settings.media_s3_secret_access_key {
                    s3 = s3.with_secret_access_key(secret.expose_secret());
                }
                Arc::new(s3.build().context("configuring the S3 media bucket")?)
            }
            None => {
                let root = settings.data_dir.join("media");
                std::fs::create_dir_all(&root)
                    .with_context(|| format!("creating {}", root.display()))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&root)
                        .with_context(|| format!("opening {}", root.display()))?
                        .with_automatic_cleanup(true),
                )
            }
        };
        Ok(Self::new(store, settings.media_max_upload_mb))
    }

    /// A store on any object store (tests use an in-memory one).
    pub fn new(store: Arc<dyn ObjectStore>, max_upload_mb: u64) -> Self {
        Self {
            store,
            processing: Arc::new(Semaphore::new(CONCURRENT_PROCESSING)),
            max_upload_mb,
        }
    }

    /// Largest upload accepted, in bytes.
    pub fn max_upload_bytes(&self) -> usize {
        usize::try_from(self.max_upload_mb * 1024 * 1024).unwrap_or(usize::MAX)
    }

    /// The refusal for an upload over [`MediaStore::max_upload_bytes`].
    pub fn too_large(&self) -> UploadError {
        UploadError::TooLarge {
            limit_mb: self.max_upload_mb,
        }
    }

    /// Checks and resizes an upload on the blocking pool, a few at a time.
    pub async fn process(&self, bytes: Vec<u8>) -> Result<Processed, UploadError> {
        let permit = Arc::clone(&self.processing)
            .acquire_owned()
            .await
            .map_err(|e| UploadError::Internal(e.into()))?;
        tokio::task::spawn_blocking(move || {
            let done = process::process(&bytes);
            drop(permit);
            done
        })
        .await
        .map_err(|e| UploadError::Internal(anyhow::anyhow!("image processing task: {e}")))?
    }

    /// Stores the renditions of a processed upload under `storage_key`.
    pub async fn put(&self, storage_key: &str, processed: &Processed) -> anyhow::Result<()> {
        for (width, bytes) in &processed.renditions {
            let path = rendition_path(storage_key, *width);
            self.store
                .put(&path, PutPayload::from(bytes.clone()))
                .await
                .with_context(|| format!("storing {path}"))?;
        }
        Ok(())
    }

    /// The rendition to show for a request at `width`: the one stored at that width, else
    /// (for an original narrower than `width`, which is never scaled up) the widest stored
    /// below it; with the slot it came from. `None` when the image has none at all.
    ///
    /// Every width of [`IMAGE_WIDTHS`] thus answers for every image, so pages, feeds, the
    /// API and exported files may ask for any of them.
    pub async fn open(
        &self,
        storage_key: &str,
        width: u32,
    ) -> anyhow::Result<Option<(u32, GetResult)>> {
        let candidates = IMAGE_WIDTHS.into_iter().rev().filter(|w| *w <= width);
        for slot in candidates {
            let path = rendition_path(storage_key, slot);
            match self.store.get(&path).await {
                Ok(found) => return Ok(Some((slot, found))),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {path}"))),
            }
        }
        Ok(None)
    }

    /// Deletes every rendition stored under `storage_key`.
    pub async fn delete(&self, storage_key: &str) -> anyhow::Result<()> {
        for width in IMAGE_WIDTHS {
            let path = rendition_path(storage_key, width);
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(anyhow::Error::new(e).context(format!("deleting {path}"))),
            }
        }
        Ok(())
    }
}

/// The storage key of an upload: `<tenant schema>/<content hash>`.
pub fn storage_key(schema: &TenantSchema, content_hash: &str) -> String {
    format!("{}/{content_hash}", schema.as_str())
}

fn rendition_path(storage_key: &str, width: u32) -> ObjectPath {
    ObjectPath::from(format!(
        "{storage_key}/{width}.{}",
        process::RENDITION_EXTENSION
    ))
}

/// Reads `<schema>/<64 hex>/<width>` (a media URL without `/media/`) into a storage key and
/// a width; `None` unless it is well formed, belongs to `schema` and names a known width.
pub fn parse_media_path(path: &str, schema: &TenantSchema) -> Option<(String, u32)> {
    let mut parts = path.split('/');
    let (owner, hash, width) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || owner != schema.as_str() {
        return None;
    }
    let is_hash = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let width: u32 = width.parse().ok()?;
    (is_hash && IMAGE_WIDTHS.contains(&width)).then(|| (storage_key(schema, hash), width))
}

impl From<UploadError> for AppError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Internal(e) => Self::Internal(e),
            refused => Self::invalid("image", refused.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_bucket_is_used_when_configured_and_a_directory_otherwise() {
        let dir = std::env::temp_dir().join(format!("media-test-{}", std::process::id()));
        let mut settings = Settings::for_database("postgres://unused", dir.clone());
        let local = MediaStore::from_settings(&settings).unwrap();
        assert!(
            local.store.to_string().starts_with("LocalFileSystem"),
            "{local:?}"
        );
        assert!(dir.join("media").is_dir());
        settings.media_s3_bucket = Some("shop-media".into());
        settings.media_s3_endpoint = Some("http://127.0.0.1:9000".into());
        settings.media_s3_region = Some("eu-west-1".into());
        settings.media_s3_access_key_id = Some("id".into());
        settings.media_s3_secret_access_key = Some("secret".to_owned().into());
        let s3 = MediaStore::from_settings(&settings).unwrap();
        assert!(s3.store.to_string().contains("shop-media"), "{s3:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn media_paths_must_be_this_tenants_well_formed_keys_at_known_widths() {
        let schema = TenantSchema::from_registry("t_abcdefghij".into()).unwrap();
        let hash = "0123456789abcdef".repeat(4);
        assert_eq!(
            parse_media_path(&format!("t_abcdefghij/{hash}/480"), &schema),
            Some((format!("t_abcdefghij/{hash}"), 480))
        );
        for bad in [
            format!("t_zzzzzzzzzz/{hash}/480"),
            format!("t_abcdefghij/{hash}/481"),
            format!("t_abcdefghij/{hash}/480/x"),
            format!("t_abcdefghij/{}/480", hash.to_uppercase()),
            format!("t_abcdefghij/{}/480", &hash[1..]),
            format!("t_abcdefghij/../{hash}/480"),
            "t_abcdefghij".to_owned(),
        ] {
            assert_eq!(parse_media_path(&bad, &schema), None, "{bad}");
        }
    }
}
