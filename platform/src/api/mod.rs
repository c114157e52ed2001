//! The JSON Admin API, `/admin/api/v1/...`: Shopify's resource shapes and field names so
//! merchants' scripts port easily, bearer tokens with scopes, and an OpenAPI document.
//!
//! Shopify's paths end in `.json`; both forms are served. Axum cannot match a suffix inside
//! a segment, so collection paths have explicit `.json` twins and `{id}` segments have the
//! suffix stripped by the handlers.

mod articles;
mod auth;
mod collections;
mod customers;
mod inventory;
mod openapi;
mod orders;
mod pages;
mod paging;
mod products;

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::error::{AppError, ErrorMarker};
use crate::routing::{Routes, get, post};

pub use auth::{ApiClient, ApiError};

/// The Admin API routes (store hosts only).
pub fn router() -> Routes {
    Routes::new()
        .merge(orders::router())
        .merge(customers::router())
        .route(
            "/admin/api/v1/products",
            get(products::list_products).post(products::create_product),
        )
        .route(
            "/admin/api/v1/products.json",
            get(products::list_products).post(products::create_product),
        )
        .route(
            "/admin/api/v1/products/count",
            get(products::count_products),
        )
        .route(
            "/admin/api/v1/products/count.json",
            get(products::count_products),
        )
        .route(
            "/admin/api/v1/products/{id}",
            get(products::show_product)
                .put(products::update_product)
                .delete(products::delete_product),
        )
        .route(
            "/admin/api/v1/pages",
            get(pages::list_pages).post(pages::create_page),
        )
        .route(
            "/admin/api/v1/pages.json",
            get(pages::list_pages).post(pages::create_page),
        )
        .route("/admin/api/v1/pages/count", get(pages::count_pages))
        .route("/admin/api/v1/pages/count.json", get(pages::count_pages))
        .route(
            "/admin/api/v1/pages/{id}",
            get(pages::show_page)
                .put(pages::update_page)
                .delete(pages::delete_page),
        )
        .route("/admin/api/v1/blogs", get(articles::list_blogs))
        .route("/admin/api/v1/blogs.json", get(articles::list_blogs))
        .route(
            "/admin/api/v1/blogs/{blog_id}/articles",
            get(articles::list_articles).post(articles::create_article),
        )
        .route(
            "/admin/api/v1/blogs/{blog_id}/articles.json",
            get(articles::list_articles).post(articles::create_article),
        )
        .route(
            "/admin/api/v1/blogs/{blog_id}/articles/{id}",
            get(articles::show_article)
                .put(articles::update_article)
                .delete(articles::delete_article),
        )
        .route(
            "/admin/api/v1/custom_collections",
            get(collections::list_custom_collections),
        )
        .route(
            "/admin/api/v1/custom_collections.json",
            get(collections::list_custom_collections),
        )
        .route(
            "/admin/api/v1/custom_collections/{id}",
            get(collections::show_custom_collection),
        )
        .route(
            "/admin/api/v1/smart_collections",
            get(collections::list_smart_collections),
        )
        .route(
            "/admin/api/v1/smart_collections.json",
            get(collections::list_smart_collections),
        )
        .route(
            "/admin/api/v1/smart_collections/{id}",
            get(collections::show_smart_collection),
        )
        .route(
            "/admin/api/v1/collections/{id}",
            get(collections::show_collection),
        )
        .route(
            "/admin/api/v1/inventory_levels",
            get(inventory::list_inventory_levels),
        )
        .route(
            "/admin/api/v1/inventory_levels.json",
            get(inventory::list_inventory_levels),
        )
        .route(
            "/admin/api/v1/inventory_levels/set",
            post(inventory::set_inventory_level),
        )
        .route(
            "/admin/api/v1/inventory_levels/set.json",
            post(inventory::set_inventory_level),
        )
        .route("/admin/api/v1/openapi.json", get(openapi::serve_openapi))
        .layer(from_fn(shape_errors))
}

/// Words for an API error beyond what [`AppError`] says (which token scope is missing, how
/// to authenticate), carried in the response's extensions to [`shape_errors`].
#[derive(Clone, Debug)]
struct ErrorDetail {
    message: String,
    required_scope: Option<&'static str>,
}

/// Renders the API's client errors: the platform's JSON envelope (`{"error": {code,
/// message, fields, request_id}}`) plus Shopify's top-level `errors` (the fields by name for
/// a 422, the message otherwise), which existing scripts read. Internal errors are left to
/// the platform's renderer, which logs them.
async fn shape_errors(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let res = next.run(req).await;
    let Some(ErrorMarker(err)) = res.extensions().get::<ErrorMarker>().cloned() else {
        return res;
    };
    if matches!(*err, AppError::Internal(_)) {
        return res;
    }
    let detail = res.extensions().get::<ErrorDetail>().cloned();
    let message = detail
        .as_ref()
        .map_or_else(|| err.public_message(), |d| d.message.clone());
    let mut fields = BTreeMap::<&str, Vec<&str>>::new();
    if let AppError::Invalid(list) = &*err {
        for (f, m) in list {
            fields.entry(f.as_str()).or_default().push(m.as_str());
        }
    }
    let mut error = serde_json::json!({
        "code": err.code(),
        "message": message,
        "request_id": request_id,
    });
    if !fields.is_empty() {
        error["fields"] = serde_json::json!(fields);
    }
    if let Some(scope) = detail.and_then(|d| d.required_scope) {
        error["required_scope"] = scope.into();
    }
    let errors = if fields.is_empty() {
        serde_json::json!(message)
    } else {
        serde_json::json!(fields)
    };
    let body = serde_json::json!({ "error": error, "errors": errors }).to_string();
    let (mut parts, _) = res.into_parts();
    // Rendered here: the platform's renderer must leave it alone.
    parts.extensions.remove::<ErrorMarker>();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(parts, Body::from(body))
}

/// A request body to be read as JSON. It is parsed by the handler with [`JsonBody::parse`]
/// after the token's scope is checked, so a caller without the scope learns nothing about
/// the body; every failure is an [`AppError`] naming the problem, never axum's plain text.
pub struct JsonBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|e| {
                use axum::extract::rejection::BytesRejection;
                match e {
                    e if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        AppError::PayloadTooLarge(format!(
                            "The request body is larger than {} MB.",
                            crate::input::MAX_FORM_BYTES / (1024 * 1024)
                        ))
                        .into()
                    }
                    BytesRejection::FailedToBufferBody(e) => {
                        crate::input::body_error(&axum::Error::new(e)).into()
                    }
                    other => AppError::BadRequest(format!(
                        "The request body could not be read: {}",
                        other.body_text()
                    ))
                    .into(),
                }
            })
    }
}

impl JsonBody {
    /// Parses the body. Malformed JSON is a 400 saying where it broke; well-formed JSON of
    /// the wrong shape is a 422 naming the field (`variants[0].grams`), with `wrapper` (the
    /// `product` of `{"product": {...}}`) left off the name.
    pub fn parse<T: DeserializeOwned>(&self, wrapper: Option<&str>) -> Result<T, ApiError> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Err(AppError::BadRequest(
                "The request body is empty: send a JSON object.".into(),
            )
            .into());
        }
        check_text(&self.0, wrapper)?;
        let mut de = serde_json::Deserializer::from_slice(&self.0);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            if inner.is_data() {
                let path = e.path().to_string();
                let field = match wrapper {
                    Some(w) if path == w => path.clone(),
                    Some(w) => path
                        .strip_prefix(w)
                        .and_then(|p| p.strip_prefix('.'))
                        .map_or_else(|| path.clone(), str::to_owned),
                    None => path.clone(),
                };
                let field = if field.is_empty() || field == "." {
                    "body".to_owned()
                } else {
                    field
                };
                AppError::invalid(field, strip_position(&inner.to_string()))
            } else {
                AppError::BadRequest(format!("The request body is not valid JSON: {inner}"))
            }
        })?;
        de.end().map_err(|e| {
            AppError::BadRequest(format!("The request body is not valid JSON: {e}"))
        })?;
        Ok(value)
    }
}

/// Refuses text PostgreSQL cannot store (see [`crate::input`]) anywhere in the document,
/// naming the field as the typed parse would: a NUL in a string or key, or a lone UTF-16
/// surrogate escaped in a string (`"\ud800"`, which is no character at all). A document
/// that is not JSON is left to the typed parse to describe.
fn check_text(body: &[u8], wrapper: Option<&str>) -> Result<(), ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, serde_json::Value>(&mut de) {
        Ok(doc) => crate::input::check_json(&doc, wrapper).map_err(ApiError::from),
        Err(e) => {
            let message = e.inner().to_string();
            // serde_json's two errors for an escaped surrogate without its other half.
            let lone_surrogate = message.starts_with("lone leading surrogate in hex escape")
                || message.starts_with("unexpected end of hex escape");
            if !lone_surrogate {
                return Ok(());
            }
            let path: Vec<crate::input::Step> = e
                .path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Map { key } => {
                        Some(crate::input::Step::Key(key.clone()))
                    }
                    serde_path_to_error::Segment::Seq { index } => {
                        Some(crate::input::Step::Index(*index))
                    }
                    _ => None,
                })
                .collect();
            Err(AppError::invalid(
                crate::input::json_field(&path, wrapper),
                "contains an unpaired UTF-16 surrogate escape (such as \\ud800), which is not a character",
            )
            .into())
        }
    }
}

/// serde_json ends data errors with " at line 1 column 42", which means nothing next to a
/// field name.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The `{id}` of a path such as `/products/{id}.json`: the suffix is dropped, and anything
/// that is not an id is simply not found (it could never name a row).
fn path_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    let raw = raw.strip_suffix(".json").unwrap_or(raw);
    uuid::Uuid::parse_str(raw).map_err(|_| AppError::NotFound.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_may_carry_the_json_suffix() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(path_id(&format!("{id}.json")).ok(), Some(id));
        assert_eq!(path_id(&id.to_string()).ok(), Some(id));
        assert!(path_id("count.jsonx").is_err());
    }

    #[test]
    fn positions_are_dropped_from_messages() {
        assert_eq!(
            strip_position("invalid type: string \"x\", expected i32 at line 1 column 9"),
            "invalid type: string \"x\", expected i32"
        );
    }
}
