//! Navigation menus: ordered links to collections, products, pages, blogs, articles or any
//! URL, nested one level. Every store has `main-menu` and `footer`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{check_handle, check_title};
use crate::catalog::Handle;
use crate::{StoreError, outbox};

/// Most items a menu holds.
pub const MAX_ITEMS: usize = 100;
/// What an item can link to.
pub const KINDS: [&str; 6] = ["collection", "product", "page", "blog", "article", "url"];
/// Menus the storefront's theme reads; they cannot be deleted.
const BUILT_IN: [&str; 2] = ["main-menu", "footer"];

/// One link as the merchant sends it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MenuItemInput {
    /// The link's text.
    pub title: String,
    /// `collection`, `product`, `page`, `blog`, `article` or `url`.
    pub kind: String,
    /// A handle (`summer`), `blog/article` for an article, or the URL for `url`.
    pub target: String,
    /// Nested under the closest top-level item before it.
    pub nested: bool,
}

/// What the merchant sends to create or replace a menu.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MenuInput {
    /// Title; required.
    pub title: String,
    /// Handle; made from the title when empty (on update: kept).
    pub handle: Option<String>,
    /// The links in order.
    pub items: Vec<MenuItemInput>,
}

/// One stored link.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct MenuItem {
    /// Identifier.
    pub id: Uuid,
    /// The item it is nested under.
    pub parent_id: Option<Uuid>,
    /// Order in the menu (1-based, over all items).
    pub position: i32,
    /// The link's text.
    pub title: String,
    /// What it links to.
    pub kind: String,
    /// A handle, `blog/article`, or a URL.
    pub target: String,
}

impl MenuItem {
    /// Whether it is nested under another item.
    pub fn nested(&self) -> bool {
        self.parent_id.is_some()
    }
}

/// A menu as stored.
#[derive(Clone, Debug, Serialize)]
pub struct Menu {
    /// Identifier.
    pub id: Uuid,
    /// Handle (`main-menu`).
    pub handle: String,
    /// Title.
    pub title: String,
    /// Items in order; nested ones follow their parent.
    pub items: Vec<MenuItem>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A menu in the admin list.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct MenuSummary {
    /// Identifier.
    pub id: Uuid,
    /// Handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// How many links it holds.
    pub items_count: i64,
}

/// A menu as the storefront shows it.
#[derive(Clone, Debug, Serialize)]
pub struct MenuLinks {
    /// Handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Top-level links in order.
    pub links: Vec<Link>,
}

/// A resolved link.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    /// The link's text.
    pub title: String,
    /// Where it goes: a path on the store or an absolute URL.
    pub url: String,
    /// What it links to (`collection`, ..., `url`).
    pub kind: String,
    /// Links nested under it, in order.
    pub links: Vec<Link>,
}

/// Checks a menu; returns its handle if one was given.
fn validate(input: &MenuInput) -> Result<(String, Option<Handle>), StoreError> {
    let mut errors = Vec::new();
    let title = check_title(&input.title, &mut errors);
    let handle = check_handle(input.handle.as_deref(), &mut errors);
    if input.items.len() > MAX_ITEMS {
        errors.push((
            "items".into(),
            format!("a menu holds at most {MAX_ITEMS} links"),
        ));
    }
    for (i, item) in input.items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        if item.title.trim().is_empty() {
            errors.push((field("title"), "can't be blank".into()));
        } else if item.title.trim().chars().count() > 255 {
            errors.push((field("title"), "must be at most 255 characters".into()));
        }
        if i == 0 && item.nested {
            errors.push((
                field("nested"),
                "the first link has nothing to be nested under".into(),
            ));
        }
        let target = item.target.trim();
        match item.kind.as_str() {
            "url" => {
                if target.is_empty() {
                    errors.push((field("target"), "can't be blank".into()));
                } else if !(super::blog::is_link(target) || is_contact(target)) {
                    errors.push((
                        field("target"),
                        "must be a path starting with /, an http(s) address, mailto: or tel:"
                            .into(),
                    ));
                }
            }
            "article" => {
                let ok = target
                    .split_once('/')
                    .is_some_and(|(b, a)| Handle::parse(b).is_ok() && Handle::parse(a).is_ok());
                if !ok {
                    errors.push((
                        field("target"),
                        "must be blog-handle/article-handle (news/our-story)".into(),
                    ));
                }
            }
            kind if KINDS.contains(&kind) => {
                if let Err(m) = Handle::parse(target) {
                    errors.push((field("target"), m));
                }
            }
            _ => errors.push((
                field("kind"),
                "must be collection, product, page, blog, article or url".into(),
            )),
        }
    }
    if errors.is_empty() {
        Ok((title, handle))
    } else {
        Err(StoreError::Fields(errors))
    }
}

fn is_contact(u: &str) -> bool {
    let lower = u.to_ascii_lowercase();
    ["mailto:", "tel:"]
        .iter()
        .any(|p| lower.strip_prefix(p).is_some_and(|r| !r.is_empty()))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether the thing an item links to exists (published or not: a merchant may link to a
/// page before publishing it; the storefront leaves such links out until then).
async fn target_exists(
    conn: &mut PgConnection,
    kind: &str,
    target: &str,
) -> Result<bool, StoreError> {
    let sql = match kind {
        "collection" => "SELECT EXISTS (SELECT 1 FROM collections WHERE handle = $1)",
        "product" => "SELECT EXISTS (SELECT 1 FROM products WHERE handle = $1)",
        "page" => "SELECT EXISTS (SELECT 1 FROM pages WHERE handle = $1)",
        "blog" => "SELECT EXISTS (SELECT 1 FROM blogs WHERE handle = $1)",
        "article" => {
            "SELECT EXISTS (SELECT 1 FROM articles a JOIN blogs b ON b.id = a.blog_id \
             WHERE b.handle || '/' || a.handle = $1)"
        }
        _ => return Ok(true),
    };
    Ok(sqlx::query_scalar(sql)
        .bind(target)
        .fetch_one(&mut *conn)
        .await?)
}

async fn write_items(
    conn: &mut PgConnection,
    menu_id: Uuid,
    items: &[MenuItemInput],
) -> Result<(), StoreError> {
    let mut missing = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let target = item.target.trim();
        if !target_exists(conn, &item.kind, target).await? {
            let what = if item.kind == "article" {
                "no article is at".to_owned()
            } else {
                format!("no {} has the handle", item.kind)
            };
            missing.push((format!("items[{i}].target"), format!("{what} “{target}”")));
        }
    }
    if !missing.is_empty() {
        return Err(StoreError::Fields(missing));
    }
    sqlx::query("DELETE FROM menu_items WHERE menu_id = $1")
        .bind(menu_id)
        .execute(&mut *conn)
        .await?;
    let mut parent: Option<Uuid> = None;
    for (i, item) in items.iter().enumerate() {
        let id = Uuid::now_v7();
        let parent_id = if item.nested { parent } else { None };
        sqlx::query(
            "INSERT INTO menu_items (id, menu_id, parent_id, position, title, kind, target) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(menu_id)
        .bind(parent_id)
        .bind(i as i32 + 1)
        .bind(item.title.trim())
        .bind(&item.kind)
        .bind(item.target.trim())
        .execute(&mut *conn)
        .await?;
        if !item.nested {
            parent = Some(id);
        }
    }
    Ok(())
}

fn conflict(e: sqlx::Error) -> StoreError {
    match e.as_database_error().and_then(|d| d.constraint()) {
        Some("menus_handle_key") => StoreError::Fields(vec![(
            "handle".into(),
            "is already used by another menu".into(),
        )]),
        _ => StoreError::Database(e),
    }
}

fn event(m: &Menu) -> serde_json::Value {
    serde_json::json!({ "id": m.id, "handle": m.handle })
}

/// Creates a menu. Emits `menu.created`.
pub async fn create_menu(conn: &mut PgConnection, input: MenuInput) -> Result<Menu, StoreError> {
    let (title, given) = validate(&input)?;
    let handle = match given {
        Some(h) => h,
        None => {
            let base = Handle::from_title(&title);
            let mut candidate = base.clone();
            let mut n = 2;
            loop {
                let taken: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM menus WHERE handle = $1)")
                        .bind(candidate.as_str())
                        .fetch_one(&mut *conn)
                        .await?;
                if !taken {
                    break candidate;
                }
                candidate = base.with_suffix(n);
                n += 1;
            }
        }
    };
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO menus (id, handle, title) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(handle.as_str())
        .bind(&title)
        .execute(&mut *conn)
        .await
        .map_err(conflict)?;
    write_items(conn, id, &input.items).await?;
    let menu = get_menu(conn, id).await?;
    outbox::emit(conn, "menu.created", event(&menu)).await?;
    Ok(menu)
}

/// Replaces a menu's title, handle and links. The built-in menus keep their handles.
/// Emits `menu.updated`.
pub async fn update_menu(
    conn: &mut PgConnection,
    id: Uuid,
    input: MenuInput,
) -> Result<Menu, StoreError> {
    let (title, given) = validate(&input)?;
    let old: Option<String> =
        sqlx::query_scalar("SELECT handle FROM menus WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let old = old.ok_or(StoreError::NotFound)?;
    let handle = given.map_or(old.clone(), |h| h.as_str().to_owned());
    if handle != old && BUILT_IN.contains(&old.as_str()) {
        return Err(StoreError::invalid(
            "handle",
            format!("the theme reads the menu “{old}”: its handle stays"),
        ));
    }
    sqlx::query("UPDATE menus SET handle = $2, title = $3, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(&handle)
        .bind(&title)
        .execute(&mut *conn)
        .await
        .map_err(conflict)?;
    write_items(conn, id, &input.items).await?;
    let menu = get_menu(conn, id).await?;
    outbox::emit(conn, "menu.updated", event(&menu)).await?;
    Ok(menu)
}

/// Deletes a menu (not the built-in ones). Emits `menu.deleted`.
pub async fn delete_menu(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let handle: Option<String> = sqlx::query_scalar("SELECT handle FROM menus WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let handle = handle.ok_or(StoreError::NotFound)?;
    if BUILT_IN.contains(&handle.as_str()) {
        return Err(StoreError::invalid(
            "handle",
            format!("the theme reads the menu “{handle}”: it cannot be deleted"),
        ));
    }
    sqlx::query("DELETE FROM menus WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    outbox::emit(
        conn,
        "menu.deleted",
        serde_json::json!({ "id": id, "handle": handle }),
    )
    .await
}

/// The menu with its items.
pub async fn get_menu(conn: &mut PgConnection, id: Uuid) -> Result<Menu, StoreError> {
    let row: Option<(Uuid, String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, handle, title, updated_at FROM menus WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let (id, handle, title, updated_at) = row.ok_or(StoreError::NotFound)?;
    let items: Vec<MenuItem> = sqlx::query_as(
        "SELECT id, parent_id, position, title, kind, target FROM menu_items \
         WHERE menu_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Menu {
        id,
        handle,
        title,
        items,
        updated_at,
    })
}

/// Every menu, by title.
pub async fn list_menus(conn: &mut PgConnection) -> Result<Vec<MenuSummary>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.handle, m.title, \
           (SELECT count(*) FROM menu_items i WHERE i.menu_id = m.id) AS items_count \
         FROM menus m ORDER BY lower(m.title), m.id",
    )
    .fetch_all(conn)
    .await?)
}

/// Where an item leads on the storefront, or `None` when its target is gone or not shown
/// to shoppers (an unpublished page, a draft product...).
async fn resolve(conn: &mut PgConnection, item: &MenuItem) -> Result<Option<String>, StoreError> {
    let t = item.target.as_str();
    let sql = match item.kind.as_str() {
        "url" => return Ok(Some(t.to_owned())),
        "collection" => "SELECT EXISTS (SELECT 1 FROM collections WHERE handle = $1 AND published)",
        "product" => {
            "SELECT EXISTS (SELECT 1 FROM products WHERE handle = $1 AND status = 'active')"
        }
        "page" => {
            return Ok(super::pages::is_published(conn, t)
                .await?
                .then(|| format!("/pages/{t}")));
        }
        "blog" => "SELECT EXISTS (SELECT 1 FROM blogs WHERE handle = $1)",
        "article" => {
            "SELECT EXISTS (SELECT 1 FROM articles a JOIN blogs b ON b.id = a.blog_id \
             WHERE b.handle || '/' || a.handle = $1 AND a.published AND a.published_at <= now())"
        }
        _ => return Ok(None),
    };
    let exists: bool = sqlx::query_scalar(sql)
        .bind(t)
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(None);
    }
    Ok(Some(match item.kind.as_str() {
        "collection" => format!("/collections/{t}"),
        "product" => format!("/products/{t}"),
        // `blog` and `article` both live under /blogs/.
        _ => format!("/blogs/{t}"),
    }))
}

/// The menu with this handle as the storefront shows it: links resolved to URLs, nested one
/// level, leaving out those whose target is gone or unpublished (and what is nested under
/// them).
pub async fn find_menu(conn: &mut PgConnection, handle: &str) -> Result<MenuLinks, StoreError> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM menus WHERE handle = $1")
        .bind(handle)
        .fetch_optional(&mut *conn)
        .await?;
    let menu = get_menu(conn, id.ok_or(StoreError::NotFound)?).await?;
    let mut links: Vec<Link> = Vec::new();
    // Whether the last top-level item was shown (its children go with it).
    let mut parent_shown = false;
    for item in &menu.items {
        let url = resolve(conn, item).await?;
        let link = url.map(|url| Link {
            title: item.title.clone(),
            url,
            kind: item.kind.clone(),
            links: Vec::new(),
        });
        if item.nested() {
            if let (true, Some(link), Some(parent)) = (parent_shown, link, links.last_mut()) {
                parent.links.push(link);
            }
        } else {
            parent_shown = link.is_some();
            links.extend(link);
        }
    }
    Ok(MenuLinks {
        handle: menu.handle,
        title: menu.title,
        links,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &str, target: &str) -> MenuItemInput {
        MenuItemInput {
            title: "Link".into(),
            kind: kind.into(),
            target: target.into(),
            nested: false,
        }
    }

    fn errors(items: Vec<MenuItemInput>) -> Vec<String> {
        let input = MenuInput {
            title: "Main".into(),
            handle: None,
            items,
        };
        match validate(&input) {
            Ok(_) => Vec::new(),
            Err(StoreError::Fields(f)) => f.into_iter().map(|(k, _)| k).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn every_bad_link_is_named() {
        assert!(
            errors(vec![
                item("url", "/"),
                item("url", "https://x.example"),
                item("url", "mailto:a@b.c"),
                item("page", "about"),
                item("article", "news/hello"),
            ])
            .is_empty()
        );
        assert_eq!(
            errors(vec![
                item("url", "javascript:alert(1)"),
                item("page", "About Us"),
                item("article", "hello"),
                item("shelf", "x"),
            ]),
            [
                "items[0].target",
                "items[1].target",
                "items[2].target",
                "items[3].kind"
            ]
        );
        let mut nested = item("url", "/");
        nested.nested = true;
        assert_eq!(errors(vec![nested]), ["items[0].nested"]);
    }
}
