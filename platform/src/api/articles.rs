//! `/admin/api/v1/blogs` and `/admin/api/v1/blogs/{blog_id}/articles`: blogs and their
//! articles in Shopify's shape (`{"article": {...}}`, comma-separated tags, `image.src`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_store::StoreError;
use tenant_store::catalog::BodyFormat;
use tenant_store::content::blog::{self, Article, ArticleInput, Blog};
use utoipa::ToSchema;
use uuid::Uuid;

use super::pages::{commit_audited, etagged, nullable, published_from};
use super::paging::Paging;
use super::{ApiClient, ApiError, JsonBody, path_id};
use crate::api_tokens::Scope;
use crate::app::AppState;
use crate::error::AppError;

/// A blog as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlogJson {
    /// Identifier.
    pub id: Uuid,
    /// URL handle (`/blogs/{handle}`).
    pub handle: String,
    /// Title.
    pub title: String,
}

/// `{"blogs": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlogList {
    /// Every blog of the store.
    pub blogs: Vec<BlogJson>,
}

/// An article's image.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArticleImage {
    /// Its URL.
    pub src: String,
}

/// An article as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleJson {
    /// Identifier.
    pub id: Uuid,
    /// The blog it belongs to.
    pub blog_id: Uuid,
    /// Title.
    pub title: String,
    /// URL handle (`/blogs/{blog}/{handle}`).
    pub handle: String,
    /// Who wrote it.
    pub author: String,
    /// The content as sanitized HTML.
    pub body_html: String,
    /// The excerpt as sanitized HTML.
    pub summary_html: String,
    /// Tags, comma-separated.
    #[schema(example = "news, summer")]
    pub tags: String,
    /// The article's image, if any.
    pub image: Option<ArticleImage>,
    /// Shown to shoppers.
    pub published: bool,
    /// When it is shown from; null while it is hidden.
    pub published_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `{"article": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleEnvelope {
    /// The article.
    pub article: ArticleJson,
}

/// `{"articles": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleList {
    /// The blog's articles, in creation order.
    pub articles: Vec<ArticleJson>,
}

/// What a create or update request sends: `{"article": {...}}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ArticleRequest {
    /// The fields to set.
    pub article: ArticleFields,
}

/// Article fields a request may set; on update, fields left out keep their values.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ArticleFields {
    /// Title (required on create).
    pub title: Option<String>,
    /// URL handle; made from the title when left out on create.
    pub handle: Option<String>,
    /// Who wrote it.
    pub author: Option<String>,
    /// Content as HTML (sanitized when stored).
    pub body_html: Option<String>,
    /// The excerpt as HTML (sanitized when stored).
    pub summary_html: Option<String>,
    /// Tags, comma-separated.
    #[schema(example = "news, summer")]
    pub tags: Option<String>,
    /// `{"src": "https://..."}`, or null to remove it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<ArticleImage>)]
    pub image: Option<Option<ArticleImage>>,
    /// Shown to shoppers (default on create: true, as in Shopify).
    pub published: Option<bool>,
    /// When it is shown from; null hides it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub published_at: Option<Option<DateTime<Utc>>>,
}

fn blog_json(b: &Blog) -> BlogJson {
    BlogJson {
        id: b.id,
        handle: b.handle.clone(),
        title: b.title.clone(),
    }
}

/// The API's view of an article.
pub fn article_json(a: &Article) -> ArticleJson {
    ArticleJson {
        id: a.id,
        blog_id: a.blog_id,
        title: a.title.clone(),
        handle: a.handle.clone(),
        author: a.author.clone(),
        body_html: a.body_html.clone(),
        summary_html: a.summary_html.clone(),
        tags: a.tags.join(", "),
        image: a.image_url.clone().map(|src| ArticleImage { src }),
        published: a.published,
        published_at: a.published.then_some(a.published_at).flatten(),
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

/// Request fields over the article as it is (`existing`, on update).
fn article_input(existing: Option<&Article>, f: ArticleFields) -> ArticleInput {
    let keep = |get: fn(&Article) -> &String| existing.map(|a| get(a).clone()).unwrap_or_default();
    let (body, body_format) = match f.body_html {
        Some(html) => (html, BodyFormat::Html),
        None => existing.map_or_else(Default::default, |a| (a.body_source.clone(), a.body_format)),
    };
    let (published, published_at) = published_from(
        f.published,
        f.published_at,
        existing.is_none_or(|a| a.published),
    );
    ArticleInput {
        title: f.title.unwrap_or_else(|| keep(|a| &a.title)),
        handle: f.handle,
        author: f.author.unwrap_or_else(|| keep(|a| &a.author)),
        body,
        body_format,
        summary: f.summary_html.unwrap_or_else(|| keep(|a| &a.summary_html)),
        tags: match f.tags {
            Some(t) => t.split(',').map(str::to_owned).collect(),
            None => existing.map(|a| a.tags.clone()).unwrap_or_default(),
        },
        image_url: match f.image {
            Some(Some(img)) => img.src,
            Some(None) => String::new(),
            None => existing
                .and_then(|a| a.image_url.clone())
                .unwrap_or_default(),
        },
        published,
        published_at,
        seo_title: keep(|a| &a.seo_title),
        seo_description: keep(|a| &a.seo_description),
    }
}

/// The domain names the image `image_url`; the API calls it `image.src`.
fn api_field_names(e: StoreError) -> ApiError {
    match e {
        StoreError::Fields(fields) => AppError::Invalid(
            fields
                .into_iter()
                .map(|(f, m)| {
                    if f == "image_url" {
                        ("image.src".to_owned(), m)
                    } else {
                        (f, m)
                    }
                })
                .collect(),
        )
        .into(),
        other => other.into(),
    }
}

/// The blog with this id (`.json` accepted): another store's is not found.
async fn blog_by_id(conn: &mut sqlx::PgConnection, raw: &str) -> Result<Blog, ApiError> {
    let id = path_id(raw)?;
    blog::list_blogs(conn)
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| AppError::NotFound.into())
}

/// The article `raw_id` of the blog `raw_blog`: one of another blog is not found here.
async fn article_of(
    conn: &mut sqlx::PgConnection,
    raw_blog: &str,
    raw_id: &str,
) -> Result<Article, ApiError> {
    let blog = blog_by_id(conn, raw_blog).await?;
    let article = blog::get_article(conn, path_id(raw_id)?).await?;
    if article.blog_id != blog.id {
        return Err(AppError::NotFound.into());
    }
    Ok(article)
}

/// `GET /admin/api/v1/blogs.json`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/blogs",
    tag = "articles",
    responses(
        (status = 200, description = "The store's blogs", body = BlogList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:read"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_blogs(
    State(app): State<AppState>,
    client: ApiClient,
) -> Result<axum::Json<BlogList>, ApiError> {
    client.require(Scope::ContentRead)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let blogs = blog::list_blogs(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(BlogList {
        blogs: blogs.iter().map(blog_json).collect(),
    }))
}

/// `GET /admin/api/v1/blogs/{blog_id}/articles.json`: a page of the blog's articles.
#[utoipa::path(
    get,
    path = "/admin/api/v1/blogs/{blog_id}/articles",
    tag = "articles",
    params(
        ("blog_id" = Uuid, Path, description = "The blog's id"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 250 (default 50)"),
        ("page_info" = Option<String>, Query, description = "Cursor from the previous page's `Link` header"),
    ),
    responses(
        (status = 200, description = "Articles; a `Link: <...>; rel=\"next\"` header points at the next ones", body = ArticleList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:read"),
        (status = 404, description = "No such blog in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_articles(
    State(app): State<AppState>,
    client: ApiClient,
    Path(blog_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(Scope::ContentRead)?;
    let paging = Paging::parse(uri.query())?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let blog = blog_by_id(&mut tx, &blog_id).await?;
    let (list, next) =
        blog::list_articles_page(&mut tx, Some(blog.id), paging.page_info, paging.limit).await?;
    tx.commit().await?;
    let body = ArticleList {
        articles: list.iter().map(article_json).collect(),
    };
    Ok(paging.respond(&app, &headers, &uri, next, body))
}

/// `GET /admin/api/v1/blogs/{blog_id}/articles/{id}.json`, with an `ETag`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/blogs/{blog_id}/articles/{id}",
    tag = "articles",
    params(
        ("blog_id" = Uuid, Path, description = "The blog's id"),
        ("id" = Uuid, Path, description = "The article's id (a `.json` suffix is accepted)"),
    ),
    responses(
        (status = 200, description = "The article", body = ArticleEnvelope),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:read"),
        (status = 404, description = "No such article in this blog"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn show_article(
    State(app): State<AppState>,
    client: ApiClient,
    Path((blog_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(Scope::ContentRead)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let article = article_of(&mut tx, &blog_id, &id).await?;
    tx.commit().await?;
    let body = ArticleEnvelope {
        article: article_json(&article),
    };
    etagged(StatusCode::OK, &body, Some(&headers))
}

/// `POST /admin/api/v1/blogs/{blog_id}/articles.json`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/blogs/{blog_id}/articles",
    tag = "articles",
    params(("blog_id" = Uuid, Path, description = "The blog's id")),
    request_body = ArticleRequest,
    responses(
        (status = 201, description = "The article as created", body = ArticleEnvelope),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:write"),
        (status = 404, description = "No such blog in this store"),
        (status = 422, description = "Fields failed validation; `errors` names each field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn create_article(
    State(app): State<AppState>,
    client: ApiClient,
    Path(blog_id): Path<String>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    client.require(Scope::ContentWrite)?;
    let request: ArticleRequest = body.parse(Some("article"))?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let blog = blog_by_id(&mut tx, &blog_id).await?;
    let article = blog::create_article(&mut tx, blog.id, article_input(None, request.article))
        .await
        .map_err(api_field_names)?;
    let subject = format!("{}/{}", blog.handle, article.handle);
    let record = (article.id, article.title.as_str());
    commit_audited(tx, &actor, "article.create", &subject, record).await?;
    let body = ArticleEnvelope {
        article: article_json(&article),
    };
    etagged(StatusCode::CREATED, &body, None)
}

/// `PUT /admin/api/v1/blogs/{blog_id}/articles/{id}.json`: changes the fields sent.
#[utoipa::path(
    put,
    path = "/admin/api/v1/blogs/{blog_id}/articles/{id}",
    tag = "articles",
    params(
        ("blog_id" = Uuid, Path, description = "The blog's id"),
        ("id" = Uuid, Path, description = "The article's id (a `.json` suffix is accepted)"),
    ),
    request_body = ArticleRequest,
    responses(
        (status = 200, description = "The article as changed", body = ArticleEnvelope),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:write"),
        (status = 404, description = "No such article in this blog"),
        (status = 422, description = "Fields failed validation; `errors` names each field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn update_article(
    State(app): State<AppState>,
    client: ApiClient,
    Path((blog_id, id)): Path<(String, String)>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    client.require(Scope::ContentWrite)?;
    let request: ArticleRequest = body.parse(Some("article"))?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let existing = article_of(&mut tx, &blog_id, &id).await?;
    let input = article_input(Some(&existing), request.article);
    let article = blog::update_article(&mut tx, existing.id, input)
        .await
        .map_err(api_field_names)?;
    let subject = format!("{}/{}", article.blog_handle, article.handle);
    let record = (article.id, article.title.as_str());
    commit_audited(tx, &actor, "article.update", &subject, record).await?;
    let body = ArticleEnvelope {
        article: article_json(&article),
    };
    etagged(StatusCode::OK, &body, None)
}

/// `DELETE /admin/api/v1/blogs/{blog_id}/articles/{id}.json`: answers `{}`.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/blogs/{blog_id}/articles/{id}",
    tag = "articles",
    params(
        ("blog_id" = Uuid, Path, description = "The blog's id"),
        ("id" = Uuid, Path, description = "The article's id (a `.json` suffix is accepted)"),
    ),
    responses(
        (status = 200, description = "Deleted; the body is `{}`"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks content:write"),
        (status = 404, description = "No such article in this blog"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn delete_article(
    State(app): State<AppState>,
    client: ApiClient,
    Path((blog_id, id)): Path<(String, String)>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    client.require(Scope::ContentWrite)?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let article = article_of(&mut tx, &blog_id, &id).await?;
    blog::delete_article(&mut tx, article.id).await?;
    let subject = format!("{}/{}", article.blog_handle, article.handle);
    let record = (article.id, article.title.as_str());
    commit_audited(tx, &actor, "article.delete", &subject, record).await?;
    Ok(axum::Json(serde_json::json!({})))
}
