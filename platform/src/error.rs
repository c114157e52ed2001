//! The one error type at the HTTP edge. Browsers get an HTML page, `/admin/api/` callers a
//! JSON envelope; neither ever sees internal details, which are logged once with the
//! request id.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::app::AppState;

/// A request that failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 404: no such page, or it belongs to another tenant.
    #[error("not found")]
    NotFound,
    /// 404: no store lives at this hostname.
    #[error("unknown host")]
    UnknownHost,
    /// 422: input failed validation; each entry names a field and the problem.
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// 400: the request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 413: the request body is larger than this endpoint reads.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the request body comes in an encoding this endpoint cannot read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 401: sign-in or a valid API token is needed.
    #[error("unauthorized")]
    Unauthorized,
    /// 403: signed in, but not allowed to do this.
    #[error("forbidden")]
    Forbidden,
    /// 403: a form arrived without this session's CSRF token (or from another site).
    #[error("CSRF token missing or wrong")]
    CsrfRejected,
    /// 429: too many attempts; try again after the given number of seconds.
    #[error("rate limited")]
    TooManyRequests {
        /// Seconds until the window resets.
        retry_after_secs: u64,
    },
    /// 503: the service (or this store) cannot answer right now.
    #[error("{0}")]
    Unavailable(String),
    /// 503 with `Retry-After`: the database can't be reached (down, restarting, or every
    /// connection busy for longer than a request may wait).
    #[error("database unavailable")]
    DatabaseUnavailable,
    /// 500: anything else. Logged; the user sees only an apology and the request id.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A validation error on one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![(field.into(), message.into())])
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::UnknownHost => StatusCode::NOT_FOUND,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::CsrfRejected => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable snake_case code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::UnknownHost => "unknown_host",
            Self::Invalid(_) => "validation_failed",
            Self::BadRequest(_) => "bad_request",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::CsrfRejected => "csrf_rejected",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// What the user is told: never an internal detail.
    pub fn public_message(&self) -> String {
        match self {
            Self::NotFound => "The page you asked for does not exist.".into(),
            Self::UnknownHost => "No store lives at this address.".into(),
            Self::Invalid(_) => "Some fields need attention.".into(),
            Self::BadRequest(m)
            | Self::PayloadTooLarge(m)
            | Self::UnsupportedMediaType(m)
            | Self::Unavailable(m) => m.clone(),
            Self::Unauthorized => "Please sign in to continue.".into(),
            Self::Forbidden => "You do not have permission to do that.".into(),
            Self::CsrfRejected => {
                "This form has expired or came from another site. Go back, reload the page and try again.".into()
            }
            Self::TooManyRequests { retry_after_secs } => format!(
                "Too many attempts. Please try again in {}.",
                wait_in_words(*retry_after_secs)
            ),
            Self::DatabaseUnavailable => {
                "We can't reach our database just now. Please try again in a moment.".into()
            }
            Self::Internal(_) => "Something went wrong on our side. Please try again.".into(),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::NotFound | Self::UnknownHost => "Page not found",
            Self::Invalid(_)
            | Self::BadRequest(_)
            | Self::PayloadTooLarge(_)
            | Self::UnsupportedMediaType(_) => "Bad request",
            Self::Unauthorized => "Sign in required",
            Self::Forbidden | Self::CsrfRejected => "Not allowed",
            Self::TooManyRequests { .. } => "Too many attempts",
            Self::Unavailable(_) | Self::DatabaseUnavailable => "Unavailable",
            Self::Internal(_) => "Something went wrong",
        }
    }
}

/// Seconds a client is asked to wait when the database can't be reached.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 5;

/// Whether a database error means the database can't be reached (rather than that a
/// statement failed): no connection to be had in time, the connection broke, or the
/// server is shutting down, starting or full.
pub fn database_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Connection exceptions, too many connections, and the server going down or
            // not yet up (admin_shutdown, crash_shutdown, cannot_connect_now).
            code.starts_with("08") || matches!(&*code, "53300" | "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Whether anything in an error's chain is a database that can't be reached.
fn chain_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<sqlx::Error>()
            .is_some_and(database_unreachable)
            || matches!(
                cause.downcast_ref::<tenant_store::StoreError>(),
                Some(tenant_store::StoreError::Database(e)) if database_unreachable(e)
            )
    })
}

/// A wait as people read it: seconds up to a minute and a half, then whole minutes.
pub fn wait_in_words(secs: u64) -> String {
    match secs {
        1 => "1 second".into(),
        s if s < 90 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if database_unreachable(&e) {
            return Self::DatabaseUnavailable;
        }
        Self::Internal(e.into())
    }
}

impl From<tenant_store::StoreError> for AppError {
    fn from(e: tenant_store::StoreError) -> Self {
        use tenant_store::StoreError as E;
        match e {
            E::NotFound => Self::NotFound,
            E::Invalid { field, message } => Self::invalid(field, message),
            E::Fields(fields) => Self::Invalid(fields),
            E::LimitReached { what, limit } => Self::invalid(
                what,
                format!("your plan allows at most {limit} {what}; upgrade the plan to add more"),
            ),
            other => {
                let e = anyhow::Error::from(other);
                if chain_unreachable(&e) {
                    Self::DatabaseUnavailable
                } else {
                    Self::Internal(e)
                }
            }
        }
    }
}

/// The error carried from a handler to [`render_error`] in the response's extensions.
#[derive(Clone)]
pub struct ErrorMarker(pub Arc<AppError>);

impl IntoResponse for AppError {
    /// The status and a marker; the body is rendered by the error middleware, which knows
    /// whether the caller wants HTML or JSON and has the request id in its span.
    fn into_response(self) -> Response {
        let mut res = (self.status(), self.public_message()).into_response();
        res.extensions_mut().insert(ErrorMarker(Arc::new(self)));
        res
    }
}

#[derive(Serialize)]
struct ErrorView<'a> {
    status: u16,
    title: &'a str,
    message: String,
    fields: &'a [(String, String)],
    request_id: &'a str,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
    /// Shopify's top-level `errors` (the fields by name for a 422, the message otherwise),
    /// which existing scripts read; the API's own errors carry it too.
    errors: serde_json::Value,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    fields: std::collections::BTreeMap<&'a str, Vec<&'a str>>,
    request_id: &'a str,
}

/// Renders a failed request for its caller: JSON under `/admin/api/`, HTML elsewhere.
/// Internal errors are logged here, once, inside the request's span.
pub fn render_error(state: &AppState, err: &AppError, is_api: bool, request_id: &str) -> Response {
    // A database that can't be reached is a 503 however the error got here (wrapped in
    // context by a service, say): clients are told when to try again, and it is logged
    // as a warning, not as a failure of this request's code.
    let err = match err {
        AppError::Internal(e) if chain_unreachable(e) => {
            tracing::warn!(error = format!("{e:#}"), "database unreachable");
            &AppError::DatabaseUnavailable
        }
        AppError::Internal(e) => {
            tracing::error!(error = format!("{e:#}"), "request failed");
            err
        }
        AppError::DatabaseUnavailable => {
            tracing::warn!("database unreachable");
            err
        }
        _ => err,
    };
    let status = err.status();
    let fields: &[(String, String)] = match err {
        AppError::Invalid(f) => f,
        _ => &[],
    };
    let mut res = if is_api {
        let mut map = std::collections::BTreeMap::<&str, Vec<&str>>::new();
        for (f, m) in fields {
            map.entry(f.as_str()).or_default().push(m.as_str());
        }
        let errors = if map.is_empty() {
            serde_json::json!(err.public_message())
        } else {
            serde_json::json!(map)
        };
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: err.code(),
                message: err.public_message(),
                fields: map,
                request_id,
            },
            errors,
        };
        (status, Json(body)).into_response()
    } else {
        let view = ErrorView {
            status: status.as_u16(),
            title: err.title(),
            message: err.public_message(),
            fields,
            request_id,
        };
        match state.views.render("errors/error.html", &view) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "rendering the error page");
                (status, Html(FALLBACK_ERROR_PAGE)).into_response()
            }
        }
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match err {
        AppError::TooManyRequests { retry_after_secs } => {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        AppError::DatabaseUnavailable => {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(DATABASE_RETRY_AFTER_SECS),
            );
        }
        _ => {}
    }
    res
}

/// Shown if even the error template fails.
pub const FALLBACK_ERROR_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Something went wrong</title></head><body><main><h1>Something went wrong</h1>\
<p>Please try again.</p></main></body></html>";
