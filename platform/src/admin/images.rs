//! `/admin/products/{id}/images...`: uploading a product image (multipart, CSRF token in
//! the query string), editing its alt text, deleting it. Needs the `products` permission.

use axum::Form;
use axum::body::Body;
use axum::extract::{FromRequest as _, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Redirect;
use http_body_util::Limited;
use serde::Deserialize;
use tenant_store::catalog::images::{self, MAX_ALT_CHARS, NewImage};
use tenant_store::{TenantSchema, audit};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::media::{self, RENDITION_CONTENT_TYPE, UploadError};

/// Room in a multipart body beyond the file itself: boundaries, headers, the alt text.
const FORM_OVERHEAD: usize = 64 * 1024;
/// Longest alt field read, in bytes (UTF-8 takes up to 4 bytes a character).
const MAX_ALT_BYTES: usize = MAX_ALT_CHARS * 4;

fn editor(product_id: Uuid) -> Redirect {
    Redirect::to(&format!("/admin/products/{product_id}"))
}

/// What the upload form sent.
pub(super) struct Upload {
    pub(super) file: Vec<u8>,
    pub(super) alt: String,
}

/// Reads the multipart body: field `image` (the file) and field `alt`. The whole body is
/// capped just above the upload limit; a file over the limit is read to the end of the
/// body (so the browser gets the answer instead of a reset connection) and refused.
pub(super) async fn read_upload(app: &AppState, req: Request) -> Result<Upload, AppError> {
    let max = app.media.max_upload_bytes();
    let cap = max.saturating_add(FORM_OVERHEAD);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > cap as u64) {
        return Err(app.media.too_large().into());
    }
    let req = req.map(|body| Body::new(Limited::new(body, cap)));
    let mut multipart = Multipart::from_request(req, app).await.map_err(|_| {
        AppError::BadRequest("The upload form must be sent as multipart/form-data.".into())
    })?;
    let broken = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::from(app.media.too_large())
        } else {
            AppError::BadRequest(
                "The upload was interrupted or malformed; please try again.".into(),
            )
        }
    };
    let mut file: Option<Vec<u8>> = None;
    let mut too_large = false;
    let mut alt = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        match field.name() {
            Some("image") => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(broken)? {
                    if too_large || bytes.len() + chunk.len() > max {
                        too_large = true;
                        bytes = Vec::new();
                    } else {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                file = Some(bytes);
            }
            Some("alt") => {
                while let Some(chunk) = field.chunk().await.map_err(broken)? {
                    if alt.len() + chunk.len() > MAX_ALT_BYTES {
                        return Err(AppError::invalid(
                            "alt",
                            format!("must be at most {MAX_ALT_CHARS} characters"),
                        ));
                    }
                    alt.extend_from_slice(&chunk);
                }
            }
            // Other fields are skipped (read past by the next `next_field`).
            _ => {}
        }
    }
    if too_large {
        return Err(app.media.too_large().into());
    }
    let alt = String::from_utf8(alt).map_err(|_| AppError::invalid("alt", "is not valid text"))?;
    crate::input::check("alt", &alt)?;
    Ok(Upload {
        file: file.ok_or(UploadError::Missing)?,
        alt,
    })
}

/// Deletes a key's files unless an image row still uses them. Runs after the change that
/// dropped the reference has committed; the key lock orders it against uploads.
pub(super) async fn delete_files_if_unreferenced(
    app: &AppState,
    schema: &TenantSchema,
    key: &str,
) -> Result<(), AppError> {
    let mut tx = tenant_store::begin(&app.db, schema).await?;
    images::lock_key(&mut tx, key).await?;
    if images::count_references(&mut tx, key).await? == 0
        && let Err(e) = app.media.delete(key).await
    {
        // The row is gone and the merchant's action done: leftover files are harmless.
        tracing::warn!(
            error = format!("{e:#}"),
            key,
            "could not delete image files"
        );
    }
    tx.commit().await?;
    Ok(())
}

/// `POST /admin/products/{id}/images?_csrf=...` (multipart: `image`, `alt`): checks,
/// resizes and stores the file, then adds it after the product's other images.
pub async fn upload_image(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(product_id): Path<Uuid>,
    req: Request,
) -> Result<Redirect, AppError> {
    merchant.require("products")?;
    // Refuse an unknown product before reading, let alone decoding, the upload.
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    images::list_images(&mut tx, product_id).await?;
    tx.commit().await?;

    let upload = read_upload(&app, req).await?;
    let processed = app.media.process(upload.file).await?;
    let key = media::storage_key(&tenant.schema, &processed.content_hash);
    let added = async {
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        images::lock_key(&mut tx, &key).await?;
        // Content-addressed: if a row already uses this key, its files are in place.
        if images::count_references(&mut tx, &key).await? == 0 {
            app.media.put(&key, &processed).await?;
        }
        let image = images::add_image(
            &mut tx,
            product_id,
            NewImage {
                storage_key: &key,
                content_type: RENDITION_CONTENT_TYPE,
                width: i32::try_from(processed.width).map_err(anyhow::Error::from)?,
                height: i32::try_from(processed.height).map_err(anyhow::Error::from)?,
                alt: &upload.alt,
            },
        )
        .await?;
        audit::record(
            &mut tx,
            &merchant.email,
            "product.image.add",
            &product_id.to_string(),
            serde_json::json!({ "image_id": image.id, "storage_key": key }),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(image)
    }
    .await;
    match added {
        Ok(image) => {
            tracing::info!(tenant.id = %tenant.id, %product_id, image_id = %image.id, "product image added");
            Ok(editor(product_id))
        }
        Err(e) => {
            // Files just written for a row that was never committed must not linger.
            if let Err(cleanup) = delete_files_if_unreferenced(&app, &tenant.schema, &key).await {
                tracing::warn!(error = %cleanup, key, "could not clean up after a failed upload");
            }
            Err(e)
        }
    }
}

/// `POST /admin/products/{id}/images/{image_id}/alt`.
#[derive(Deserialize)]
pub struct AltForm {
    #[serde(default)]
    alt: String,
}

/// `POST /admin/products/{id}/images/{image_id}/alt`: changes the alt text.
pub async fn update_image_alt(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path((product_id, image_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<AltForm>,
) -> Result<Redirect, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let image = images::set_alt(&mut tx, product_id, image_id, &form.alt).await?;
    audit::record(
        &mut tx,
        &merchant.email,
        "product.image.alt",
        &product_id.to_string(),
        serde_json::json!({ "image_id": image.id, "alt": image.alt }),
    )
    .await?;
    tx.commit().await?;
    Ok(editor(product_id))
}

/// `POST /admin/products/{id}/images/{image_id}/delete`: removes the image, and its files
/// when no other image uses them.
pub async fn delete_image(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path((product_id, image_id)): Path<(Uuid, Uuid)>,
) -> Result<Redirect, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let key = images::delete_image(&mut tx, product_id, image_id).await?;
    audit::record(
        &mut tx,
        &merchant.email,
        "product.image.delete",
        &product_id.to_string(),
        serde_json::json!({ "image_id": image_id, "storage_key": key }),
    )
    .await?;
    tx.commit().await?;
    delete_files_if_unreferenced(&app, &tenant.schema, &key).await?;
    tracing::info!(tenant.id = %tenant.id, %product_id, %image_id, "product image deleted");
    Ok(editor(product_id))
}
