//! `/media/<storage key>/<width>`: product image renditions, streamed from the object store
//! with immutable caching (the keys are content-addressed). Every width answers: an image
//! narrower than the width asked is shown at the widest size it has.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};

use crate::app::AppState;
use crate::error::AppError;
use crate::extract::CurrentTenant;
use crate::media::{self, RENDITION_CONTENT_TYPE};

/// A year: the bytes at a media URL never change.
const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";

/// `GET /media/{*path}`: one rendition of one of this store's images (the widest there is
/// up to the width asked); 404 for anything else, including another store's keys.
pub async fn show_media(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (key, width) = media::parse_media_path(&path, &tenant.schema).ok_or(AppError::NotFound)?;
    let (slot, found) = app
        .media
        .open(&key, width)
        .await?
        .ok_or(AppError::NotFound)?;
    let hash = key.rsplit('/').next().unwrap_or_default();
    let etag = format!("\"{hash}-{slot}\"");
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let size = found.meta.size;
        let mut res = Body::from_stream(found.into_stream()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(RENDITION_CONTENT_TYPE),
        );
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        res
    };
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_FOREVER),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(|e| AppError::Internal(e.into()))?,
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
