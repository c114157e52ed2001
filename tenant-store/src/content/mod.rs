//! Content: pages (`/pages/{handle}`), blogs with their articles (`/blogs/news`,
//! `/blogs/news/{handle}`) and navigation menus (`main-menu`, `footer`).
//!
//! Bodies are written in HTML or Markdown; the source is kept for editing and sanitized HTML
//! is stored for display (as for products). Handles come from titles unless given; a changed
//! handle leaves a redirect from the old one. Every change emits an outbox event
//! (`page.created|updated|deleted`, `article.created|updated|deleted`,
//! `menu.created|updated|deleted`) in the caller's transaction.
//!
//! What the storefront calls, each inside a tenant transaction
//! (`tenant_store::begin(&pool, &schema)`), with only published content coming back:
//!
//! - [`pages::find_published_page`]`(conn, handle) -> Result<Found<Page>, StoreError>`:
//!   the page, [`Found::MovedTo`] its current handle (answer 301) or `StoreError::NotFound`.
//! - [`blog::find_blog`]`(conn, blog_handle, after: Option<&ArticleCursor>, limit) ->
//!   Result<BlogPage, StoreError>`: the blog with a page of its published articles, newest
//!   first; `BlogPage::next` is the cursor of the following page ([`ArticleCursor::encode`]
//!   / [`ArticleCursor::decode`] for the query string).
//! - [`blog::find_published_article`]`(conn, blog_handle, handle) ->
//!   Result<Found<Article>, StoreError>`: as for pages.
//! - [`menus::find_menu`]`(conn, handle) -> Result<MenuLinks, StoreError>`: the menu's
//!   items resolved to URLs (`/collections/{h}`, `/products/{h}`, `/pages/{h}`,
//!   `/blogs/{h}`, `/blogs/{blog}/{h}`, or the URL given), nested one level; items whose
//!   target is gone or unpublished are left out.

pub mod blog;
pub mod menus;
pub mod pages;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use blog::{
    Article, ArticleCursor, ArticleInput, ArticleSummary, Blog, BlogPage, find_blog,
    find_published_article,
};
pub use menus::{Link, Menu, MenuInput, MenuItem, MenuItemInput, MenuLinks, find_menu};
pub use pages::{Page, PageInput, PageSummary, find_published_page};

use crate::StoreError;
use crate::catalog::BodyFormat;

/// What a handle leads to.
#[derive(Debug)]
pub enum Found<T> {
    /// The thing with this handle.
    Item(Box<T>),
    /// Its handle changed: answer 301 to this one.
    MovedTo(String),
}

/// The stored name of a body format.
fn format_str(f: BodyFormat) -> &'static str {
    match f {
        BodyFormat::Html => "html",
        BodyFormat::Markdown => "markdown",
    }
}

/// Body formats are read straight from `body_format` text columns.
impl sqlx::Type<sqlx::Postgres> for BodyFormat {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for BodyFormat {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(if s == "markdown" {
            Self::Markdown
        } else {
            Self::Html
        })
    }
}

/// When a (re)published item becomes visible: the time given, else the time it first had,
/// else now; unpublished items keep theirs so republishing does not move them.
fn publish_time(
    published: bool,
    given: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match (published, given, before) {
        (_, Some(t), _) => Some(t),
        (true, None, None) => Some(Utc::now()),
        (_, None, before) => before,
    }
}

/// A position in a list ordered by id (ids are time-ordered UUIDv7), as an opaque string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdCursor(pub Uuid);

impl IdCursor {
    /// The cursor as a URL-safe string.
    pub fn encode(&self) -> String {
        self.0.simple().to_string()
    }

    /// Reads a cursor; anything malformed is refused.
    pub fn decode(s: &str) -> Result<Self, StoreError> {
        Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| StoreError::invalid("page_info", "is not a valid page cursor"))
    }
}

/// Text fields longer than this many characters are refused.
const MAX_TITLE_CHARS: usize = 255;
/// SEO descriptions longer than this many characters are refused.
const MAX_SEO_DESCRIPTION_CHARS: usize = 320;

/// Checks a title: required, at most 255 characters.
fn check_title(title: &str, errors: &mut Vec<(String, String)>) -> String {
    let title = title.trim().to_owned();
    if title.is_empty() {
        errors.push(("title".into(), "can't be blank".into()));
    } else if title.chars().count() > MAX_TITLE_CHARS {
        errors.push((
            "title".into(),
            format!("must be at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    title
}

/// Checks an optional handle: `None` when left empty (it is then made from the title).
fn check_handle(
    handle: Option<&str>,
    errors: &mut Vec<(String, String)>,
) -> Option<crate::catalog::Handle> {
    match handle.map(str::trim) {
        None | Some("") => None,
        Some(h) => crate::catalog::Handle::parse(h)
            .map_err(|m| errors.push(("handle".into(), m)))
            .ok(),
    }
}

/// Checks SEO fields' lengths.
fn check_seo(title: &str, description: &str, errors: &mut Vec<(String, String)>) {
    if title.trim().chars().count() > MAX_TITLE_CHARS {
        errors.push((
            "seo_title".into(),
            format!("must be at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    if description.trim().chars().count() > MAX_SEO_DESCRIPTION_CHARS {
        errors.push((
            "seo_description".into(),
            format!("must be at most {MAX_SEO_DESCRIPTION_CHARS} characters"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_keeps_the_first_time_unless_one_is_given() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let u = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(publish_time(true, None, Some(t)), Some(t));
        assert_eq!(publish_time(true, Some(u), Some(t)), Some(u));
        assert_eq!(publish_time(false, None, Some(t)), Some(t));
        assert_eq!(publish_time(false, None, None), None);
        assert!(publish_time(true, None, None).is_some());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = IdCursor(Uuid::now_v7());
        assert_eq!(IdCursor::decode(&c.encode()).unwrap(), c);
        assert!(IdCursor::decode("nope").is_err());
    }
}
