//! Pages: About, Shipping & returns, FAQ... written in HTML or Markdown, shown at
//! `/pages/{handle}` once published.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Found, IdCursor, check_handle, check_seo, check_title, format_str};
use crate::catalog::{BodyFormat, Handle, render_body};
use crate::{StoreError, outbox};

/// Columns of `pages` read into a [`Page`] (named: never `SELECT *`).
const COLUMNS: &str = "id, handle, title, body_source, body_format, body_html, published, \
     published_at, seo_title, seo_description, created_at, updated_at";

/// What the merchant (form or API) sends to create or replace a page.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PageInput {
    /// Title; required.
    pub title: String,
    /// Handle; made from the title when empty (on update: kept).
    pub handle: Option<String>,
    /// The body as written.
    pub body: String,
    /// How `body` is written.
    pub body_format: BodyFormat,
    /// Shown to shoppers.
    pub published: bool,
    /// When it is shown from (`None`: when first published).
    pub published_at: Option<DateTime<Utc>>,
    /// Title for search engines (empty: the title).
    pub seo_title: String,
    /// Description for search engines.
    pub seo_description: String,
}

/// A page as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Page {
    /// Identifier.
    pub id: Uuid,
    /// URL handle (`/pages/{handle}`).
    pub handle: String,
    /// Title.
    pub title: String,
    /// The body as the merchant wrote it.
    pub body_source: String,
    /// How it was written.
    pub body_format: BodyFormat,
    /// The sanitized HTML shown to shoppers.
    pub body_html: String,
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

/// A page in the admin list.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct PageSummary {
    /// Identifier.
    pub id: Uuid,
    /// Handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Shown to shoppers.
    pub published: bool,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

struct Valid {
    title: String,
    handle: Option<Handle>,
    body_html: String,
}

fn validate(input: &PageInput) -> Result<Valid, StoreError> {
    let mut errors = Vec::new();
    let title = check_title(&input.title, &mut errors);
    let handle = check_handle(input.handle.as_deref(), &mut errors);
    check_seo(&input.seo_title, &input.seo_description, &mut errors);
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    Ok(Valid {
        title,
        handle,
        body_html: render_body(&input.body, input.body_format),
    })
}

fn conflict(e: sqlx::Error) -> StoreError {
    match e.as_database_error().and_then(|d| d.constraint()) {
        Some("pages_handle_key") => StoreError::Fields(vec![(
            "handle".into(),
            "is already used by another page".into(),
        )]),
        _ => StoreError::Database(e),
    }
}

/// A free handle made from `title` (`about`, `about-2`, ...).
async fn free_handle(
    conn: &mut PgConnection,
    title: &str,
    except: Option<Uuid>,
) -> Result<Handle, StoreError> {
    let base = Handle::from_title(title);
    let taken: Vec<String> = sqlx::query_scalar(
        "SELECT handle FROM pages WHERE (handle = $1 OR handle LIKE $1 || '-%') \
         AND id IS DISTINCT FROM $2",
    )
    .bind(base.as_str())
    .bind(except)
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

fn event(p: &Page) -> serde_json::Value {
    serde_json::json!({ "id": p.id, "handle": p.handle, "published": p.published })
}

/// Creates a page. Emits `page.created`.
pub async fn create_page(conn: &mut PgConnection, input: PageInput) -> Result<Page, StoreError> {
    let v = validate(&input)?;
    let handle = match v.handle {
        Some(h) => h,
        None => free_handle(conn, &v.title, None).await?,
    };
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO pages (id, handle, title, body_source, body_format, body_html, published, \
         published_at, seo_title, seo_description) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(handle.as_str())
    .bind(&v.title)
    .bind(&input.body)
    .bind(format_str(input.body_format))
    .bind(&v.body_html)
    .bind(input.published)
    .bind(super::publish_time(input.published, input.published_at, None))
    .bind(input.seo_title.trim())
    .bind(input.seo_description.trim())
    .execute(&mut *conn)
    .await
    .map_err(conflict)?;
    // The handle is live now: it must not redirect to another page.
    sqlx::query("DELETE FROM page_handle_redirects WHERE old_handle = $1")
        .bind(handle.as_str())
        .execute(&mut *conn)
        .await?;
    let page = get_page(conn, id).await?;
    outbox::emit(conn, "page.created", event(&page)).await?;
    Ok(page)
}

/// Replaces a page's fields. A changed handle leaves a redirect from the old one. Emits
/// `page.updated`.
pub async fn update_page(
    conn: &mut PgConnection,
    id: Uuid,
    input: PageInput,
) -> Result<Page, StoreError> {
    let v = validate(&input)?;
    let old: Option<(String, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT handle, published_at FROM pages WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let (old_handle, old_published_at) = old.ok_or(StoreError::NotFound)?;
    let handle = v
        .handle
        .map_or(old_handle.clone(), |h| h.as_str().to_owned());
    sqlx::query(
        "UPDATE pages SET handle = $2, title = $3, body_source = $4, body_format = $5, body_html = $6, \
         published = $7, published_at = $8, seo_title = $9, seo_description = $10, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(&handle)
    .bind(&v.title)
    .bind(&input.body)
    .bind(format_str(input.body_format))
    .bind(&v.body_html)
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
            "INSERT INTO page_handle_redirects (old_handle, page_id) VALUES ($1, $2) \
             ON CONFLICT (old_handle) DO UPDATE SET page_id = EXCLUDED.page_id",
        )
        .bind(&old_handle)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM page_handle_redirects WHERE old_handle = $1")
            .bind(&handle)
            .execute(&mut *conn)
            .await?;
    }
    let page = get_page(conn, id).await?;
    outbox::emit(conn, "page.updated", event(&page)).await?;
    Ok(page)
}

/// Deletes a page (its old handles go with it). Emits `page.deleted`.
pub async fn delete_page(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let handle: Option<String> =
        sqlx::query_scalar("DELETE FROM pages WHERE id = $1 RETURNING handle")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let handle = handle.ok_or(StoreError::NotFound)?;
    outbox::emit(
        conn,
        "page.deleted",
        serde_json::json!({ "id": id, "handle": handle }),
    )
    .await
}

/// The page, published or not (for the admin and the API).
pub async fn get_page(conn: &mut PgConnection, id: Uuid) -> Result<Page, StoreError> {
    let row: Option<Page> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM pages WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or(StoreError::NotFound)
}

/// Pages in creation order after `after`, at most `limit` (1 to 250), and the cursor of the
/// next page when there is one (for the API).
pub async fn list_pages(
    conn: &mut PgConnection,
    after: Option<IdCursor>,
    limit: i64,
) -> Result<(Vec<Page>, Option<IdCursor>), StoreError> {
    let limit = limit.clamp(1, 250);
    let mut rows: Vec<Page> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM pages WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
    ))
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

/// Every page by title (the admin list; stores have tens of pages, not thousands).
pub async fn list_page_summaries(conn: &mut PgConnection) -> Result<Vec<PageSummary>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, handle, title, published, updated_at FROM pages ORDER BY lower(title), id",
    )
    .fetch_all(conn)
    .await?)
}

/// How many pages the store has.
pub async fn count_pages(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM pages")
        .fetch_one(conn)
        .await?)
}

/// The published page with this handle, or where a former handle of a page now leads.
/// Unpublished pages (and those whose publication time has not come) are not found.
pub async fn find_published_page(
    conn: &mut PgConnection,
    handle: &str,
) -> Result<Found<Page>, StoreError> {
    let row: Option<Page> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM pages WHERE handle = $1 AND published AND published_at <= now()"
    ))
    .bind(handle)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = row {
        return Ok(Found::Item(Box::new(row)));
    }
    let moved: Option<String> = sqlx::query_scalar(
        "SELECT p.handle FROM page_handle_redirects r JOIN pages p ON p.id = r.page_id \
         WHERE r.old_handle = $1 AND p.published AND p.published_at <= now()",
    )
    .bind(handle)
    .fetch_optional(&mut *conn)
    .await?;
    moved.map(Found::MovedTo).ok_or(StoreError::NotFound)
}

/// Whether a published page has this handle (for resolving menu links).
pub(crate) async fn is_published(
    conn: &mut PgConnection,
    handle: &str,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pages WHERE handle = $1 AND published AND published_at <= now())",
    )
    .bind(handle)
    .fetch_one(conn)
    .await?)
}
