//! Products: validation, create/update/delete, lookups and the admin list.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    BodyFormat, Handle, Image, MAX_OPTIONS, MAX_PRICE_MINOR, MAX_VARIANTS, Product, ProductInput,
    Status, Variant, inventory, render_body,
};
use crate::{StoreError, outbox};

/// Columns of `products` read into a [`Product`] (named: never `SELECT *`).
const PRODUCT_COLUMNS: &str = "id, handle, title, body_source, body_format, body_html, status, \
     vendor, product_type, tags, seo_title, seo_description, published_at, created_at, updated_at";
const VARIANT_COLUMNS: &str = "id, position, option1, option2, option3, sku, price_minor, \
     compare_at_minor, weight_grams, track_inventory, inventory_quantity";

/// The JSON parts [`fetch_product`] reads next to a product's row.
struct ProductParts {
    options: sqlx::types::Json<Vec<String>>,
    variants: sqlx::types::Json<Vec<Variant>>,
    images: sqlx::types::Json<Vec<Image>>,
}

struct ProductWithParts {
    row: ProductRow,
    parts: ProductParts,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for ProductWithParts {
    fn from_row(r: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row as _;
        Ok(Self {
            row: <ProductRow as sqlx::FromRow<'r, sqlx::postgres::PgRow>>::from_row(r)?,
            parts: ProductParts {
                options: r.try_get("options")?,
                variants: r.try_get("variants")?,
                images: r.try_get("images")?,
            },
        })
    }
}

type ProductRow = (
    Uuid,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Vec<String>,
    String,
    String,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// Input after validation.
struct Valid {
    title: String,
    handle: Option<Handle>,
    body_source: String,
    body_format: BodyFormat,
    body_html: String,
    status: Option<Status>,
    vendor: String,
    product_type: String,
    tags: Vec<String>,
    seo_title: String,
    seo_description: String,
    options: Vec<String>,
    variants: Vec<super::VariantInput>,
}

/// The refusal of a price over [`MAX_PRICE_MINOR`].
const TOO_LARGE: &str = "is larger than any price a store may ask (100,000,000,000.00)";

fn validate(input: ProductInput) -> Result<Valid, StoreError> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut err = |f: &str, m: &str| errors.push((f.to_owned(), m.to_owned()));
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        err("title", "can't be blank");
    } else if title.chars().count() > 255 {
        err("title", "must be at most 255 characters");
    }
    let handle = match input.handle.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(h) => match Handle::parse(h) {
            Ok(h) => Some(h),
            Err(m) => {
                err("handle", &m);
                None
            }
        },
    };
    let options: Vec<String> = input.options.iter().map(|o| o.trim().to_owned()).collect();
    if options.len() > MAX_OPTIONS {
        err("options", "a product has at most 3 options");
    }
    if options.iter().any(String::is_empty) {
        err("options", "option names can't be blank");
    }
    if options.iter().collect::<HashSet<_>>().len() != options.len() {
        err("options", "option names must differ");
    }
    if input.variants.is_empty() {
        err("variants", "a product needs at least one variant");
    }
    if input.variants.len() > MAX_VARIANTS {
        err("variants", "a product has at most 100 variants");
    }
    if options.is_empty() && input.variants.len() > 1 {
        err("variants", "a product without options has one variant");
    }
    let mut combos = HashSet::new();
    let mut skus = HashSet::new();
    let mut variants = Vec::with_capacity(input.variants.len());
    for (i, mut v) in input.variants.into_iter().enumerate() {
        let field = |f: &str| format!("variants[{i}].{f}");
        v.option_values = v
            .option_values
            .iter()
            .map(|o| o.trim().to_owned())
            .collect();
        v.sku = v.sku.trim().to_owned();
        if v.option_values.len() != options.len() || v.option_values.iter().any(String::is_empty) {
            errors.push((
                field("options"),
                format!("needs a value for each of the {} option(s)", options.len()),
            ));
        } else if !combos.insert(v.option_values.clone()) {
            errors.push((
                field("options"),
                "another variant has the same option values".into(),
            ));
        }
        if v.sku.len() > 255 {
            errors.push((field("sku"), "must be at most 255 characters".into()));
        } else if !v.sku.is_empty() && !skus.insert(v.sku.clone()) {
            errors.push((field("sku"), "is used by another variant".into()));
        }
        if v.price_minor < 0 {
            errors.push((field("price"), "can't be negative".into()));
        } else if v.price_minor > MAX_PRICE_MINOR {
            errors.push((field("price"), TOO_LARGE.into()));
        }
        if v.compare_at_minor.is_some_and(|c| c < 0) {
            errors.push((field("compare_at_price"), "can't be negative".into()));
        } else if v.compare_at_minor.is_some_and(|c| c > MAX_PRICE_MINOR) {
            errors.push((field("compare_at_price"), TOO_LARGE.into()));
        }
        if v.inventory_quantity < 0 {
            errors.push((field("inventory_quantity"), "can't be negative".into()));
        }
        if v.weight_grams < 0 {
            errors.push((field("weight"), "can't be negative".into()));
        }
        variants.push(v);
    }
    let mut seen = HashSet::new();
    let tags: Vec<String> = input
        .tags
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
        .collect();
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    Ok(Valid {
        body_html: render_body(&input.body, input.body_format),
        title,
        handle,
        body_source: input.body,
        body_format: input.body_format,
        status: input.status,
        vendor: input.vendor.trim().to_owned(),
        product_type: input.product_type.trim().to_owned(),
        tags,
        seo_title: input.seo_title.trim().to_owned(),
        seo_description: input.seo_description.trim().to_owned(),
        options,
        variants,
    })
}

/// Turns the database's unique violations into field errors; `variant` is the index of the
/// variant being written, if any.
fn conflict(e: sqlx::Error, variant: Option<usize>) -> StoreError {
    let taken = || "is already used by another product".to_owned();
    match e.as_database_error().and_then(|d| d.constraint()) {
        Some("products_handle_key") => StoreError::Fields(vec![("handle".into(), taken())]),
        Some("variants_sku_key") => StoreError::Fields(vec![(
            format!("variants[{}].sku", variant.unwrap_or(0)),
            taken(),
        )]),
        _ => StoreError::Database(e),
    }
}

/// A free handle derived from `title` (`shirt`, `shirt-2`, ...), or the one given.
async fn choose_handle(
    conn: &mut PgConnection,
    given: Option<Handle>,
    title: &str,
    except: Option<Uuid>,
) -> Result<Handle, StoreError> {
    if let Some(h) = given {
        return Ok(h);
    }
    let base = Handle::from_title(title);
    let taken: Vec<String> = sqlx::query_scalar(
        "SELECT handle FROM products WHERE (handle = $1 OR handle LIKE $1 || '-%') \
         AND id IS DISTINCT FROM $2",
    )
    .bind(base.as_str())
    .bind(except)
    .fetch_all(&mut *conn)
    .await?;
    let taken: HashSet<String> = taken.into_iter().collect();
    if !taken.contains(base.as_str()) {
        return Ok(base);
    }
    let n = (2..)
        .find(|n| !taken.contains(base.with_suffix(*n).as_str()))
        .unwrap_or(2);
    Ok(base.with_suffix(n))
}

/// How many products the store has (for plan limits).
pub async fn count_products(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(conn)
        .await?)
}

/// Creates a product with its options and variants. `limit` is the plan's product limit;
/// concurrent creations are serialised so it holds exactly. Emits `product.created`.
pub async fn create_product(
    conn: &mut PgConnection,
    input: ProductInput,
    actor: &str,
    limit: Option<i64>,
) -> Result<Product, StoreError> {
    let v = validate(input)?;
    if let Some(limit) = limit {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':products'))")
            .execute(&mut *conn)
            .await?;
        if count_products(conn).await? >= limit {
            return Err(StoreError::LimitReached {
                what: "products",
                limit,
            });
        }
    }
    let id = Uuid::now_v7();
    let handle = choose_handle(conn, v.handle.clone(), &v.title, None).await?;
    let status = v.status.unwrap_or(Status::Draft);
    sqlx::query(
        "INSERT INTO products (id, handle, title, body_source, body_format, body_html, status, vendor, \
         product_type, tags, seo_title, seo_description, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $7 = 'active' THEN now() END)",
    )
    .bind(id)
    .bind(handle.as_str())
    .bind(&v.title)
    .bind(&v.body_source)
    .bind(v.body_format.as_str())
    .bind(&v.body_html)
    .bind(status.as_str())
    .bind(&v.vendor)
    .bind(&v.product_type)
    .bind(&v.tags)
    .bind(&v.seo_title)
    .bind(&v.seo_description)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict(e, None))?;
    write_options(conn, id, &v.options).await?;
    write_variants(conn, id, &v.variants, actor).await?;
    super::collections::refresh_for_product(conn, id).await?;
    let product = get_product(conn, id).await?;
    outbox::emit(conn, "product.created", event(&product)).await?;
    Ok(product)
}

/// Replaces a product's fields, options and variants. Variants sent with their id are
/// updated in place, others are created, and those not sent are deleted. A changed handle
/// leaves a redirect from the old one. Emits `product.updated`.
pub async fn update_product(
    conn: &mut PgConnection,
    id: Uuid,
    input: ProductInput,
    actor: &str,
) -> Result<Product, StoreError> {
    let v = validate(input)?;
    let old: Option<(String, String)> =
        sqlx::query_as("SELECT handle, status FROM products WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let (old_handle, old_status) = old.ok_or(StoreError::NotFound)?;
    let handle = match v.handle.clone() {
        Some(h) => h,
        None => Handle::parse(&old_handle).map_err(|m| StoreError::invalid("handle", m))?,
    };
    let status = v.status.map_or(old_status, |s| s.as_str().to_owned());
    sqlx::query(
        "UPDATE products SET handle = $2, title = $3, body_source = $4, body_format = $5, body_html = $6, \
         status = $7, vendor = $8, product_type = $9, tags = $10, seo_title = $11, seo_description = $12, \
         published_at = CASE WHEN $7 = 'active' THEN coalesce(published_at, now()) ELSE published_at END, \
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(handle.as_str())
    .bind(&v.title)
    .bind(&v.body_source)
    .bind(v.body_format.as_str())
    .bind(&v.body_html)
    .bind(&status)
    .bind(&v.vendor)
    .bind(&v.product_type)
    .bind(&v.tags)
    .bind(&v.seo_title)
    .bind(&v.seo_description)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict(e, None))?;
    if handle.as_str() != old_handle {
        sqlx::query(
            "INSERT INTO product_handle_redirects (old_handle, product_id) VALUES ($1, $2) \
             ON CONFLICT (old_handle) DO UPDATE SET product_id = EXCLUDED.product_id",
        )
        .bind(&old_handle)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        // The new handle is live again: it must not redirect anywhere.
        sqlx::query("DELETE FROM product_handle_redirects WHERE old_handle = $1")
            .bind(handle.as_str())
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM product_options WHERE product_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    write_options(conn, id, &v.options).await?;
    write_variants(conn, id, &v.variants, actor).await?;
    super::collections::refresh_for_product(conn, id).await?;
    let product = get_product(conn, id).await?;
    outbox::emit(conn, "product.updated", event(&product)).await?;
    Ok(product)
}

async fn write_options(
    conn: &mut PgConnection,
    id: Uuid,
    options: &[String],
) -> Result<(), StoreError> {
    for (i, name) in options.iter().enumerate() {
        sqlx::query("INSERT INTO product_options (product_id, position, name) VALUES ($1, $2, $3)")
            .bind(id)
            .bind((i + 1) as i16)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn write_variants(
    conn: &mut PgConnection,
    product_id: Uuid,
    variants: &[super::VariantInput],
    actor: &str,
) -> Result<(), StoreError> {
    let keep: Vec<Uuid> = variants.iter().filter_map(|v| v.id).collect();
    sqlx::query("DELETE FROM variants WHERE product_id = $1 AND NOT (id = ANY($2))")
        .bind(product_id)
        .bind(&keep)
        .execute(&mut *conn)
        .await?;
    // Positions and option values move in two steps so that swapping two variants' values
    // never trips the unique constraint midway.
    sqlx::query("UPDATE variants SET option1 = id::text, option2 = NULL, option3 = NULL WHERE product_id = $1")
        .bind(product_id)
        .execute(&mut *conn)
        .await?;
    for (i, v) in variants.iter().enumerate() {
        let opt = |n: usize| v.option_values.get(n).cloned();
        let existing: Option<i32> = match v.id {
            Some(id) => {
                sqlx::query_scalar(
                    "SELECT inventory_quantity FROM variants WHERE id = $1 AND product_id = $2",
                )
                .bind(id)
                .bind(product_id)
                .fetch_optional(&mut *conn)
                .await?
            }
            None => None,
        };
        let variant_id = match (v.id, existing) {
            (Some(id), Some(_)) => {
                sqlx::query(
                    "UPDATE variants SET position = $2, option1 = $3, option2 = $4, option3 = $5, sku = $6, \
                     price_minor = $7, compare_at_minor = $8, weight_grams = $9, track_inventory = $10, \
                     updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .bind((i + 1) as i32)
                .bind(opt(0))
                .bind(opt(1))
                .bind(opt(2))
                .bind(&v.sku)
                .bind(v.price_minor)
                .bind(v.compare_at_minor)
                .bind(v.weight_grams)
                .bind(v.track_inventory)
                .execute(&mut *conn)
                .await
                .map_err(|e| conflict(e, Some(i)))?;
                id
            }
            (Some(_), None) => {
                return Err(StoreError::Fields(vec![(
                    format!("variants[{i}].id"),
                    "is not a variant of this product".into(),
                )]));
            }
            (None, _) => {
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO variants (id, product_id, position, option1, option2, option3, sku, price_minor, \
                     compare_at_minor, weight_grams, track_inventory, inventory_quantity) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0)",
                )
                .bind(id)
                .bind(product_id)
                .bind((i + 1) as i32)
                .bind(opt(0))
                .bind(opt(1))
                .bind(opt(2))
                .bind(&v.sku)
                .bind(v.price_minor)
                .bind(v.compare_at_minor)
                .bind(v.weight_grams)
                .bind(v.track_inventory)
                .execute(&mut *conn)
                .await
                .map_err(|e| conflict(e, Some(i)))?;
                id
            }
        };
        // Stock changes go through the adjustment log like any other.
        let current = existing.unwrap_or(0);
        if v.inventory_quantity != current {
            let reason = if existing.is_some() {
                "edited"
            } else {
                "initial stock"
            };
            inventory::adjust(
                conn,
                variant_id,
                v.inventory_quantity - current,
                reason,
                actor,
            )
            .await?;
        }
    }
    Ok(())
}

/// The product with its options, variants and images.
pub async fn get_product(conn: &mut PgConnection, id: Uuid) -> Result<Product, StoreError> {
    fetch_product(conn, "p.id = $1::uuid", &id.to_string()).await
}

/// The query reading products matching `condition` (on `p`) with their options, variants
/// and images, one row per product.
/// A statement reading products matching `condition` (on `p`) with their options,
/// variants and images (JSON columns), for [`product_from_row`].
pub(crate) fn product_query(condition: &str) -> String {
    let columns = PRODUCT_COLUMNS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, \
           (SELECT COALESCE(json_agg(o.name ORDER BY o.position), '[]') \
              FROM product_options o WHERE o.product_id = p.id) AS options, \
           (SELECT COALESCE(json_agg(v ORDER BY v.position), '[]') FROM ( \
              SELECT {VARIANT_COLUMNS} FROM variants WHERE product_id = p.id) v) AS variants, \
           (SELECT COALESCE(json_agg(i ORDER BY i.position), '[]') FROM ( \
              SELECT id, position, alt, storage_key, content_type, width, height \
              FROM product_images WHERE product_id = p.id) i) AS images \
         FROM products p WHERE {condition}"
    )
}

/// Reads one product matching `condition` (on `p`, with `$1` bound to `value`) with its
/// options, variants and images in one query.
async fn fetch_product(
    conn: &mut PgConnection,
    condition: &str,
    value: &str,
) -> Result<Product, StoreError> {
    let row = sqlx::query_as::<_, ProductWithParts>(&product_query(condition))
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    assemble(row)
}

/// These products, whole, in the order of `ids` (ids of no product are left out), in one
/// query: lists that show full products (the Admin API) read a page at once.
pub async fn get_products(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<Product>, StoreError> {
    let rows = sqlx::query_as::<_, ProductWithParts>(&product_query("p.id = ANY($1)"))
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    let mut by_id: std::collections::HashMap<Uuid, Product> = rows
        .into_iter()
        .map(|r| assemble(r).map(|p| (p.id, p)))
        .collect::<Result<_, _>>()?;
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// A product from a row of a [`product_query`] statement (its first columns and the JSON
/// ones by name; more columns may follow).
pub(crate) fn product_from_row(r: &sqlx::postgres::PgRow) -> Result<Product, StoreError> {
    use sqlx::FromRow as _;
    assemble(ProductWithParts::from_row(r)?)
}

/// A product from its row and JSON parts.
fn assemble(r: ProductWithParts) -> Result<Product, StoreError> {
    let (row, parts) = (r.row, r.parts);
    let (options, variants, images) = (parts.options.0, parts.variants.0, parts.images.0);
    let (
        id,
        handle,
        title,
        body_source,
        body_format,
        body_html,
        status,
        vendor,
        product_type,
        tags,
        seo_title,
        seo_description,
        published_at,
        created_at,
        updated_at,
    ) = row;
    Ok(Product {
        id,
        handle,
        title,
        body_source,
        body_format: if body_format == "markdown" {
            BodyFormat::Markdown
        } else {
            BodyFormat::Html
        },
        body_html,
        status: Status::parse(&status).map_err(|m| StoreError::invalid("status", m))?,
        vendor,
        product_type,
        tags,
        seo_title,
        seo_description,
        options,
        variants,
        images,
        published_at,
        created_at,
        updated_at,
    })
}

/// What a handle leads to.
#[derive(Debug)]
pub enum Found {
    /// The product with this handle.
    Product(Box<Product>),
    /// The product's handle changed: answer 301 to this one.
    MovedTo(String),
}

/// Finds a product by its handle, or by a handle it used to have.
pub async fn find_by_handle(conn: &mut PgConnection, handle: &str) -> Result<Found, StoreError> {
    match fetch_product(conn, "p.handle = $1", handle).await {
        Ok(p) => return Ok(Found::Product(Box::new(p))),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e),
    }
    let moved: Option<String> = sqlx::query_scalar(
        "SELECT p.handle FROM product_handle_redirects r JOIN products p ON p.id = r.product_id \
         WHERE r.old_handle = $1",
    )
    .bind(handle)
    .fetch_optional(&mut *conn)
    .await?;
    moved.map(Found::MovedTo).ok_or(StoreError::NotFound)
}

/// Deletes a product (variants, images, stock history go with it). Emits `product.deleted`.
pub async fn delete_product(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let handle: Option<String> =
        sqlx::query_scalar("DELETE FROM products WHERE id = $1 RETURNING handle")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let handle = handle.ok_or(StoreError::NotFound)?;
    outbox::emit(
        conn,
        "product.deleted",
        serde_json::json!({ "id": id, "handle": handle }),
    )
    .await
}

/// Sets the status of several products at once (bulk publish/archive). Returns how many
/// changed; each emits `product.updated`.
pub async fn set_status(
    conn: &mut PgConnection,
    ids: &[Uuid],
    status: Status,
) -> Result<u64, StoreError> {
    let changed: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE products SET status = $2, updated_at = now(), \
         published_at = CASE WHEN $2 = 'active' THEN coalesce(published_at, now()) ELSE published_at END \
         WHERE id = ANY($1) AND status <> $2 RETURNING id",
    )
    .bind(ids)
    .bind(status.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for id in &changed {
        let product = get_product(conn, *id).await?;
        outbox::emit(conn, "product.updated", event(&product)).await?;
    }
    Ok(changed.len() as u64)
}

fn event(p: &Product) -> serde_json::Value {
    serde_json::json!({ "id": p.id, "handle": p.handle, "status": p.status.as_str() })
}

/// A position in the product list (newest change first), as an opaque string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    updated_at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    /// The cursor as a URL-safe string.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.updated_at.timestamp_micros(),
            self.id.simple()
        )
    }

    /// Reads a cursor; anything malformed is refused rather than guessed at.
    pub fn decode(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::invalid("page_info", "is not a valid page cursor");
        let (micros, id) = s.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(Self {
            updated_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

/// Filters for the admin product list.
#[derive(Clone, Debug, Default)]
pub struct ProductFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Words found in the title, vendor, type, a tag or a SKU.
    pub query: Option<String>,
    /// Only products in this collection.
    pub collection_id: Option<Uuid>,
    /// Continue after this position.
    pub after: Option<Cursor>,
    /// Page size (1 to 250).
    pub limit: i64,
}

/// One row of the admin list.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ProductSummary {
    /// Identifier.
    pub id: Uuid,
    /// Handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Status name.
    pub status: String,
    /// Brand.
    pub vendor: String,
    /// The merchant's category.
    pub product_type: String,
    /// Number of variants.
    pub variants_count: i64,
    /// Units in stock over tracked variants.
    pub inventory: i64,
    /// Lowest variant price in minor units.
    pub price_min_minor: Option<i64>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A page of the list and where the next one starts.
#[derive(Clone, Debug)]
pub struct ProductPage {
    /// The rows.
    pub products: Vec<ProductSummary>,
    /// The next page's cursor, when there is one.
    pub next: Option<Cursor>,
}

/// The admin list: newest change first, keyset-paginated (page 400 costs what page 1 costs).
pub async fn list_products(
    conn: &mut PgConnection,
    filter: &ProductFilter,
) -> Result<ProductPage, StoreError> {
    let limit = filter.limit.clamp(1, 250);
    let pattern = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| {
            format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
    let mut rows: Vec<ProductSummary> = sqlx::query_as(
        "SELECT p.id, p.handle, p.title, p.status, p.vendor, p.product_type, \
           (SELECT count(*) FROM variants v WHERE v.product_id = p.id) AS variants_count, \
           (SELECT coalesce(sum(v.inventory_quantity), 0)::bigint FROM variants v \
              WHERE v.product_id = p.id AND v.track_inventory) AS inventory, \
           (SELECT min(v.price_minor) FROM variants v WHERE v.product_id = p.id) AS price_min_minor, \
           p.updated_at \
         FROM products p \
         WHERE ($1::text IS NULL OR p.status = $1) \
           AND ($2::text IS NULL OR p.title ILIKE $2 OR p.vendor ILIKE $2 OR p.product_type ILIKE $2 \
                OR EXISTS (SELECT 1 FROM unnest(p.tags) t WHERE t ILIKE $2) \
                OR EXISTS (SELECT 1 FROM variants v WHERE v.product_id = p.id AND v.sku ILIKE $2)) \
           AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM collection_products cp \
                WHERE cp.collection_id = $3 AND cp.product_id = p.id)) \
           AND ($4::timestamptz IS NULL OR (p.updated_at, p.id) < ($4, $5)) \
         ORDER BY p.updated_at DESC, p.id DESC LIMIT $6",
    )
    .bind(filter.status.map(Status::as_str))
    .bind(pattern)
    .bind(filter.collection_id)
    .bind(filter.after.as_ref().map(|c| c.updated_at))
    .bind(filter.after.as_ref().map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor {
            updated_at: r.updated_at,
            id: r.id,
        })
    } else {
        None
    };
    Ok(ProductPage {
        products: rows,
        next,
    })
}
