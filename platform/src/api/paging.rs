//! Cursor pagination of Admin API lists, as Shopify's: `limit` (1 to 250, default 50),
//! `page_info` from the previous page, and a `Link: <...>; rel="next"` header.

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse as _, Response};
use serde::Serialize;
use tenant_store::content::IdCursor;

use crate::app::AppState;
use crate::error::AppError;
use crate::extract::request_base_url;

/// Page size when the request names none.
pub(super) const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
pub(super) const MAX_LIMIT: i64 = 250;

/// Reads a `limit` value.
pub(super) fn parse_limit(value: &str) -> Result<i64, AppError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            AppError::invalid("limit", format!("must be a number from 1 to {MAX_LIMIT}"))
        })
}

/// `body` as JSON; with `next` (the next page's query parameters), a `Link` header to it.
pub(super) fn json_with_next(
    app: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    next: Option<&[(&str, &str)]>,
    body: impl Serialize,
) -> Response {
    let mut res = axum::Json(body).into_response();
    if let Some(params) = next {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let link = format!(
            "<{}{}?{query}>; rel=\"next\"",
            request_base_url(app, headers),
            uri.path()
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    res
}

/// `limit` and `page_info` of a list keyed by id; other parameters are ignored.
pub(super) struct Paging {
    /// Page size.
    pub limit: i64,
    /// Where the page starts.
    pub page_info: Option<IdCursor>,
}

impl Paging {
    /// Reads `limit` and `page_info`.
    pub fn parse(query: Option<&str>) -> Result<Self, AppError> {
        let mut q = Self {
            limit: DEFAULT_LIMIT,
            page_info: None,
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "limit" => q.limit = parse_limit(&value)?,
                "page_info" => q.page_info = Some(IdCursor::decode(&value)?),
                _ => {}
            }
        }
        Ok(q)
    }

    /// `body` as JSON with a `Link` header to the page after `next`, if any.
    pub fn respond(
        &self,
        app: &AppState,
        headers: &HeaderMap,
        uri: &Uri,
        next: Option<IdCursor>,
        body: impl Serialize,
    ) -> Response {
        let limit = self.limit.to_string();
        let cursor = next.map(|n| n.encode());
        let params = cursor
            .as_deref()
            .map(|c| [("limit", limit.as_str()), ("page_info", c)]);
        json_with_next(app, headers, uri, params.as_ref().map(|p| &p[..]), body)
    }
}
