//! `/admin/api/v1/pages`: pages in Shopify's shape (`{"page": {...}}`; `published_at` is
//! null while a page is hidden), plus what the content resources share: page-size and
//! cursor parameters, the `Link` header and ETagged single responses.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tenant_store::catalog::BodyFormat;
use tenant_store::content::pages::{self, Page, PageInput};
use tenant_store::{StoreError, TenantTx, audit};
use utoipa::ToSchema;
use uuid::Uuid;

use super::paging::Paging;
use super::{ApiClient, ApiError, JsonBody, path_id};
use crate::api_tokens::Scope;
use crate::app::AppState;
use crate::error::AppError;

/// A page as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageJson {
    /// Identifier.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// URL handle (`/pages/{handle}` on the storefront).
    pub handle: String,
    /// The content as sanitized HTML.
    pub body_html: String,
    /// Shown to shoppers.
    pub published: bool,
    /// When it was first shown; null while the page is hidden (as in Shopify).
    pub published_at: Option<DateTime<Utc>>,
    /// Title for search engines.
    pub metafields_global_title_tag: String,
    /// Description for search engines.
    pub metafields_global_description_tag: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `{"page": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageEnvelope {
    /// The page.
    pub page: PageJson,
}

/// `{"pages": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageList {
    /// The page of pages, in creation order.
    pub pages: Vec<PageJson>,
}

/// `{"count": N}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageCount {
    /// How many pages the store has.
    pub count: i64,
}

/// What a create or update request sends: `{"page": {...}}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PageRequest {
    /// The fields to set.
    pub page: PageFields,
}

/// Page fields a request may set. On update, fields left out keep their values; read-only
/// fields (`id`, `created_at`, ...) are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PageFields {
    /// Title (required on create).
    pub title: Option<String>,
    /// URL handle; made from the title when left out on create. A changed handle keeps the
    /// old address working.
    pub handle: Option<String>,
    /// Content as HTML (sanitized when stored).
    pub body_html: Option<String>,
    /// Shown to shoppers (default on create: true, as in Shopify).
    pub published: Option<bool>,
    /// When it is shown from; null hides the page.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub published_at: Option<Option<DateTime<Utc>>>,
    /// Title for search engines.
    pub metafields_global_title_tag: Option<String>,
    /// Description for search engines.
    pub metafields_global_description_tag: Option<String>,
}

/// Tells a field sent as null (`Some(None)`) from one left out (`None`).
pub(super) fn nullable<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Whether something is shown, from `published` and `published_at` as sent: `published`
/// wins; a time makes it shown and null hides it; otherwise `default`.
pub(super) fn published_from(
    published: Option<bool>,
    published_at: Option<Option<DateTime<Utc>>>,
    default: bool,
) -> (bool, Option<DateTime<Utc>>) {
    let at = published_at.flatten();
    match (published, published_at) {
        (Some(p), _) => (p, at),
        (None, Some(Some(_))) => (true, at),
        (None, Some(None)) => (false, None),
        (None, None) => (default, None),
    }
}

/// The API's view of a page.
pub fn page_json(p: &Page) -> PageJson {
    PageJson {
        id: p.id,
        title: p.title.clone(),
        handle: p.handle.clone(),
        body_html: p.body_html.clone(),
        published: p.published,
        published_at: p.published.then_some(p.published_at).flatten(),
        metafields_global_title_tag: p.seo_title.clone(),
        metafields_global_description_tag: p.seo_description.clone(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// Request fields over the page as it is (`existing`, on update).
fn page_input(existing: Option<&Page>, f: PageFields) -> PageInput {
    let (body, body_format) = match f.body_html {
        Some(html) => (html, BodyFormat::Html),
        None => existing.map_or_else(Default::default, |p| (p.body_source.clone(), p.body_format)),
    };
    let (published, published_at) = published_from(
        f.published,
        f.published_at,
        existing.is_none_or(|p| p.published),
    );
    let keep = |get: fn(&Page) -> &String| existing.map(|p| get(p).clone()).unwrap_or_default();
    PageInput {
        title: f.title.unwrap_or_else(|| keep(|p| &p.title)),
        handle: f.handle,
        body,
        body_format,
        published,
        published_at,
        seo_title: f
            .metafields_global_title_tag
            .unwrap_or_else(|| keep(|p| &p.seo_title)),
        seo_description: f
            .metafields_global_description_tag
            .unwrap_or_else(|| keep(|p| &p.seo_description)),
    }
}

/// The domain's field names as the API's (`seo_title` is `metafields_global_title_tag`).
fn api_field_names(e: StoreError) -> ApiError {
    match e {
        StoreError::Fields(fields) => AppError::Invalid(
            fields
                .into_iter()
                .map(|(f, m)| match f.as_str() {
                    "seo_title" => ("metafields_global_title_tag".to_owned(), m),
                    "seo_description" => ("metafields_global_description_tag".to_owned(), m),
                    _ => (f, m),
                })
                .collect(),
        )
        .into(),
        other => other.into(),
    }
}

/// One resource as JSON with a weak `ETag` that changes whenever the body does; with
/// `request` (a GET's headers), a matching `If-None-Match` gives 304.
pub(super) fn etagged(
    status: StatusCode,
    body: &impl Serialize,
    request: Option<&HeaderMap>,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(body).map_err(anyhow::Error::from)?;
    let tag = format!("W/\"{}\"", hex::encode(&Sha256::digest(&body)[..12]));
    let tag = HeaderValue::from_str(&tag).map_err(anyhow::Error::from)?;
    let matches = request.is_some_and(|h| {
        h.get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || Some(t) == tag.to_str().ok().map(|s| s.trim_start_matches("W/")))
    });
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    Ok((
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, tag),
        ],
        body,
    )
        .into_response())
}

/// Records an API client's change in the audit log (`details`: the record's id and title)
/// and commits it with the change.
pub(super) async fn commit_audited(
    mut tx: TenantTx,
    actor: &str,
    action: &str,
    subject: &str,
    (id, title): (Uuid, &str),
) -> Result<(), ApiError> {
    let details = serde_json::json!({ "id": id, "title": title });
    audit::record(&mut tx, actor, action, subject, details).await?;
    tx.commit().await?;
    Ok(())
}

/// `GET /admin/api/v1/pages.json`: a page of pages, in creation order.
#[utoipa::path(
    get,
    path = "/admin/api/v1/pages",
    tag = "pages",
    params(
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 250 (default 50)"),
        ("page_info" = Option<String>, Query, description = "Cursor from the previous page's `Link` header"),
    ),
    responses(
        (status = 200, description = "Pages; a `Link: <...>; rel=\"next\"` header points at the next ones", body = PageList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:read"),
        (status = 422, description = "A bad `limit` or `page_info`"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_pages(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(Scope::ContentRead)?;
    let paging = Paging::parse(uri.query())?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let (list, next) = pages::list_pages(&mut tx, paging.page_info, paging.limit).await?;
    tx.commit().await?;
    let body = PageList {
        pages: list.iter().map(page_json).collect(),
    };
    Ok(paging.respond(&app, &headers, &uri, next, body))
}

/// `GET /admin/api/v1/pages/count.json`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/pages/count",
    tag = "pages",
    responses(
        (status = 200, description = "How many pages the store has", body = PageCount),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:read"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn count_pages(
    State(app): State<AppState>,
    client: ApiClient,
) -> Result<axum::Json<PageCount>, ApiError> {
    client.require(Scope::ContentRead)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let count = pages::count_pages(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(PageCount { count }))
}

/// `GET /admin/api/v1/pages/{id}.json`, with an `ETag` (`If-None-Match` gives 304).
#[utoipa::path(
    get,
    path = "/admin/api/v1/pages/{id}",
    tag = "pages",
    params(("id" = Uuid, Path, description = "The page's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "The page", body = PageEnvelope),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:read"),
        (status = 404, description = "No such page in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn show_page(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(Scope::ContentRead)?;
    let id = path_id(&id)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let page = pages::get_page(&mut tx, id).await?;
    tx.commit().await?;
    let body = PageEnvelope {
        page: page_json(&page),
    };
    etagged(StatusCode::OK, &body, Some(&headers))
}

/// `POST /admin/api/v1/pages.json`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/pages",
    tag = "pages",
    request_body = PageRequest,
    responses(
        (status = 201, description = "The page as created", body = PageEnvelope),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:write"),
        (status = 422, description = "Fields failed validation; `errors` names each field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn create_page(
    State(app): State<AppState>,
    client: ApiClient,
    body: JsonBody,
) -> Result<Response, ApiError> {
    client.require(Scope::ContentWrite)?;
    let request: PageRequest = body.parse(Some("page"))?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let page = pages::create_page(&mut tx, page_input(None, request.page))
        .await
        .map_err(api_field_names)?;
    let record = (page.id, page.title.as_str());
    commit_audited(tx, &actor, "page.create", &page.handle, record).await?;
    etagged(
        StatusCode::CREATED,
        &PageEnvelope {
            page: page_json(&page),
        },
        None,
    )
}

/// `PUT /admin/api/v1/pages/{id}.json`: changes the fields sent, keeps the others.
#[utoipa::path(
    put,
    path = "/admin/api/v1/pages/{id}",
    tag = "pages",
    params(("id" = Uuid, Path, description = "The page's id (a `.json` suffix is accepted)")),
    request_body = PageRequest,
    responses(
        (status = 200, description = "The page as changed", body = PageEnvelope),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:write"),
        (status = 404, description = "No such page in this store"),
        (status = 422, description = "Fields failed validation; `errors` names each field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn update_page(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    client.require(Scope::ContentWrite)?;
    let id = path_id(&id)?;
    let request: PageRequest = body.parse(Some("page"))?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let existing = pages::get_page(&mut tx, id).await?;
    let input = page_input(Some(&existing), request.page);
    let page = pages::update_page(&mut tx, id, input)
        .await
        .map_err(api_field_names)?;
    let record = (page.id, page.title.as_str());
    commit_audited(tx, &actor, "page.update", &page.handle, record).await?;
    etagged(
        StatusCode::OK,
        &PageEnvelope {
            page: page_json(&page),
        },
        None,
    )
}

/// `DELETE /admin/api/v1/pages/{id}.json`: answers `{}`, as Shopify does.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/pages/{id}",
    tag = "pages",
    params(("id" = Uuid, Path, description = "The page's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "Deleted; the body is `{}`"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:write"),
        (status = 404, description = "No such page in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn delete_page(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    client.require(Scope::ContentWrite)?;
    let id = path_id(&id)?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let page = pages::get_page(&mut tx, id).await?;
    pages::delete_page(&mut tx, id).await?;
    let record = (page.id, page.title.as_str());
    commit_audited(tx, &actor, "page.delete", &page.handle, record).await?;
    Ok(axum::Json(serde_json::json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_and_published_at_decide_together() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(published_from(None, None, true), (true, None));
        assert_eq!(published_from(None, None, false), (false, None));
        assert_eq!(published_from(None, Some(Some(t)), false), (true, Some(t)));
        assert_eq!(published_from(None, Some(None), true), (false, None));
        assert_eq!(
            published_from(Some(false), Some(Some(t)), true),
            (false, Some(t))
        );
    }

    #[test]
    fn a_hidden_page_shows_no_publication_time() {
        let fields: PageFields =
            serde_json::from_value(serde_json::json!({"title": "About", "published": false}))
                .unwrap();
        let input = page_input(None, fields);
        assert!(!input.published);
        assert_eq!(input.body_format, BodyFormat::Html);
    }

    #[test]
    fn paging_refuses_bad_limits_and_cursors() {
        assert_eq!(Paging::parse(None).unwrap().limit, 50);
        assert_eq!(Paging::parse(Some("limit=3")).unwrap().limit, 3);
        assert!(Paging::parse(Some("limit=0")).is_err());
        assert!(Paging::parse(Some("page_info=zz")).is_err());
    }
}
