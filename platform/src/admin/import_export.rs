//! `/admin/products/import` and `/admin/products/export.csv`: products in and out as a
//! Shopify product CSV. An upload is spooled to a temporary file and imported by a
//! background task whose progress and report live in the store's `import_jobs`. Needs the
//! `products` permission.

use std::io::{Seek as _, SeekFrom};

use axum::body::{Body, Bytes};
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse as _, Redirect, Response};
use futures::SinkExt as _;
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;
use uuid::Uuid;

use super::chrome::Chrome;
use crate::app::AppState;
use crate::catalog_csv::export::Sink;
use crate::catalog_csv::images::ImageFetcher;
use crate::catalog_csv::jobs::{self, ImportJob};
use crate::catalog_csv::{ExportOptions, count_rows, export_products};
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant, request_base_url};
use crate::routing::{Routes, get};

/// Largest CSV file accepted for an import.
pub const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;
/// Room in a multipart body beyond the file itself (boundaries, part headers).
const FORM_OVERHEAD: u64 = 64 * 1024;
/// Imports listed under the upload form.
const RECENT_JOBS: i64 = 10;

/// The import and export routes (the upload route reads bodies up to the upload limit).
pub fn router() -> Routes {
    Routes::new()
        .route(
            "/admin/products/import",
            get(show_import)
                .post(start_import)
                .layer(DefaultBodyLimit::max(
                    (MAX_UPLOAD_BYTES + FORM_OVERHEAD) as usize,
                )),
        )
        .route("/admin/products/import/{id}", get(show_import_job))
        .route("/admin/products/export.csv", get(export_csv))
}

#[derive(Serialize)]
struct ImportView {
    chrome: Chrome,
    /// The CSRF token, URL-encoded for the form's action (multipart bodies are not searched).
    csrf_query: String,
    max_mb: u64,
    error: Option<String>,
    jobs: Vec<ImportJob>,
}

async fn render_form(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let jobs = jobs::recent(&mut tx, RECENT_JOBS).await?;
    tx.commit().await?;
    let chrome = Chrome::new(tenant, merchant).await?;
    let view = ImportView {
        csrf_query: form_urlencoded::byte_serialize(chrome.csrf.as_bytes()).collect(),
        chrome,
        max_mb: MAX_UPLOAD_BYTES / (1024 * 1024),
        error,
        jobs,
    };
    let html = app.views.render("admin/import.html", &view)?;
    Ok((status, Html(html)).into_response())
}

/// `GET /admin/products/import`: the upload form and the latest imports.
pub async fn show_import(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    render_form(&app, &tenant, &merchant, StatusCode::OK, None).await
}

/// Why an upload was refused, for the form.
enum Refusal {
    TooLarge,
    Unreadable,
}

/// Writes one multipart field to an anonymous temporary file (gone when closed). A file
/// over the limit is read to its end and dropped, so the browser gets the answer instead of
/// a reset connection. Returns the file, rewound, and its size.
async fn spool(
    field: &mut Field<'_>,
    dir: &std::path::Path,
) -> Result<Result<(std::fs::File, u64), Refusal>, AppError> {
    std::fs::create_dir_all(dir).map_err(|e| AppError::Internal(e.into()))?;
    let file = tempfile::tempfile_in(dir).map_err(|e| AppError::Internal(e.into()))?;
    let mut file = tokio::fs::File::from_std(file);
    let mut size = 0u64;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Ok(Err(refusal(&e))),
        };
        size += chunk.len() as u64;
        if size <= MAX_UPLOAD_BYTES {
            file.write_all(&chunk)
                .await
                .map_err(|e| AppError::Internal(e.into()))?;
        }
    }
    if size > MAX_UPLOAD_BYTES {
        return Ok(Err(Refusal::TooLarge));
    }
    file.flush()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut file = file.into_std().await;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Ok((file, size)))
}

fn refusal(e: &MultipartError) -> Refusal {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Refusal::TooLarge
    } else {
        Refusal::Unreadable
    }
}

/// `POST /admin/products/import?_csrf=...` (multipart, field `file`): spools the file,
/// records a job, starts it in the background and redirects to its page.
pub async fn start_import(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    let refuse = async |status: StatusCode, message: String| {
        render_form(&app, &tenant, &merchant, status, Some(message)).await
    };
    let too_large = format!(
        "The file is larger than {} MB. Split it into several files (rows of one product together) and import each.",
        MAX_UPLOAD_BYTES / (1024 * 1024)
    );
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_UPLOAD_BYTES + FORM_OVERHEAD) {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, too_large).await;
    }
    let Ok(mut multipart) = multipart else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Send the file with the upload form (multipart/form-data).".into(),
        )
        .await;
    };
    let unreadable = "The upload was interrupted or malformed; please try again.".to_owned();
    let tmp = app.settings.data_dir.join("tmp");
    let mut upload = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return match refusal(&e) {
                    Refusal::TooLarge => refuse(StatusCode::PAYLOAD_TOO_LARGE, too_large).await,
                    Refusal::Unreadable => refuse(StatusCode::BAD_REQUEST, unreadable).await,
                };
            }
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("products.csv").to_owned();
        if let Some(message) = crate::input::refusal(&name) {
            let message =
                format!("The file's name {message}: rename the file and upload it again.");
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, message).await;
        }
        match spool(&mut field, &tmp).await? {
            Ok((file, size)) => upload = Some((name, file, size)),
            Err(Refusal::TooLarge) => {
                return refuse(StatusCode::PAYLOAD_TOO_LARGE, too_large).await;
            }
            Err(Refusal::Unreadable) => return refuse(StatusCode::BAD_REQUEST, unreadable).await,
        }
    }
    let Some((file_name, file, size)) = upload else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a CSV file to import.".into(),
        )
        .await;
    };
    if size == 0 {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("“{file_name}” is empty."),
        )
        .await;
    }
    let counted = tokio::task::spawn_blocking(move || {
        let mut file = file;
        let total = count_rows(&file)?;
        file.seek(SeekFrom::Start(0))?;
        anyhow::Ok((file, total))
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?;
    let (file, total) = match counted {
        Ok(counted) => counted,
        Err(e) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("“{file_name}” cannot be imported: {e:#}"),
            )
            .await;
        }
    };

    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let id = jobs::create(&mut tx, &file_name, total, &merchant.email).await?;
    tx.commit().await?;
    let images = match ImageFetcher::new(app.media.clone(), &app.settings) {
        Ok(fetcher) => Some(fetcher),
        Err(e) => {
            tracing::warn!(error = %e, "product import without images");
            None
        }
    };
    jobs::spawn(
        app.db.clone(),
        tenant.0.clone(),
        id,
        file,
        merchant.email.clone(),
        total,
        images,
    );
    tracing::info!(tenant.id = %tenant.id, job = %id, rows = total, "product import started");
    Ok(Redirect::to(&format!("/admin/products/import/{id}")).into_response())
}

#[derive(Serialize)]
struct JobView {
    chrome: Chrome,
    job: ImportJob,
    running: bool,
    stalled: bool,
    percent: i64,
}

/// `GET /admin/products/import/{id}`: progress (the page follows the import while it
/// runs), then the report.
pub async fn show_import_job(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let job = jobs::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let percent = if job.total_rows > 0 {
        (job.processed_rows * 100 / job.total_rows).min(100)
    } else if job.running() {
        0
    } else {
        100
    };
    let view = JobView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        running: job.running(),
        stalled: job.stalled(chrono::Utc::now()),
        percent,
        job,
    };
    // No `Refresh` header: a timed reload loses the reader's place and focus; the page
    // follows a running import in place with a script (and a `<noscript>` refresh).
    Ok(Html(app.views.render("admin/import_job.html", &view)?).into_response())
}

type Chunk = Result<Bytes, std::io::Error>;

/// Export chunks on their way into the response body.
struct BodySink(futures::channel::mpsc::Sender<Chunk>);

impl Sink for BodySink {
    async fn write(&mut self, chunk: Vec<u8>) -> anyhow::Result<()> {
        self.0
            .send(Ok(Bytes::from(chunk)))
            .await
            .map_err(|_| anyhow::anyhow!("the download was cancelled"))
    }
}

/// `GET /admin/products/export.csv`: every product as a Shopify product CSV, streamed.
pub async fn export_csv(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    let options = ExportOptions {
        image_base_url: Some(request_base_url(&app, &headers)),
    };
    let (sender, receiver) = futures::channel::mpsc::channel::<Chunk>(4);
    let (pool, tenant_id, schema) = (app.db.clone(), tenant.id, tenant.schema.clone());
    tokio::spawn(async move {
        let mut sink = BodySink(sender);
        let written = export_products(&pool, &schema, &options, &mut sink).await;
        if let Err(e) = written {
            tracing::warn!(error = format!("{e:#}"), tenant.id = %tenant_id, "product export failed");
            // Breaks the download, so a partial file is not mistaken for the catalog.
            let _ = sink
                .0
                .send(Err(std::io::Error::other("export failed")))
                .await;
        }
    });
    let file_name = format!(
        "products-{}-{}.csv",
        tenant.subdomain,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let mut response = Response::new(Body::from_stream(receiver));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
            .map_err(|e| AppError::Internal(e.into()))?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
