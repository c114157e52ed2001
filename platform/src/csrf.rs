//! CSRF protection for every form: a per-session token that each unsafe request must carry
//! (form field `_csrf`, header `x-csrf-token`, or `?_csrf=` for multipart forms), plus a
//! check of what the browser says of where the request comes from (`Sec-Fetch-Site`, else
//! `Origin`).

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
const MAX_FORM_BYTES: usize = crate::input::MAX_FORM_BYTES;

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
        // No token to vouch for an opaque origin: only this host, or no browser at all.
        if !matches!(source(&req), Source::ThisHost | Source::Unsaid) {
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
    // An opaque origin passes here only to have its token checked: the session's token is
    // in no page but this host's own.
    if source(&req) == Source::Elsewhere {
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

/// Where the browser says an unsafe request comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// A page of this very host (or the person's own action, such as a bookmark).
    ThisHost,
    /// Nothing said: not a browser (curl, an API client) or a very old one.
    Unsaid,
    /// `Origin: null`: an opaque origin. Chromium sends it for a form on a page served with
    /// `Referrer-Policy: no-referrer` (the order and payment pages, whose address is a
    /// secret) when the site is not on HTTPS, where it sends no `Sec-Fetch-Site`; but a
    /// sandboxed frame or a `data:` page elsewhere sends it too.
    Opaque,
    /// Another host: every other store is a sibling subdomain of the platform domain, so
    /// "same site" is elsewhere too.
    Elsewhere,
}

/// Reads `Sec-Fetch-Site` when the browser sends it (every current browser does, over
/// HTTPS), otherwise `Origin`.
fn source(req: &Request) -> Source {
    let get = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") {
            Source::ThisHost
        } else {
            Source::Elsewhere
        };
    }
    let Some(origin) = get(header::ORIGIN.as_str()) else {
        return Source::Unsaid;
    };
    if origin == "null" {
        return Source::Opaque;
    }
    let host = get(header::HOST.as_str()).unwrap_or("");
    match origin.split_once("://") {
        Some((_, origin_host)) if origin_host.trim_end_matches('/').eq_ignore_ascii_case(host) => {
            Source::ThisHost
        }
        _ => Source::Elsewhere,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(headers: &[(&str, &str)]) -> Request {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/cart/add")
            .header(header::HOST, "alpha.storefront.test");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.body(Body::empty()).unwrap()
    }

    #[test]
    fn the_browser_says_where_a_form_comes_from() {
        for (headers, expected) in [
            // Chromium over HTTPS, from an ordinary page and from a `no-referrer` page.
            (
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "https://alpha.storefront.test"),
                ][..],
                Source::ThisHost,
            ),
            (
                &[("sec-fetch-site", "same-origin"), ("origin", "null")][..],
                Source::ThisHost,
            ),
            (&[("sec-fetch-site", "none")][..], Source::ThisHost),
            // Over plain HTTP: no Fetch Metadata.
            (
                &[("origin", "http://alpha.storefront.test")][..],
                Source::ThisHost,
            ),
            (
                &[("origin", "http://ALPHA.storefront.test/")][..],
                Source::ThisHost,
            ),
            (&[("origin", "null")][..], Source::Opaque),
            (&[][..], Source::Unsaid),
            // Another store is a sibling subdomain: same site, not same origin.
            (
                &[
                    ("sec-fetch-site", "same-site"),
                    ("origin", "https://evil.storefront.test"),
                ][..],
                Source::Elsewhere,
            ),
            (
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://evil.example"),
                ][..],
                Source::Elsewhere,
            ),
            // Fetch Metadata wins over an Origin that looks right.
            (
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://alpha.storefront.test"),
                ][..],
                Source::Elsewhere,
            ),
            (&[("origin", "https://evil.example")][..], Source::Elsewhere),
            (
                &[("origin", "http://alpha.storefront.test.evil.example")][..],
                Source::Elsewhere,
            ),
            (
                &[("origin", "alpha.storefront.test")][..],
                Source::Elsewhere,
            ),
        ] {
            assert_eq!(source(&post(headers)), expected, "{headers:?}");
        }
    }
}
