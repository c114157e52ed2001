//! CSRF protection for every form: a per-session token that each unsafe request must carry
//! (form field `_csrf`, header `x-csrf-token`, or `?_csrf=` for multipart forms), plus a
//! same-origin check on the `Origin` header when a browser sends one.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use tower_sessions::Session;

use crate::error::AppError;

/// Session key holding the token.
const SESSION_KEY: &str = "csrf";
/// Form field and query parameter carrying the token.
pub const FIELD: &str = "_csrf";
/// Largest form body read to find the token (bigger forms must use multipart).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// The session's CSRF token, created on first use; put it in every form.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session
        .get::<String>(SESSION_KEY)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
    {
        return Ok(t);
    }
    let t = crate::tokens::random_token();
    session
        .insert(SESSION_KEY, &t)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(t)
}

/// Shopper forms any visitor may post without a session: a product page must not start a
/// session (a database write) for every visitor just to carry a token. They change only
/// the poster's own cart or leave a message, so the `Origin` check (and SameSite=Lax
/// cookies) is their protection.
const SESSIONLESS_FORMS: [&str; 4] = ["/cart/add", "/cart/change", "/cart/remove", "/contact"];

/// Refuses unsafe requests without the session's token. Bearer-token API calls and
/// signed webhooks carry no cookies and are exempt.
pub async fn verify(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.uri().path().starts_with("/admin/api/")
        || req.uri().path().starts_with("/webhooks/")
    {
        return next.run(req).await;
    }
    if SESSIONLESS_FORMS.contains(&req.uri().path()) {
        if !same_origin(&req) {
            return AppError::CsrfRejected.into_response();
        }
        return next.run(req).await;
    }
    match check(req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn check(req: Request) -> Result<Request, AppError> {
    if !same_origin(&req) {
        return Err(AppError::CsrfRejected);
    }
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "CSRF check without a session layer"
        )));
    };
    let expected: Option<String> = session
        .get(SESSION_KEY)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let Some(expected) = expected else {
        return Err(AppError::CsrfRejected);
    };
    let from_header = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = req.uri().query().and_then(|q| field(q.as_bytes()));
    let (provided, req) = match from_header.or(from_query) {
        Some(t) => (Some(t), req),
        None if is_urlencoded(&req) => {
            let (parts, body) = req.into_parts();
            let bytes = to_bytes(body, MAX_FORM_BYTES)
                .await
                .map_err(|_| AppError::BadRequest("The form is too large.".into()))?;
            let token = field(&bytes);
            (token, Request::from_parts(parts, Body::from(bytes)))
        }
        None => (None, req),
    };
    match provided {
        Some(p) if constant_time_eq(p.as_bytes(), expected.as_bytes()) => Ok(req),
        _ => Err(AppError::CsrfRejected),
    }
}

fn is_urlencoded(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

fn field(encoded: &[u8]) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned())
}

/// A browser names the page a form was posted from; it must be this host.
fn same_origin(req: &Request) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    origin_host.eq_ignore_ascii_case(host)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
