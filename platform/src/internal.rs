//! Endpoints for the machinery in front of the app, answered on every host: the reverse
//! proxy (Caddy) asks `/internal/tls/ask` before it obtains a certificate on demand.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::tenancy::hosts::Site;

/// `?domain=` as Caddy sends it.
#[derive(Deserialize)]
pub struct AskQuery {
    domain: Option<String>,
}

/// `GET /internal/tls/ask?domain=D`: 200 when D is served here (the platform domain, a
/// store's subdomain, a verified custom domain), 404 otherwise, so that nobody can make the
/// proxy request certificates for names that are not ours (and exhaust its rate limits).
/// Answered from the host resolver's cache: Caddy asks on every new TLS handshake name.
pub async fn ask_tls(
    State(app): State<AppState>,
    Query(q): Query<AskQuery>,
) -> Result<Response, AppError> {
    let domain = q.domain.unwrap_or_default();
    if domain.trim().is_empty() {
        return Err(AppError::BadRequest(
            "The domain query parameter is required (?domain=shop.example.com).".into(),
        ));
    }
    let answer = match app.hosts.resolve(&domain).await? {
        Site::Platform | Site::Store(_) => (StatusCode::OK, "ok: served here\n"),
        Site::Unknown => (StatusCode::NOT_FOUND, "no store is served at this domain\n"),
    };
    Ok(answer.into_response())
}
