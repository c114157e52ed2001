//! The merchant's content on the storefront: `/pages/{handle}`, `/blogs/{blog}` (a page
//! of published articles, newest first) and `/blogs/{blog}/{handle}`. Unpublished content
//! is a 404; a changed handle answers 301 to the current one.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tenant_store::StoreError;
use tenant_store::content::{self, Article, ArticleCursor, ArticleSummary, Blog, Found, Page};
use tower_sessions::Session;

use super::catalog::strip_tags;
use super::layout::{self, Shop};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};

/// Articles on a blog page.
const ARTICLES_PER_PAGE: i64 = 12;

#[derive(Serialize)]
struct PageView {
    shop: Shop,
    page: Page,
    description: String,
    canonical_url: String,
}

/// `GET /pages/{handle}`.
pub async fn show_page(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let page = match content::find_published_page(&mut tx, &handle).await? {
        Found::Item(p) => *p,
        Found::MovedTo(to) => {
            tx.end_read_only();
            return Ok(layout::moved(&format!("/pages/{to}")));
        }
    };
    let shop = Shop::load(&app, &mut tx, &session, base.clone()).await?;
    tx.end_read_only();
    let view = PageView {
        description: if page.seo_description.is_empty() {
            strip_tags(&page.body_html)
        } else {
            page.seo_description.clone()
        },
        canonical_url: format!("{base}/pages/{}", page.handle),
        shop,
        page,
    };
    layout::page(&app, &tenant, &headers, "store/page.html", &view).await
}

/// `?after=<cursor>` on a blog.
#[derive(Deserialize)]
pub struct BlogQuery {
    #[serde(default)]
    after: Option<String>,
}

#[derive(Serialize)]
struct BlogView {
    shop: Shop,
    blog: Blog,
    articles: Vec<ArticleSummary>,
    next_url: Option<String>,
    canonical_url: String,
}

/// `GET /blogs/{blog}`.
pub async fn show_blog(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(blog): Path<String>,
    Query(q): Query<BlogQuery>,
) -> Result<Response, AppError> {
    let after = match q.after.as_deref() {
        Some(c) => Some(ArticleCursor::decode(c).map_err(|_| AppError::NotFound)?),
        None => None,
    };
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let page = content::find_blog(&mut tx, &blog, after.as_ref(), ARTICLES_PER_PAGE).await?;
    let shop = Shop::load(&app, &mut tx, &session, base.clone()).await?;
    tx.end_read_only();
    let view = BlogView {
        next_url: page
            .next
            .map(|c| format!("/blogs/{}?after={}", page.blog.handle, c.encode())),
        canonical_url: format!("{base}/blogs/{}", page.blog.handle),
        shop,
        blog: page.blog,
        articles: page.articles,
    };
    layout::page(&app, &tenant, &headers, "store/blog.html", &view).await
}

#[derive(Serialize)]
struct ArticleView {
    shop: Shop,
    blog_handle: String,
    article: Article,
    description: String,
    canonical_url: String,
}

/// `GET /blogs/{blog}/{handle}`.
pub async fn show_article(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path((blog, handle)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let article = match content::find_published_article(&mut tx, &blog, &handle).await? {
        Found::Item(a) => *a,
        Found::MovedTo(to) => {
            tx.end_read_only();
            return Ok(layout::moved(&format!("/blogs/{blog}/{to}")));
        }
    };
    let shop = Shop::load(&app, &mut tx, &session, base.clone()).await?;
    tx.end_read_only();
    let view = ArticleView {
        description: if article.seo_description.is_empty() {
            strip_tags(if article.summary_html.is_empty() {
                &article.body_html
            } else {
                &article.summary_html
            })
        } else {
            article.seo_description.clone()
        },
        canonical_url: format!("{base}/blogs/{blog}/{}", article.handle),
        blog_handle: blog,
        shop,
        article,
    };
    layout::page(&app, &tenant, &headers, "store/article.html", &view).await
}

/// The latest published articles of the `news` blog, for the home page (none when the
/// store has no such blog).
pub async fn latest_news(
    conn: &mut sqlx::PgConnection,
    limit: i64,
) -> Result<Vec<ArticleSummary>, AppError> {
    match content::find_blog(conn, "news", None, limit).await {
        Ok(page) => Ok(page.articles),
        Err(StoreError::NotFound) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}
