//! The theme's static files (`templates/store/assets/`), embedded in the binary and served
//! under fingerprinted names (`/assets/theme.3f2a9c1d.css`): a file's URL changes when its
//! bytes do, so it is cached for a year as immutable.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest as _, Sha256};

use crate::error::AppError;

#[derive(RustEmbed)]
#[folder = "../templates/store/assets/"]
#[include = "*.css"]
#[include = "*.js"]
struct AssetFiles;

struct Asset {
    bytes: Vec<u8>,
    content_type: &'static str,
}

/// Fingerprinted name -> file, and plain name -> fingerprinted name.
struct Catalog {
    by_fingerprint: HashMap<String, Asset>,
    names: HashMap<String, String>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let mut by_fingerprint = HashMap::new();
    let mut names = HashMap::new();
    for name in AssetFiles::iter() {
        let file = AssetFiles::get(&name).expect("listed file exists");
        let hash = hex::encode(&Sha256::digest(&file.data)[..4]);
        let fingerprinted = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
            None => format!("{name}.{hash}"),
        };
        let content_type = if name.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        names.insert(name.to_string(), fingerprinted.clone());
        by_fingerprint.insert(
            fingerprinted,
            Asset {
                bytes: file.data.into_owned(),
                content_type,
            },
        );
    }
    Catalog {
        by_fingerprint,
        names,
    }
});

/// The URL of a theme file by its plain name (`theme.css`).
pub fn url(name: &str) -> String {
    match CATALOG.names.get(name) {
        Some(f) => format!("/assets/{f}"),
        None => format!("/assets/{name}"),
    }
}

/// `GET /assets/{name}`: a fingerprinted theme file, immutable for a year.
pub async fn show_asset(Path(name): Path<String>) -> Result<Response, AppError> {
    let asset = CATALOG
        .by_fingerprint
        .get(&name)
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes.clone(),
    )
        .into_response())
}
