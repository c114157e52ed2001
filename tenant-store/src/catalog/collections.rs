//! Collections: manual (chosen, ordered products) and automatic (products matching rules on
//! tag, type, vendor, title or price). Automatic membership is materialised in
//! `collection_products` whenever rules or products change, so storefront pages and the
//! admin filter read one table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Handle;
use crate::{StoreError, outbox};

/// Manual or automatic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The merchant picks and orders the products.
    Manual,
    /// Products matching the rules belong to it.
    Automatic,
}

/// One rule of an automatic collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Rule {
    /// `tag`, `type`, `vendor`, `title` or `price`.
    pub field: String,
    /// `equals`, `not_equals`, `contains`, `greater_than` or `less_than`.
    pub relation: String,
    /// The value compared with (a price in minor units for `price`).
    pub value: String,
}

/// What the merchant sends to create or replace a collection.
#[derive(Clone, Debug, Deserialize)]
pub struct CollectionInput {
    /// Title; required.
    pub title: String,
    /// Handle; derived from the title when empty.
    pub handle: Option<String>,
    /// Description (HTML, sanitized).
    pub body_html: String,
    /// Manual or automatic.
    pub kind: Kind,
    /// Sort order of its products on the storefront.
    pub sort_order: String,
    /// Shown on the storefront.
    pub published: bool,
    /// Automatic: products must match every rule, or any with `disjunctive`.
    pub disjunctive: bool,
    /// Automatic: the rules.
    pub rules: Vec<Rule>,
    /// Manual: product handles in order.
    pub product_handles: Vec<String>,
}

/// A collection as stored.
#[derive(Clone, Debug, Serialize)]
pub struct Collection {
    /// Identifier.
    pub id: Uuid,
    /// Handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Sanitized description.
    pub body_html: String,
    /// Manual or automatic.
    pub kind: Kind,
    /// Storefront sort order.
    pub sort_order: String,
    /// Shown on the storefront.
    pub published: bool,
    /// Any rule (true) or all rules (false).
    pub disjunctive: bool,
    /// Rules (automatic).
    pub rules: Vec<Rule>,
    /// Handles of its products in collection order.
    pub product_handles: Vec<String>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

const SORTS: [&str; 8] = [
    "manual",
    "title-asc",
    "title-desc",
    "price-asc",
    "price-desc",
    "created-desc",
    "created-asc",
    "best-selling",
];
const FIELDS: [&str; 5] = ["tag", "type", "vendor", "title", "price"];
const RELATIONS: [&str; 5] = [
    "equals",
    "not_equals",
    "contains",
    "greater_than",
    "less_than",
];

fn validate(input: &CollectionInput) -> Result<Option<Handle>, StoreError> {
    let mut errors = Vec::new();
    if input.title.trim().is_empty() {
        errors.push(("title".to_owned(), "can't be blank".to_owned()));
    }
    let handle = match input
        .handle
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        None => None,
        Some(h) => Handle::parse(h)
            .map_err(|m| errors.push(("handle".into(), m)))
            .ok(),
    };
    if !SORTS.contains(&input.sort_order.as_str()) {
        errors.push(("sort_order".into(), "is not a known sort order".into()));
    }
    if input.kind == Kind::Automatic && input.rules.is_empty() {
        errors.push((
            "rules".into(),
            "an automatic collection needs at least one rule".into(),
        ));
    }
    for (i, r) in input.rules.iter().enumerate() {
        if !FIELDS.contains(&r.field.as_str()) {
            errors.push((
                format!("rules[{i}].field"),
                "must be tag, type, vendor, title or price".into(),
            ));
        }
        if !RELATIONS.contains(&r.relation.as_str()) {
            errors.push((
                format!("rules[{i}].relation"),
                "is not a known relation".into(),
            ));
        }
        if r.value.trim().is_empty() {
            errors.push((format!("rules[{i}].value"), "can't be blank".into()));
        } else if r.field == "price" && r.value.trim().parse::<i64>().is_err() {
            errors.push((
                format!("rules[{i}].value"),
                "must be a price in minor units".into(),
            ));
        }
        if r.field == "price" && r.relation == "contains" {
            errors.push((
                format!("rules[{i}].relation"),
                "a price cannot “contain”".into(),
            ));
        }
    }
    if errors.is_empty() {
        Ok(handle)
    } else {
        Err(StoreError::Fields(errors))
    }
}

/// Creates a collection. Emits `collection.created`.
pub async fn create_collection(
    conn: &mut PgConnection,
    input: CollectionInput,
) -> Result<Collection, StoreError> {
    let given = validate(&input)?;
    let handle = match given {
        Some(h) => h,
        None => free_handle(conn, &input.title).await?,
    };
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO collections (id, handle, title, body_html, kind, sort_order, published, disjunctive) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(handle.as_str())
    .bind(input.title.trim())
    .bind(ammonia::clean(&input.body_html))
    .bind(kind_str(input.kind))
    .bind(&input.sort_order)
    .bind(input.published)
    .bind(input.disjunctive)
    .execute(&mut *conn)
    .await
    .map_err(handle_conflict)?;
    write_members(conn, id, &input).await?;
    let c = get_collection(conn, id).await?;
    outbox::emit(
        conn,
        "collection.created",
        serde_json::json!({ "id": id, "handle": c.handle }),
    )
    .await?;
    Ok(c)
}

/// Replaces a collection's fields, rules and (manual) products. Emits `collection.updated`.
pub async fn update_collection(
    conn: &mut PgConnection,
    id: Uuid,
    input: CollectionInput,
) -> Result<Collection, StoreError> {
    let given = validate(&input)?;
    let old: Option<String> =
        sqlx::query_scalar("SELECT handle FROM collections WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let old = old.ok_or(StoreError::NotFound)?;
    let handle = given.map_or(old, |h| h.as_str().to_owned());
    sqlx::query(
        "UPDATE collections SET handle = $2, title = $3, body_html = $4, kind = $5, sort_order = $6, \
         published = $7, disjunctive = $8, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(&handle)
    .bind(input.title.trim())
    .bind(ammonia::clean(&input.body_html))
    .bind(kind_str(input.kind))
    .bind(&input.sort_order)
    .bind(input.published)
    .bind(input.disjunctive)
    .execute(&mut *conn)
    .await
    .map_err(handle_conflict)?;
    write_members(conn, id, &input).await?;
    let c = get_collection(conn, id).await?;
    outbox::emit(
        conn,
        "collection.updated",
        serde_json::json!({ "id": id, "handle": c.handle }),
    )
    .await?;
    Ok(c)
}

/// Deletes a collection (its products stay). Emits `collection.deleted`.
pub async fn delete_collection(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let handle: Option<String> =
        sqlx::query_scalar("DELETE FROM collections WHERE id = $1 RETURNING handle")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let handle = handle.ok_or(StoreError::NotFound)?;
    outbox::emit(
        conn,
        "collection.deleted",
        serde_json::json!({ "id": id, "handle": handle }),
    )
    .await
}

fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::Manual => "manual",
        Kind::Automatic => "automatic",
    }
}

fn handle_conflict(e: sqlx::Error) -> StoreError {
    match e.as_database_error().and_then(|d| d.constraint()) {
        Some("collections_handle_key") => StoreError::Fields(vec![(
            "handle".into(),
            "is already used by another collection".into(),
        )]),
        _ => StoreError::Database(e),
    }
}

async fn free_handle(conn: &mut PgConnection, title: &str) -> Result<Handle, StoreError> {
    let base = Handle::from_title(title);
    let mut candidate = base.clone();
    let mut n = 2;
    loop {
        let taken: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM collections WHERE handle = $1)")
                .bind(candidate.as_str())
                .fetch_one(&mut *conn)
                .await?;
        if !taken {
            return Ok(candidate);
        }
        candidate = base.with_suffix(n);
        n += 1;
    }
}

async fn write_members(
    conn: &mut PgConnection,
    id: Uuid,
    input: &CollectionInput,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM collection_rules WHERE collection_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    match input.kind {
        Kind::Automatic => {
            for (i, r) in input.rules.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO collection_rules (collection_id, position, field, relation, value) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(i as i16)
                .bind(&r.field)
                .bind(&r.relation)
                .bind(r.value.trim())
                .execute(&mut *conn)
                .await?;
            }
            refresh_collection(conn, id).await
        }
        Kind::Manual => {
            let mut missing = Vec::new();
            let mut ids = Vec::new();
            for (i, handle) in input
                .product_handles
                .iter()
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .enumerate()
            {
                let pid: Option<Uuid> =
                    sqlx::query_scalar("SELECT id FROM products WHERE handle = $1")
                        .bind(handle)
                        .fetch_optional(&mut *conn)
                        .await?;
                match pid {
                    Some(pid) if !ids.contains(&pid) => ids.push(pid),
                    Some(_) => {}
                    None => missing.push((
                        format!("products[{i}]"),
                        format!("no product has the handle “{handle}”"),
                    )),
                }
            }
            if !missing.is_empty() {
                return Err(StoreError::Fields(missing));
            }
            sqlx::query("DELETE FROM collection_products WHERE collection_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            for (pos, pid) in ids.iter().enumerate() {
                sqlx::query("INSERT INTO collection_products (collection_id, product_id, position) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(pid)
                    .bind(pos as i32)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }
    }
}

/// SQL condition for one rule over `p` (a product row); values are bound, never spliced.
fn rule_sql(rule: &Rule, param: usize) -> Option<String> {
    let p = format!("${param}");
    let text = |col: &str| match rule.relation.as_str() {
        "equals" => Some(format!("lower({col}) = lower({p})")),
        "not_equals" => Some(format!("lower({col}) <> lower({p})")),
        "contains" => Some(format!("strpos(lower({col}), lower({p})) > 0")),
        _ => None,
    };
    match rule.field.as_str() {
        "tag" => match rule.relation.as_str() {
            "equals" => Some(format!(
                "EXISTS (SELECT 1 FROM unnest(p.tags) t WHERE lower(t) = lower({p}))"
            )),
            "not_equals" => Some(format!(
                "NOT EXISTS (SELECT 1 FROM unnest(p.tags) t WHERE lower(t) = lower({p}))"
            )),
            "contains" => Some(format!(
                "EXISTS (SELECT 1 FROM unnest(p.tags) t WHERE strpos(lower(t), lower({p})) > 0)"
            )),
            _ => None,
        },
        "type" => text("p.product_type"),
        "vendor" => text("p.vendor"),
        "title" => text("p.title"),
        "price" => {
            let op = match rule.relation.as_str() {
                "equals" => "=",
                "not_equals" => "<>",
                "greater_than" => ">",
                "less_than" => "<",
                _ => return None,
            };
            Some(format!(
                "(SELECT min(v.price_minor) FROM variants v WHERE v.product_id = p.id) {op} ({p})::bigint"
            ))
        }
        _ => None,
    }
}

/// An automatic collection's rules as one SQL condition over `p`, with the values to bind
/// from `$first_param` on. `None` for manual collections (or no usable rule).
async fn rule_condition(
    conn: &mut PgConnection,
    id: Uuid,
    first_param: usize,
) -> Result<Option<(String, Vec<String>)>, StoreError> {
    let row: Option<(String, bool)> =
        sqlx::query_as("SELECT kind, disjunctive FROM collections WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((kind, disjunctive)) = row else {
        return Err(StoreError::NotFound);
    };
    if kind != "automatic" {
        return Ok(None);
    }
    let rules: Vec<Rule> = sqlx::query_as(
        "SELECT field, relation, value FROM collection_rules WHERE collection_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut parts = Vec::new();
    let mut values = Vec::new();
    for r in &rules {
        if let Some(sql) = rule_sql(r, first_param + values.len()) {
            parts.push(sql);
            values.push(r.value.clone());
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some((
        parts.join(if disjunctive { " OR " } else { " AND " }),
        values,
    )))
}

/// Recomputes an automatic collection's products (ordered by title).
pub async fn refresh_collection(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let condition = rule_condition(conn, id, 2).await?;
    let kind: String = sqlx::query_scalar("SELECT kind FROM collections WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    if kind != "automatic" {
        return Ok(());
    }
    sqlx::query("DELETE FROM collection_products WHERE collection_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let Some((condition, values)) = condition else {
        return Ok(());
    };
    let sql = format!(
        "INSERT INTO collection_products (collection_id, product_id, position) \
         SELECT $1, p.id, (row_number() OVER (ORDER BY p.title, p.id))::int FROM products p WHERE {condition}"
    );
    let mut q = sqlx::query(&sql).bind(id);
    for v in values {
        q = q.bind(v);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Re-evaluates one product against every automatic collection (after it changed): cheap
/// enough for every save and every imported row.
pub async fn refresh_for_product(
    conn: &mut PgConnection,
    product_id: Uuid,
) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM collections WHERE kind = 'automatic'")
        .fetch_all(&mut *conn)
        .await?;
    for id in ids {
        let condition = rule_condition(conn, id, 3).await?;
        let matches = match &condition {
            None => false,
            Some((condition, values)) => {
                let sql = format!(
                    "SELECT EXISTS (SELECT 1 FROM products p WHERE p.id = $2 AND $1::uuid IS NOT NULL AND ({condition}))"
                );
                let mut q = sqlx::query_scalar::<_, bool>(&sql)
                    .bind(id)
                    .bind(product_id);
                for v in values {
                    q = q.bind(v.clone());
                }
                q.fetch_one(&mut *conn).await?
            }
        };
        if matches {
            sqlx::query(
                "INSERT INTO collection_products (collection_id, product_id, position) \
                 SELECT $1, $2, coalesce(max(position), 0) + 1 FROM collection_products WHERE collection_id = $1 \
                 ON CONFLICT (collection_id, product_id) DO NOTHING",
            )
            .bind(id)
            .bind(product_id)
            .execute(&mut *conn)
            .await?;
        } else {
            sqlx::query(
                "DELETE FROM collection_products WHERE collection_id = $1 AND product_id = $2",
            )
            .bind(id)
            .bind(product_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

type CollectionRow = (
    Uuid,
    String,
    String,
    String,
    String,
    String,
    bool,
    bool,
    DateTime<Utc>,
);

/// The collection with its rules and products.
pub async fn get_collection(conn: &mut PgConnection, id: Uuid) -> Result<Collection, StoreError> {
    let row: Option<CollectionRow> = sqlx::query_as(
        "SELECT id, handle, title, body_html, kind, sort_order, published, disjunctive, updated_at \
         FROM collections WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, handle, title, body_html, kind, sort_order, published, disjunctive, updated_at) =
        row.ok_or(StoreError::NotFound)?;
    let rules: Vec<Rule> = sqlx::query_as(
        "SELECT field, relation, value FROM collection_rules WHERE collection_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let product_handles: Vec<String> = sqlx::query_scalar(
        "SELECT p.handle FROM collection_products cp JOIN products p ON p.id = cp.product_id \
         WHERE cp.collection_id = $1 ORDER BY cp.position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Collection {
        id,
        handle,
        title,
        body_html,
        kind: if kind == "automatic" {
            Kind::Automatic
        } else {
            Kind::Manual
        },
        sort_order,
        published,
        disjunctive,
        rules,
        product_handles,
        updated_at,
    })
}

/// A collection in the admin list.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct CollectionSummary {
    /// Identifier.
    pub id: Uuid,
    /// Handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// `manual` or `automatic`.
    pub kind: String,
    /// Shown on the storefront.
    pub published: bool,
    /// Number of products.
    pub products_count: i64,
}

/// Every collection, by title.
pub async fn list_collections(
    conn: &mut PgConnection,
) -> Result<Vec<CollectionSummary>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.handle, c.title, c.kind, c.published, \
           (SELECT count(*) FROM collection_products cp WHERE cp.collection_id = c.id) AS products_count \
         FROM collections c ORDER BY c.title, c.id",
    )
    .fetch_all(conn)
    .await?)
}
