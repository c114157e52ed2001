//! Blogs and their articles: every store has the blog `news` (`/blogs/news`); articles are
//! written in HTML or Markdown and shown newest first once published.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Found, IdCursor, check_handle, check_seo, check_title, format_str};
use crate::catalog::{BodyFormat, Handle, render_body};
use crate::{StoreError, outbox};

/// Columns of `articles a` joined with `blogs b` read into an [`Article`].
const COLUMNS: &str = "a.id, a.blog_id, b.handle AS blog_handle, a.handle, a.title, a.author, \
     a.body_source, a.body_format, a.body_html, a.summary_html, a.tags, a.image_url, a.published, \
     a.published_at, a.seo_title, a.seo_description, a.created_at, a.updated_at";
/// Longest image URL accepted.
const MAX_URL_LEN: usize = 2048;
/// Longest author name, in characters.
const MAX_AUTHOR_CHARS: usize = 255;

/// A blog.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Blog {
    /// Identifier.
    pub id: Uuid,
    /// URL handle (`/blogs/{handle}`).
    pub handle: String,
    /// Title.
    pub title: String,
}

/// What the merchant (form or API) sends to create or replace an article.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ArticleInput {
    /// Title; required.
    pub title: String,
    /// Handle; made from the title when empty (on update: kept).
    pub handle: Option<String>,
    /// Who wrote it.
    pub author: String,
    /// The body as written.
    pub body: String,
    /// How `body` is written.
    pub body_format: BodyFormat,
    /// The excerpt for the blog's list, as HTML (sanitized).
    pub summary: String,
    /// Tags (trimmed; duplicates and blanks dropped).
    pub tags: Vec<String>,
    /// An image for the article: an `http(s)` URL or a path on the store; empty for none.
    pub image_url: String,
    /// Shown to shoppers.
    pub published: bool,
    /// When it is shown from (`None`: when first published), for back-dating or scheduling.
    pub published_at: Option<DateTime<Utc>>,
    /// Title for search engines (empty: the title).
    pub seo_title: String,
    /// Description for search engines.
    pub seo_description: String,
}

/// An article as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Article {
    /// Identifier.
    pub id: Uuid,
    /// Its blog.
    pub blog_id: Uuid,
    /// Its blog's handle.
    pub blog_handle: String,
    /// URL handle (`/blogs/{blog_handle}/{handle}`).
    pub handle: String,
    /// Title.
    pub title: String,
    /// Who wrote it.
    pub author: String,
    /// The body as the merchant wrote it.
    pub body_source: String,
    /// How it was written (`html` or `markdown`).
    pub body_format: BodyFormat,
    /// The sanitized HTML shown to shoppers.
    pub body_html: String,
    /// The excerpt (sanitized HTML).
    pub summary_html: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Image URL, if any.
    pub image_url: Option<String>,
    /// Shown to shoppers (from `published_at` on).
    pub published: bool,
    /// When it was (or will be) first shown.
    pub published_at: Option<DateTime<Utc>>,
    /// Title for search engines.
    pub seo_title: String,
    /// Description for search engines.
    pub seo_description: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// An article in a list (the blog's page, the admin).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ArticleSummary {
    /// Identifier.
    pub id: Uuid,
    /// URL handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Who wrote it.
    pub author: String,
    /// The excerpt (sanitized HTML).
    pub summary_html: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Image URL, if any.
    pub image_url: Option<String>,
    /// Shown to shoppers.
    pub published: bool,
    /// When it was (or will be) first shown.
    pub published_at: Option<DateTime<Utc>>,
}

/// A blog with one page of its published articles.
#[derive(Clone, Debug, Serialize)]
pub struct BlogPage {
    /// The blog.
    pub blog: Blog,
    /// Published articles, newest first.
    pub articles: Vec<ArticleSummary>,
    /// Where the next page starts, when there is one.
    #[serde(skip)]
    pub next: Option<ArticleCursor>,
}

/// A position in a blog's public list (newest first), as an opaque string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArticleCursor {
    published_at: DateTime<Utc>,
    id: Uuid,
}

impl ArticleCursor {
    /// The cursor as a URL-safe string.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.published_at.timestamp_micros(),
            self.id.simple()
        )
    }

    /// Reads a cursor; anything malformed is refused rather than guessed at.
    pub fn decode(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::invalid("page_info", "is not a valid page cursor");
        let (micros, id) = s.trim().split_once('.').ok_or_else(bad)?;
        Ok(Self {
            published_at: DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?)
                .ok_or_else(bad)?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

struct Valid {
    title: String,
    handle: Option<Handle>,
    body_html: String,
    summary_html: String,
    tags: Vec<String>,
    image_url: Option<String>,
}

fn validate(input: &ArticleInput) -> Result<Valid, StoreError> {
    let mut errors = Vec::new();
    let title = check_title(&input.title, &mut errors);
    let handle = check_handle(input.handle.as_deref(), &mut errors);
    check_seo(&input.seo_title, &input.seo_description, &mut errors);
    if input.author.trim().chars().count() > MAX_AUTHOR_CHARS {
        errors.push((
            "author".into(),
            format!("must be at most {MAX_AUTHOR_CHARS} characters"),
        ));
    }
    let image_url = match input.image_url.trim() {
        "" => None,
        u if u.len() > MAX_URL_LEN => {
            errors.push((
                "image_url".into(),
                format!("must be at most {MAX_URL_LEN} characters"),
            ));
            None
        }
        u if is_link(u) => Some(u.to_owned()),
        _ => {
            errors.push((
                "image_url".into(),
                "must be an http(s) address or a path starting with /".into(),
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    let mut seen = HashSet::new();
    Ok(Valid {
        title,
        handle,
        body_html: render_body(&input.body, input.body_format),
        summary_html: render_body(&input.summary, BodyFormat::Html),
        tags: input
            .tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
            .collect(),
        image_url,
    })
}

/// An `http(s)://` address with a host, or a path on the store (`/files/x.jpg`, not `//x`).
pub(crate) fn is_link(u: &str) -> bool {
    let lower = u.to_ascii_lowercase();
    let remote = ["https://", "http://"]
        .iter()
        .any(|p| lower.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
    let local = u.starts_with('/') && !u.starts_with("//");
    (remote || local) && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn conflict(e: sqlx::Error) -> StoreError {
    match e.as_database_error().and_then(|d| d.constraint()) {
        Some("articles_handle_key") => StoreError::Fields(vec![(
            "handle".into(),
            "is already used by another article in this blog".into(),
        )]),
        _ => StoreError::Database(e),
    }
}

async fn free_handle(
    conn: &mut PgConnection,
    blog_id: Uuid,
    title: &str,
) -> Result<Handle, StoreError> {
    let base = Handle::from_title(title);
    let taken: Vec<String> = sqlx::query_scalar(
        "SELECT handle FROM articles WHERE blog_id = $1 AND (handle = $2 OR handle LIKE $2 || '-%')",
    )
    .bind(blog_id)
    .bind(base.as_str())
    .fetch_all(&mut *conn)
    .await?;
    if !taken.iter().any(|t| t == base.as_str()) {
        return Ok(base);
    }
    let n = (2..)
        .find(|n| !taken.iter().any(|t| t == base.with_suffix(*n).as_str()))
        .unwrap_or(2);
    Ok(base.with_suffix(n))
}

fn event(a: &Article) -> serde_json::Value {
    serde_json::json!({
        "id": a.id, "blog_id": a.blog_id, "blog_handle": a.blog_handle, "handle": a.handle,
        "published": a.published,
    })
}

/// The blog with this handle.
pub async fn get_blog(conn: &mut PgConnection, handle: &str) -> Result<Blog, StoreError> {
    let blog: Option<Blog> =
        sqlx::query_as("SELECT id, handle, title FROM blogs WHERE handle = $1")
            .bind(handle)
            .fetch_optional(&mut *conn)
            .await?;
    blog.ok_or(StoreError::NotFound)
}

/// Every blog, by title.
pub async fn list_blogs(conn: &mut PgConnection) -> Result<Vec<Blog>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, handle, title FROM blogs ORDER BY lower(title), id")
            .fetch_all(conn)
            .await?,
    )
}

/// Writes an article into `blog_id`. Emits `article.created`.
pub async fn create_article(
    conn: &mut PgConnection,
    blog_id: Uuid,
    input: ArticleInput,
) -> Result<Article, StoreError> {
    let v = validate(&input)?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blogs WHERE id = $1)")
        .bind(blog_id)
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Err(StoreError::invalid(
            "blog_id",
            "is not a blog of this store",
        ));
    }
    let handle = match v.handle {
        Some(h) => h,
        None => free_handle(conn, blog_id, &v.title).await?,
    };
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO articles (id, blog_id, handle, title, author, body_source, body_format, body_html, \
         summary_html, tags, image_url, published, published_at, seo_title, seo_description) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(id)
    .bind(blog_id)
    .bind(handle.as_str())
    .bind(&v.title)
    .bind(input.author.trim())
    .bind(&input.body)
    .bind(format_str(input.body_format))
    .bind(&v.body_html)
    .bind(&v.summary_html)
    .bind(&v.tags)
    .bind(&v.image_url)
    .bind(input.published)
    .bind(super::publish_time(input.published, input.published_at, None))
    .bind(input.seo_title.trim())
    .bind(input.seo_description.trim())
    .execute(&mut *conn)
    .await
    .map_err(conflict)?;
    sqlx::query("DELETE FROM article_handle_redirects WHERE blog_id = $1 AND old_handle = $2")
        .bind(blog_id)
        .bind(handle.as_str())
        .execute(&mut *conn)
        .await?;
    let article = get_article(conn, id).await?;
    outbox::emit(conn, "article.created", event(&article)).await?;
    Ok(article)
}

/// Replaces an article's fields (it stays in its blog). A changed handle leaves a redirect
/// from the old one. Emits `article.updated`.
pub async fn update_article(
    conn: &mut PgConnection,
    id: Uuid,
    input: ArticleInput,
) -> Result<Article, StoreError> {
    let v = validate(&input)?;
    let old: Option<(Uuid, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT blog_id, handle, published_at FROM articles WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let (blog_id, old_handle, old_published_at) = old.ok_or(StoreError::NotFound)?;
    let handle = v
        .handle
        .map_or(old_handle.clone(), |h| h.as_str().to_owned());
    sqlx::query(
        "UPDATE articles SET handle = $2, title = $3, author = $4, body_source = $5, body_format = $6, \
         body_html = $7, summary_html = $8, tags = $9, image_url = $10, published = $11, \
         published_at = $12, seo_title = $13, seo_description = $14, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(&handle)
    .bind(&v.title)
    .bind(input.author.trim())
    .bind(&input.body)
    .bind(format_str(input.body_format))
    .bind(&v.body_html)
    .bind(&v.summary_html)
    .bind(&v.tags)
    .bind(&v.image_url)
    .bind(input.published)
    .bind(super::publish_time(
        input.published,
        input.published_at,
        old_published_at,
    ))
    .bind(input.seo_title.trim())
    .bind(input.seo_description.trim())
    .execute(&mut *conn)
    .await
    .map_err(conflict)?;
    if handle != old_handle {
        sqlx::query(
            "INSERT INTO article_handle_redirects (blog_id, old_handle, article_id) VALUES ($1, $2, $3) \
             ON CONFLICT (blog_id, old_handle) DO UPDATE SET article_id = EXCLUDED.article_id",
        )
        .bind(blog_id)
        .bind(&old_handle)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM article_handle_redirects WHERE blog_id = $1 AND old_handle = $2")
            .bind(blog_id)
            .bind(&handle)
            .execute(&mut *conn)
            .await?;
    }
    let article = get_article(conn, id).await?;
    outbox::emit(conn, "article.updated", event(&article)).await?;
    Ok(article)
}

/// Deletes an article. Emits `article.deleted`.
pub async fn delete_article(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let row: Option<(String, Uuid)> =
        sqlx::query_as("DELETE FROM articles WHERE id = $1 RETURNING handle, blog_id")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let (handle, blog_id) = row.ok_or(StoreError::NotFound)?;
    outbox::emit(
        conn,
        "article.deleted",
        serde_json::json!({ "id": id, "blog_id": blog_id, "handle": handle }),
    )
    .await
}

/// The article, published or not (for the admin and the API).
pub async fn get_article(conn: &mut PgConnection, id: Uuid) -> Result<Article, StoreError> {
    let row: Option<Article> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM articles a JOIN blogs b ON b.id = a.blog_id WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(StoreError::NotFound)
}

/// Every article of a blog, newest first (drafts by creation), for the admin.
pub async fn list_articles(
    conn: &mut PgConnection,
    blog_id: Uuid,
) -> Result<Vec<ArticleSummary>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, handle, title, author, summary_html, tags, image_url, published, published_at \
         FROM articles WHERE blog_id = $1 ORDER BY coalesce(published_at, created_at) DESC, id DESC",
    )
    .bind(blog_id)
    .fetch_all(conn)
    .await?)
}

/// Articles (of one blog, or all) in creation order after `after`, at most `limit` (1 to
/// 250), and the cursor of the next page when there is one (for the API).
pub async fn list_articles_page(
    conn: &mut PgConnection,
    blog_id: Option<Uuid>,
    after: Option<IdCursor>,
    limit: i64,
) -> Result<(Vec<Article>, Option<IdCursor>), StoreError> {
    let limit = limit.clamp(1, 250);
    let mut rows: Vec<Article> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM articles a JOIN blogs b ON b.id = a.blog_id \
         WHERE ($1::uuid IS NULL OR a.blog_id = $1) AND ($2::uuid IS NULL OR a.id > $2) \
         ORDER BY a.id LIMIT $3"
    ))
    .bind(blog_id)
    .bind(after.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| IdCursor(r.id))
    } else {
        None
    };
    Ok((rows, next))
}

/// The blog with this handle and a page of its published articles, newest first: at most
/// `limit` (1 to 100), after `after`.
pub async fn find_blog(
    conn: &mut PgConnection,
    handle: &str,
    after: Option<&ArticleCursor>,
    limit: i64,
) -> Result<BlogPage, StoreError> {
    let blog = get_blog(conn, handle).await?;
    let limit = limit.clamp(1, 100);
    let mut articles: Vec<ArticleSummary> = sqlx::query_as(
        "SELECT id, handle, title, author, summary_html, tags, image_url, published, published_at \
         FROM articles WHERE blog_id = $1 AND published AND published_at <= now() \
           AND ($2::timestamptz IS NULL OR (published_at, id) < ($2, $3)) \
         ORDER BY published_at DESC, id DESC LIMIT $4",
    )
    .bind(blog.id)
    .bind(after.map(|c| c.published_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let next = if articles.len() as i64 > limit {
        articles.truncate(limit as usize);
        articles.last().and_then(|a| {
            Some(ArticleCursor {
                published_at: a.published_at?,
                id: a.id,
            })
        })
    } else {
        None
    };
    Ok(BlogPage {
        blog,
        articles,
        next,
    })
}

/// The published article with this handle in the blog `blog_handle`, or where a former
/// handle of one now leads.
pub async fn find_published_article(
    conn: &mut PgConnection,
    blog_handle: &str,
    handle: &str,
) -> Result<Found<Article>, StoreError> {
    let row: Option<Article> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM articles a JOIN blogs b ON b.id = a.blog_id \
         WHERE b.handle = $1 AND a.handle = $2 AND a.published AND a.published_at <= now()"
    ))
    .bind(blog_handle)
    .bind(handle)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(a) = row {
        return Ok(Found::Item(Box::new(a)));
    }
    let moved: Option<String> = sqlx::query_scalar(
        "SELECT a.handle FROM article_handle_redirects r JOIN blogs b ON b.id = r.blog_id \
         JOIN articles a ON a.id = r.article_id \
         WHERE b.handle = $1 AND r.old_handle = $2 AND a.published AND a.published_at <= now()",
    )
    .bind(blog_handle)
    .bind(handle)
    .fetch_optional(&mut *conn)
    .await?;
    moved.map(Found::MovedTo).ok_or(StoreError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_links_are_http_or_local_paths() {
        for good in ["https://cdn.example/a.jpg", "http://x.y/z", "/files/a.png"] {
            assert!(is_link(good), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "//evil.example/a",
            "https://",
            "ftp://x",
            "/a b",
        ] {
            assert!(!is_link(bad), "{bad}");
        }
    }

    #[test]
    fn article_cursors_round_trip() {
        let c = ArticleCursor {
            published_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(ArticleCursor::decode(&c.encode()).unwrap(), c);
        assert!(ArticleCursor::decode("1.x").is_err());
    }
}
