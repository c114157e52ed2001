//! `/admin/api/v1/custom_collections`, `/smart_collections` and `/collections/{id}`: the
//! store's manual and automatic collections in Shopify's shapes (read-only for now).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use billing::{Currency, Money};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tenant_store::catalog::collections::{self, Collection, Kind};
use tenant_store::content::IdCursor;
use tenant_store::settings;
use utoipa::ToSchema;
use uuid::Uuid;

use super::pages::etagged;
use super::paging::Paging;
use super::{ApiClient, ApiError, path_id};
use crate::api_tokens::Scope;
use crate::app::AppState;
use crate::error::AppError;

/// A rule of a smart collection, in Shopify's words.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleJson {
    /// `tag`, `type`, `vendor`, `title` or `variant_price`.
    pub column: String,
    /// `equals`, `not_equals`, `contains`, `greater_than` or `less_than`.
    pub relation: String,
    /// The value compared with (a decimal amount for `variant_price`).
    pub condition: String,
}

/// A collection as the API shows it. Custom collections carry neither `rules` nor
/// `disjunctive`; `collection_type` and `products_count` come with `/collections/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionJson {
    /// Identifier.
    pub id: Uuid,
    /// URL handle (`/collections/{handle}`).
    pub handle: String,
    /// Title.
    pub title: String,
    /// The description as sanitized HTML.
    pub body_html: String,
    /// How its products are ordered (`manual`, `alpha-asc`, `price-desc`, ...).
    #[schema(example = "manual")]
    pub sort_order: String,
    /// Shown on the storefront.
    pub published: bool,
    /// Where it is published (`web`).
    pub published_scope: &'static str,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Smart collections: its rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RuleJson>>,
    /// Smart collections: products match any rule (true) or all (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disjunctive: Option<bool>,
    /// `/collections/{id}` only: `custom` or `smart`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_type: Option<&'static str>,
    /// `/collections/{id}` only: how many products it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products_count: Option<usize>,
}

/// `{"custom_collections": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomCollectionList {
    /// Manual collections, in creation order.
    pub custom_collections: Vec<CollectionJson>,
}

/// `{"smart_collections": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmartCollectionList {
    /// Automatic collections, in creation order.
    pub smart_collections: Vec<CollectionJson>,
}

/// `{"custom_collection": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomCollectionEnvelope {
    /// The collection.
    pub custom_collection: CollectionJson,
}

/// `{"smart_collection": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmartCollectionEnvelope {
    /// The collection.
    pub smart_collection: CollectionJson,
}

/// `{"collection": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionEnvelope {
    /// The collection.
    pub collection: CollectionJson,
}

/// Shopify's name for a sort order.
fn sort_name(ours: &str) -> String {
    match ours {
        "title-asc" => "alpha-asc",
        "title-desc" => "alpha-desc",
        "created-asc" => "created",
        other => other,
    }
    .to_owned()
}

/// The API's view of a collection; `combined` adds `collection_type` and `products_count`.
fn collection_json(c: &Collection, currency: Currency, combined: bool) -> CollectionJson {
    let smart = c.kind == Kind::Automatic;
    let rules = smart.then(|| {
        c.rules
            .iter()
            .map(|r| {
                let price = r.field == "price";
                RuleJson {
                    column: if price {
                        "variant_price".into()
                    } else {
                        r.field.clone()
                    },
                    relation: r.relation.clone(),
                    condition: match r.value.parse::<i64>() {
                        Ok(minor) if price => Money::new(minor, currency).to_decimal_string(),
                        _ => r.value.clone(),
                    },
                }
            })
            .collect()
    });
    CollectionJson {
        id: c.id,
        handle: c.handle.clone(),
        title: c.title.clone(),
        body_html: c.body_html.clone(),
        sort_order: sort_name(&c.sort_order),
        published: c.published,
        published_scope: "web",
        updated_at: c.updated_at,
        rules,
        disjunctive: smart.then_some(c.disjunctive),
        collection_type: combined.then_some(if smart { "smart" } else { "custom" }),
        products_count: combined.then_some(c.product_handles.len()),
    }
}

async fn currency(conn: &mut sqlx::PgConnection) -> Result<Currency, ApiError> {
    let code = settings::load(conn).await?.currency;
    Currency::parse(&code)
        .map_err(|e| ApiError::from(anyhow::anyhow!("store currency {code:?}: {e}")))
}

/// A page of the collections of one kind, in creation (id) order, as `wrap` shapes it,
/// with a `Link` to the next page.
async fn list_kind<B: Serialize>(
    app: &AppState,
    client: &ApiClient,
    (uri, headers): (&Uri, &HeaderMap),
    kind: Kind,
    wrap: impl FnOnce(Vec<CollectionJson>) -> B,
) -> Result<Response, ApiError> {
    client.require(Scope::ProductsRead)?;
    let paging = Paging::parse(uri.query())?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let currency = currency(&mut tx).await?;
    let wanted = if kind == Kind::Automatic {
        "automatic"
    } else {
        "manual"
    };
    // Stores have tens of collections: the list is read whole and paged here.
    let mut ids: Vec<Uuid> = collections::list_collections(&mut tx)
        .await?
        .into_iter()
        .filter(|c| c.kind == wanted && paging.page_info.is_none_or(|after| c.id > after.0))
        .map(|c| c.id)
        .collect();
    ids.sort();
    let limit = paging.limit as usize;
    let next = (ids.len() > limit).then(|| IdCursor(ids[limit - 1]));
    let mut out = Vec::with_capacity(limit.min(ids.len()));
    for id in ids.into_iter().take(limit) {
        let c = collections::get_collection(&mut tx, id).await?;
        out.push(collection_json(&c, currency, false));
    }
    tx.commit().await?;
    Ok(paging.respond(app, headers, uri, next, wrap(out)))
}

/// The collection `raw` (`.json` accepted) when it is of `kind` (any kind for `None`), as
/// `wrap` shapes it, with an `ETag`.
async fn show_kind<B: Serialize>(
    app: &AppState,
    client: &ApiClient,
    (raw, headers): (&str, &HeaderMap),
    kind: Option<Kind>,
    wrap: impl FnOnce(CollectionJson) -> B,
) -> Result<Response, ApiError> {
    client.require(Scope::ProductsRead)?;
    let id = path_id(raw)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let currency = currency(&mut tx).await?;
    let c = collections::get_collection(&mut tx, id).await?;
    tx.commit().await?;
    if kind.is_some_and(|k| k != c.kind) {
        return Err(AppError::NotFound.into());
    }
    let body = wrap(collection_json(&c, currency, kind.is_none()));
    etagged(StatusCode::OK, &body, Some(headers))
}

/// `GET /admin/api/v1/custom_collections.json`: manual collections.
#[utoipa::path(
    get,
    path = "/admin/api/v1/custom_collections",
    tag = "collections",
    params(
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 250 (default 50)"),
        ("page_info" = Option<String>, Query, description = "Cursor from the previous page's `Link` header"),
    ),
    responses(
        (status = 200, description = "Manual collections", body = CustomCollectionList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:read"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_custom_collections(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    list_kind(&app, &client, (&uri, &headers), Kind::Manual, |list| {
        CustomCollectionList {
            custom_collections: list,
        }
    })
    .await
}

/// `GET /admin/api/v1/smart_collections.json`: automatic collections with their rules.
#[utoipa::path(
    get,
    path = "/admin/api/v1/smart_collections",
    tag = "collections",
    params(
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 250 (default 50)"),
        ("page_info" = Option<String>, Query, description = "Cursor from the previous page's `Link` header"),
    ),
    responses(
        (status = 200, description = "Automatic collections", body = SmartCollectionList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:read"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_smart_collections(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    list_kind(&app, &client, (&uri, &headers), Kind::Automatic, |list| {
        SmartCollectionList {
            smart_collections: list,
        }
    })
    .await
}

/// `GET /admin/api/v1/custom_collections/{id}.json`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/custom_collections/{id}",
    tag = "collections",
    params(("id" = Uuid, Path, description = "The collection's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "The collection", body = CustomCollectionEnvelope),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:read"),
        (status = 404, description = "No such manual collection in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn show_custom_collection(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let kind = Some(Kind::Manual);
    show_kind(&app, &client, (&id, &headers), kind, |c| {
        CustomCollectionEnvelope {
            custom_collection: c,
        }
    })
    .await
}

/// `GET /admin/api/v1/smart_collections/{id}.json`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/smart_collections/{id}",
    tag = "collections",
    params(("id" = Uuid, Path, description = "The collection's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "The collection", body = SmartCollectionEnvelope),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:read"),
        (status = 404, description = "No such automatic collection in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn show_smart_collection(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let kind = Some(Kind::Automatic);
    show_kind(&app, &client, (&id, &headers), kind, |c| {
        SmartCollectionEnvelope {
            smart_collection: c,
        }
    })
    .await
}

/// `GET /admin/api/v1/collections/{id}.json`: either kind, with `collection_type` and
/// `products_count`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/collections/{id}",
    tag = "collections",
    params(("id" = Uuid, Path, description = "The collection's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "The collection", body = CollectionEnvelope),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:read"),
        (status = 404, description = "No such collection in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn show_collection(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    show_kind(&app, &client, (&id, &headers), None, |collection| {
        CollectionEnvelope { collection }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_orders_take_shopify_names() {
        assert_eq!(sort_name("title-asc"), "alpha-asc");
        assert_eq!(sort_name("created-asc"), "created");
        assert_eq!(sort_name("price-desc"), "price-desc");
    }
}
