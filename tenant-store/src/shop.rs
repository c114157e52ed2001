//! What shoppers see of the catalog: only active products and published collections that
//! have any, listed with keyset pagination (page 400 costs what page 1 costs).
//!
//! Product cards read the summary columns the database keeps on `products` (price range,
//! stock, first image), so a listing is one query whatever its size.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;
use crate::catalog::{self, Product, Status};
use crate::orders::COUNTED_AS_SOLD;

/// A product in a listing.
#[derive(Clone, Debug, Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct ProductCard {
    /// Identifier.
    pub id: Uuid,
    /// URL handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Brand.
    pub vendor: String,
    /// Lowest variant price, minor units.
    pub price_min_minor: i64,
    /// Highest variant price, minor units.
    pub price_max_minor: i64,
    /// A compare-at ("was") price above the price, if any variant has one.
    pub compare_at_minor: Option<i64>,
    /// Whether any variant can be bought now.
    pub available: bool,
    /// First image's storage key.
    pub image_key: Option<String>,
    /// First image's alt text.
    pub image_alt: String,
    /// First image's width.
    pub image_width: Option<i32>,
    /// First image's height.
    pub image_height: Option<i32>,
}

const CARD_COLUMNS: &str = "p.id, p.handle, p.title, p.vendor, p.price_min_minor, \
     p.price_max_minor, p.compare_at_minor, p.available, p.image_key, p.image_alt, \
     p.image_width, p.image_height";

/// How a listing is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Sort {
    /// The collection's own order (newest for "all products").
    Featured,
    /// Lowest price first.
    PriceAscending,
    /// Highest price first.
    PriceDescending,
    /// Newest first.
    Newest,
    /// A to Z.
    TitleAscending,
    /// Z to A.
    TitleDescending,
    /// Most units sold first, ties newest first. Units sold are kept on the product (see
    /// `crate::orders` for which orders count), so this is a keyset listing like the others.
    BestSelling,
}

impl Sort {
    /// Every sort, with its URL value and label, in menu order.
    pub const ALL: [(Sort, &'static str, &'static str); 7] = [
        (Sort::Featured, "featured", "Featured"),
        (Sort::BestSelling, "best-selling", "Best selling"),
        (
            Sort::PriceAscending,
            "price-ascending",
            "Price, low to high",
        ),
        (
            Sort::PriceDescending,
            "price-descending",
            "Price, high to low",
        ),
        (Sort::Newest, "created-descending", "Newest"),
        (
            Sort::TitleAscending,
            "title-ascending",
            "Alphabetically, A-Z",
        ),
        (
            Sort::TitleDescending,
            "title-descending",
            "Alphabetically, Z-A",
        ),
    ];

    /// Parses a `sort_by` value (Shopify's names); anything else is the featured order.
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .iter()
            .find(|(_, v, _)| *v == s)
            .map_or(Sort::Featured, |(sort, _, _)| *sort)
    }

    /// The `sort_by` value.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("featured", |(_, v, _)| v)
    }
}

/// Where a page of a listing starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageAt {
    /// The first page.
    First,
    /// The page after this cursor.
    After(String),
    /// The page before this cursor.
    Before(String),
}

/// One page of product cards.
#[derive(Clone, Debug, Serialize)]
pub struct CardPage {
    /// The products on this page.
    pub cards: Vec<ProductCard>,
    /// Cursor of the next page, if there is one.
    pub next: Option<String>,
    /// Cursor of the previous page, if there is one.
    pub previous: Option<String>,
}

/// The value a listing is ordered by, per sort: which column, and as what type.
#[derive(Clone, Copy)]
enum KeyKind {
    Int,
    Time,
    Text,
    /// An integer, ties broken by this time column in the same direction (best selling:
    /// units sold, then newest). The cursor key is `<int>:<microseconds>`.
    IntThenTime(&'static str),
}

struct Order {
    expr: &'static str,
    kind: KeyKind,
    descending: bool,
}

fn order(sort: Sort, in_collection: bool, collection_sort: &str) -> Order {
    let sort = if sort == Sort::Featured {
        match (in_collection, collection_sort) {
            (false, _) => Sort::Newest,
            (true, "price-asc") => Sort::PriceAscending,
            (true, "price-desc") => Sort::PriceDescending,
            (true, "created-desc") => Sort::Newest,
            (true, "title-asc") => Sort::TitleAscending,
            (true, "title-desc") => Sort::TitleDescending,
            (true, "best-selling") => Sort::BestSelling,
            // Manual and oldest-first: the stored order.
            (true, _) => {
                return Order {
                    expr: "cp.position",
                    kind: KeyKind::Int,
                    descending: false,
                };
            }
        }
    } else {
        sort
    };
    match sort {
        Sort::PriceAscending => Order {
            expr: "p.price_min_minor",
            kind: KeyKind::Int,
            descending: false,
        },
        Sort::PriceDescending => Order {
            expr: "p.price_min_minor",
            kind: KeyKind::Int,
            descending: true,
        },
        Sort::TitleAscending => Order {
            expr: "p.title",
            kind: KeyKind::Text,
            descending: false,
        },
        Sort::TitleDescending => Order {
            expr: "p.title",
            kind: KeyKind::Text,
            descending: true,
        },
        Sort::BestSelling => Order {
            expr: "p.units_sold",
            kind: KeyKind::IntThenTime("p.published_at"),
            descending: true,
        },
        Sort::Newest | Sort::Featured => Order {
            expr: "p.published_at",
            kind: KeyKind::Time,
            descending: true,
        },
    }
}

/// A cursor: the sort key and id of the row it points at, as `<key>~<id>`.
fn split_cursor(cursor: &str) -> Result<(&str, Uuid), StoreError> {
    let bad = || StoreError::invalid("page", "is not a page of this list");
    let (key, id) = cursor.rsplit_once('~').ok_or_else(bad)?;
    Ok((key, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// Whether a cursor's key can be read back as the sort's key (a malformed one would be a
/// database error, not "no such page").
fn key_is_well_formed(kind: KeyKind, key: &str) -> bool {
    match kind {
        KeyKind::Int | KeyKind::Time => key.parse::<i64>().is_ok(),
        KeyKind::Text => true,
        KeyKind::IntThenTime(_) => key
            .split_once(':')
            .is_some_and(|(a, b)| a.parse::<i64>().is_ok() && b.parse::<i64>().is_ok()),
    }
}

/// Lists active products, all of them (`collection` None) or one collection's, in `sort`
/// order, `limit` a page.
pub async fn list_cards(
    conn: &mut PgConnection,
    collection: Option<&ShopCollection>,
    sort: Sort,
    at: &PageAt,
    limit: i64,
) -> Result<CardPage, StoreError> {
    let o = order(
        sort,
        collection.is_some(),
        collection.map_or("", |c| c.sort_order.as_str()),
    );
    // Reading backwards (a "previous" page) flips the order, then the rows are reversed.
    let backwards = matches!(at, PageAt::Before(_));
    let descending = o.descending != backwards;
    let (dir, cmp) = if descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let from = match collection {
        Some(_) => "collection_products cp JOIN products p ON p.id = cp.product_id \
                    WHERE cp.collection_id = $1 AND p.status = 'active'"
            .to_owned(),
        None => "products p WHERE p.status = 'active' AND $1::uuid IS NULL".to_owned(),
    };
    let cursor = match at {
        PageAt::First => None,
        PageAt::After(c) | PageAt::Before(c) => Some(split_cursor(c)?),
    };
    // Cursor keys travel as text: integers, timestamps as microseconds since the epoch
    // (exact both ways), titles as they are.
    let micros = |col: &str| format!("(extract(epoch FROM {col}) * 1000000)::bigint::text");
    let from_micros = |param: &str| {
        format!("('epoch'::timestamptz + {param}::bigint * interval '1 microsecond')")
    };
    // The columns ordered by (before the id), what a row's key is, and the key read back.
    let (cols, key_out, key_in) = match o.kind {
        KeyKind::Int => (
            vec![o.expr],
            format!("({})::text", o.expr),
            "$2::text::bigint".to_owned(),
        ),
        KeyKind::Time => (vec![o.expr], micros(o.expr), from_micros("$2::text")),
        KeyKind::Text => (vec![o.expr], o.expr.to_owned(), "$2::text".to_owned()),
        KeyKind::IntThenTime(then) => (
            vec![o.expr, then],
            format!("({})::text || ':' || {}", o.expr, micros(then)),
            format!(
                "split_part($2::text, ':', 1)::bigint, {}",
                from_micros("split_part($2::text, ':', 2)")
            ),
        ),
    };
    if let Some((key, _)) = &cursor
        && !key_is_well_formed(o.kind, key)
    {
        return Err(StoreError::invalid("page", "is not a page of this list"));
    }
    let key_filter = if cursor.is_some() {
        format!(
            " AND ({}, p.id) {cmp} ({key_in}, $3::uuid)",
            cols.join(", ")
        )
    } else {
        String::new()
    };
    let order_by: Vec<String> = cols
        .iter()
        .chain(std::iter::once(&"p.id"))
        .map(|c| format!("{c} {dir}"))
        .collect();
    let sql = format!(
        "SELECT {CARD_COLUMNS}, {key_out} AS sort_key FROM {from}{key_filter} \
         ORDER BY {} LIMIT $4",
        order_by.join(", ")
    );
    let (key, id) = cursor.map_or((None, None), |(k, id)| (Some(k.to_owned()), Some(id)));
    let q = sqlx::query_as::<_, CardRow>(&sql)
        .bind(collection.map(|c| c.id))
        .bind(key);
    let mut rows = q.bind(id).bind(limit + 1).fetch_all(&mut *conn).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    if backwards {
        rows.reverse();
    }
    let cursor_of = |r: &CardRow| format!("{}~{}", r.sort_key, r.card.id);
    let (next, previous) = match at {
        PageAt::First => (more.then(|| rows.last().map(cursor_of)).flatten(), None),
        PageAt::After(_) => (
            more.then(|| rows.last().map(cursor_of)).flatten(),
            rows.first().map(cursor_of),
        ),
        PageAt::Before(_) => (
            rows.last().map(cursor_of),
            more.then(|| rows.first().map(cursor_of)).flatten(),
        ),
    };
    Ok(CardPage {
        cards: rows.into_iter().map(|r| r.card).collect(),
        next,
        previous,
    })
}

#[derive(sqlx::FromRow)]
struct CardRow {
    #[sqlx(flatten)]
    card: ProductCard,
    sort_key: String,
}

/// A collection as shoppers see it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ShopCollection {
    /// Identifier.
    pub id: Uuid,
    /// URL handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Sanitized description.
    pub body_html: String,
    /// Image storage key.
    pub image_key: Option<String>,
    /// The merchant's chosen order.
    pub sort_order: String,
}

/// One active product of collection `c`, if there is any. As a `LATERAL` subquery with
/// `LIMIT 1` it runs per collection and stops at the first hit (an `EXISTS` may be planned
/// as a join over every active product).
const ANY_ACTIVE: &str = "SELECT 1 FROM collection_products cp JOIN products p ON p.id = cp.product_id \
     WHERE cp.collection_id = c.id AND p.status = 'active' LIMIT 1";

/// A published collection with at least one active product, by handle.
pub async fn collection_by_handle(
    conn: &mut PgConnection,
    handle: &str,
) -> Result<ShopCollection, StoreError> {
    sqlx::query_as::<_, ShopCollection>(&format!(
        "SELECT c.id, c.handle, c.title, c.body_html, c.image_key, c.sort_order \
         FROM collections c CROSS JOIN LATERAL ({ANY_ACTIVE}) on_sale \
         WHERE c.handle = $1 AND c.published"
    ))
    .bind(handle)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Published collections that have active products, by title (for menus and the home page).
pub async fn collections(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ShopCollection>, StoreError> {
    Ok(sqlx::query_as::<_, ShopCollection>(&format!(
        "SELECT c.id, c.handle, c.title, c.body_html, c.image_key, c.sort_order \
         FROM collections c CROSS JOIN LATERAL ({ANY_ACTIVE}) on_sale \
         WHERE c.published ORDER BY c.title, c.id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// What a product handle leads a shopper to.
#[derive(Debug)]
pub enum ProductLookup {
    /// An active product.
    Found(Box<Product>),
    /// The handle changed: redirect (301) to this one.
    Moved(String),
}

/// An active product by handle (or a former handle); drafts and archived products are
/// [`StoreError::NotFound`], as if they did not exist.
pub async fn product_by_handle(
    conn: &mut PgConnection,
    handle: &str,
) -> Result<ProductLookup, StoreError> {
    match catalog::find_by_handle(conn, handle).await? {
        catalog::Found::Product(p) if p.status == Status::Active => Ok(ProductLookup::Found(p)),
        catalog::Found::Product(_) => Err(StoreError::NotFound),
        catalog::Found::MovedTo(h) => {
            let active: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM products WHERE handle = $1 AND status = 'active')",
            )
            .bind(&h)
            .fetch_one(&mut *conn)
            .await?;
            if active {
                Ok(ProductLookup::Moved(h))
            } else {
                Err(StoreError::NotFound)
            }
        }
    }
}

/// How many of a product's latest sales (order lines, so orders but for one bought in two
/// variants) "bought together" looks at: enough to be meaningful, few enough that a best
/// seller's suggestions cost what a niche product's do.
pub const TOGETHER_ORDERS: i64 = 500;

/// Products to suggest next to a product, up to `limit`, active ones only, never the product
/// itself nor one twice:
/// 1. those most often bought with it: in how many of the latest [`TOGETHER_ORDERS`] orders
///    containing it that count as sales (see [`crate::orders`]) they appear too, ties to the
///    better seller;
/// 2. then those after it in its first collection's order (wrapping round to the start);
/// 3. then the newest products.
pub async fn related(
    conn: &mut PgConnection,
    product_id: Uuid,
    limit: i64,
) -> Result<Vec<ProductCard>, StoreError> {
    let related: sqlx::types::Json<Vec<ProductCard>> =
        sqlx::query_scalar(&format!("SELECT ({})", related_of("$1::uuid", limit)))
            .bind(product_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(related.0)
}

/// Cards of "You may also like" on a product page.
pub const RELATED_ON_PAGE: i64 = 4;

/// The product page's reading as one statement, for [`crate::read_at_once`] (text
/// parameters): the active product whose handle is `$1`, with its options, variants,
/// images and [`related`] cards; the session row whose id is `$2` (`''`: none), unexpired;
/// and the units in the cart that row names under the key `$3`, or else in the cart whose
/// id is `$4` (`''`: none). No row when no active product has the handle.
pub static PRODUCT_PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT page.*, ({related}) AS related, s.data AS session_data, \
           s.expires_at AS session_expires_at, \
           (SELECT COALESCE(sum(l.quantity), 0)::bigint FROM cart_lines l \
            WHERE l.cart_id = COALESCE((s.data ->> $3)::uuid, NULLIF($4, '')::uuid)) AS cart_count \
         FROM ({product}) page \
         LEFT JOIN platform.sessions s ON s.id = $2 AND s.expires_at > now()",
        related = related_of("page.id", RELATED_ON_PAGE),
        product = catalog::products::product_query("p.handle = $1 AND p.status = 'active'"),
    )
});

/// What [`PRODUCT_PAGE`] read.
#[derive(Debug)]
pub struct ProductPage {
    /// The product.
    pub product: Product,
    /// Its "You may also like" cards.
    pub related: Vec<ProductCard>,
    /// The session's row (`data`, `expires_at`), when one was asked for and is unexpired.
    pub session: Option<(serde_json::Value, chrono::DateTime<chrono::Utc>)>,
    /// Units in the cart.
    pub cart_count: i64,
}

impl ProductPage {
    /// Reads a row of [`PRODUCT_PAGE`].
    pub fn from_row(row: &sqlx::postgres::PgRow) -> Result<Self, StoreError> {
        use sqlx::Row as _;
        let related: sqlx::types::Json<Vec<ProductCard>> = row.try_get("related")?;
        let data: Option<serde_json::Value> = row.try_get("session_data")?;
        let expires: Option<chrono::DateTime<chrono::Utc>> = row.try_get("session_expires_at")?;
        Ok(Self {
            product: catalog::products::product_from_row(row)?,
            related: related.0,
            session: data.zip(expires),
            cart_count: row.try_get("cart_count")?,
        })
    }
}

/// A scalar subquery: the JSON array of the [`related`] cards of the product whose id is
/// `product` (an SQL expression: a parameter, or a column of the query around it).
///
/// Each step is an index range read with a small LIMIT, whatever the catalog's size: the
/// product's latest order lines (`order_lines_product`, newest order first, whether each
/// order counts probed by its key), the products after it in its collection's order and
/// those from its start (`collection_products_order`), the newest products
/// (`products_shop_newest`). Each step reads enough candidates for `limit` cards after
/// the earlier steps' and the product itself are left out; a product found by two steps
/// keeps its first.
pub fn related_of(product: &str, limit: i64) -> String {
    let candidates = 2 * limit + 1;
    let cards = CARD_COLUMNS.replace("p.", "k.");
    // The products of its first collection after it (step 2), then from the start (3).
    let walk = |step: u8, from: &str| {
        format!(
            "(SELECT w.product_id, {step}, w.position FROM ( \
               SELECT collection_id, position FROM collection_products \
               WHERE product_id = {product} ORDER BY collection_id LIMIT 1) mine \
             CROSS JOIN LATERAL ( \
               SELECT cp.product_id, cp.position::bigint AS position FROM collection_products cp \
               JOIN products q ON q.id = cp.product_id AND q.status = 'active' \
               WHERE cp.collection_id = mine.collection_id AND cp.position {from} mine.position \
               ORDER BY cp.position, cp.product_id LIMIT {candidates}) w)"
        )
    };
    let (after, before) = (walk(2, ">"), walk(3, "<="));
    format!(
        "SELECT COALESCE(json_agg(c ORDER BY c.step, c.rank), '[]') FROM ( \
           SELECT {cards}, d.step, d.rank FROM ( \
             SELECT DISTINCT ON (x.id) x.id, x.step, x.rank FROM ( \
               (SELECT l.product_id AS id, 1 AS step, row_number() OVER ( \
                  ORDER BY count(DISTINCT l.order_id) DESC, q.units_sold DESC, \
                           q.published_at DESC, q.id DESC) AS rank \
                FROM (SELECT r.order_id FROM order_lines r WHERE r.product_id = {product} \
                        AND (SELECT {COUNTED_AS_SOLD} FROM orders o WHERE o.id = r.order_id) \
                      ORDER BY r.order_id DESC LIMIT {TOGETHER_ORDERS}) recent \
                JOIN order_lines l ON l.order_id = recent.order_id AND l.product_id <> {product} \
                JOIN products q ON q.id = l.product_id AND q.status = 'active' \
                GROUP BY l.product_id, q.units_sold, q.published_at, q.id \
                ORDER BY rank LIMIT {limit}) \
               UNION ALL \
               {after} \
               UNION ALL \
               {before} \
               UNION ALL \
               (SELECT q.id, 4, row_number() OVER (ORDER BY q.published_at DESC, q.id DESC) \
                FROM products q WHERE q.status = 'active' \
                ORDER BY q.published_at DESC, q.id DESC LIMIT {candidates}) \
             ) x WHERE x.id <> {product} ORDER BY x.id, x.step, x.rank \
           ) d JOIN products k ON k.id = d.id ORDER BY d.step, d.rank LIMIT {limit} \
         ) c"
    )
}

/// A menu link as the storefront shows it.
#[derive(Clone, Debug, Serialize)]
pub struct MenuLink {
    /// What the link says.
    pub title: String,
    /// Where it goes: a path on the store or an absolute URL.
    pub url: String,
    /// Links nested under it.
    pub children: Vec<MenuLink>,
}

#[derive(serde::Deserialize)]
struct MenuRow {
    menu: String,
    id: Uuid,
    parent_id: Option<Uuid>,
    title: String,
    kind: String,
    target: String,
    shown: bool,
}

/// The menu items of the menus named `$1` with whether each is shown, as one JSON array.
const MENU_ROWS: &str = "SELECT COALESCE(json_agg(r ORDER BY r.menu, r.position, r.id), '[]') FROM ( \
         SELECT m.handle AS menu, i.id, i.parent_id, i.position, i.title, i.kind, i.target, \
           CASE i.kind \
             WHEN 'url' THEN true \
             WHEN 'collection' THEN EXISTS (SELECT 1 FROM collections c \
                 WHERE c.handle = i.target AND c.published) \
             WHEN 'product' THEN EXISTS (SELECT 1 FROM products p \
                 WHERE p.handle = i.target AND p.status = 'active') \
             WHEN 'page' THEN EXISTS (SELECT 1 FROM pages g \
                 WHERE g.handle = i.target AND g.published AND g.published_at <= now()) \
             WHEN 'blog' THEN EXISTS (SELECT 1 FROM blogs b WHERE b.handle = i.target) \
             WHEN 'article' THEN EXISTS (SELECT 1 FROM articles a JOIN blogs b ON b.id = a.blog_id \
                 WHERE b.handle || '/' || a.handle = i.target AND a.published \
                   AND a.published_at <= now()) \
             ELSE false \
           END AS shown \
         FROM menus m JOIN menu_items i ON i.menu_id = m.id WHERE m.handle = ANY($1)) r";

/// The menus with these handles, in one query: each item resolved to its URL, nested one
/// level; items whose target is gone or not shown to shoppers (a draft product, an
/// unpublished page) are left out with what is nested under them. A missing menu is empty.
pub async fn menus(
    conn: &mut PgConnection,
    handles: &[&str],
) -> Result<Vec<Vec<MenuLink>>, StoreError> {
    let rows: sqlx::types::Json<Vec<MenuRow>> = sqlx::query_scalar(MENU_ROWS)
        .bind(handles)
        .fetch_one(conn)
        .await?;
    Ok(build_menus(handles, &rows.0))
}

fn build_menus(handles: &[&str], rows: &[MenuRow]) -> Vec<Vec<MenuLink>> {
    let mut out: Vec<Vec<MenuLink>> = vec![Vec::new(); handles.len()];
    // Shown top-level items by id, as (menu index, position in that menu).
    let mut parents: std::collections::HashMap<Uuid, (usize, usize)> =
        std::collections::HashMap::new();
    for r in rows.iter().filter(|r| r.parent_id.is_none() && r.shown) {
        let Some(m) = handles.iter().position(|h| *h == r.menu) else {
            continue;
        };
        parents.insert(r.id, (m, out[m].len()));
        out[m].push(MenuLink {
            title: r.title.clone(),
            url: link_url(&r.kind, &r.target),
            children: Vec::new(),
        });
    }
    for r in rows.iter().filter(|r| r.shown) {
        if let Some((m, i)) = r.parent_id.and_then(|p| parents.get(&p)).copied() {
            out[m][i].children.push(MenuLink {
                title: r.title.clone(),
                url: link_url(&r.kind, &r.target),
                children: Vec::new(),
            });
        }
    }
    out
}

/// What every storefront page shows around its content.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The store's settings.
    pub settings: crate::settings::StoreSettings,
    /// The menus asked for, in the order asked.
    pub menus: Vec<Vec<MenuLink>>,
    /// Units in the cart asked for (0 without one).
    pub cart_count: i64,
}

#[derive(sqlx::FromRow)]
struct FrameRow {
    #[sqlx(flatten)]
    settings: crate::settings::StoreSettings,
    menu_rows: sqlx::types::Json<Vec<MenuRow>>,
    cart_count: i64,
}

/// Settings, menus and the cart count in one round trip: every page needs them.
pub async fn frame(
    conn: &mut PgConnection,
    menu_handles: &[&str],
    cart: Option<Uuid>,
) -> Result<Frame, StoreError> {
    let row: Option<FrameRow> = sqlx::query_as(&format!(
        "SELECT {}, ({MENU_ROWS}) AS menu_rows, \
           (SELECT COALESCE(sum(quantity), 0)::bigint FROM cart_lines WHERE cart_id = $2) \
             AS cart_count \
         FROM settings",
        crate::settings::COLUMNS
    ))
    .bind(menu_handles)
    .bind(cart)
    .fetch_optional(conn)
    .await?;
    let row = row.ok_or(StoreError::NotFound)?;
    Ok(Frame {
        menus: build_menus(menu_handles, &row.menu_rows.0),
        settings: row.settings,
        cart_count: row.cart_count,
    })
}

fn link_url(kind: &str, target: &str) -> String {
    match kind {
        "collection" => format!("/collections/{target}"),
        "product" => format!("/products/{target}"),
        "page" => format!("/pages/{target}"),
        "blog" | "article" => format!("/blogs/{target}"),
        _ => target.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_values_round_trip_and_best_selling_has_its_shopify_name() {
        for (sort, value, _) in Sort::ALL {
            assert_eq!(Sort::parse(value), sort);
            assert_eq!(sort.as_str(), value);
        }
        assert_eq!(Sort::parse("best-selling"), Sort::BestSelling);
        assert_eq!(Sort::parse("nonsense"), Sort::Featured);
    }

    #[test]
    fn a_best_selling_collection_features_units_sold_then_newest() {
        let o = order(Sort::Featured, true, "best-selling");
        assert_eq!(o.expr, "p.units_sold");
        assert!(o.descending);
        assert!(matches!(o.kind, KeyKind::IntThenTime("p.published_at")));
        // "All products" features the newest; a manual collection its stored order.
        assert_eq!(order(Sort::Featured, false, "").expr, "p.published_at");
        assert_eq!(order(Sort::Featured, true, "manual").expr, "cp.position");
        assert_eq!(
            order(Sort::BestSelling, true, "manual").expr,
            "p.units_sold"
        );
    }

    #[test]
    fn cursor_keys_must_fit_the_sort() {
        let sales = KeyKind::IntThenTime("p.published_at");
        assert!(key_is_well_formed(sales, "12:1700000000000000"));
        assert!(!key_is_well_formed(sales, "12"));
        assert!(!key_is_well_formed(sales, "12:x"));
        assert!(key_is_well_formed(KeyKind::Int, "-3"));
        assert!(!key_is_well_formed(KeyKind::Time, "3:4"));
        assert!(key_is_well_formed(KeyKind::Text, "any: title~"));
    }
}
