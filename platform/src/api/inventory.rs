//! `/admin/api/v1/inventory_levels.json` and `inventory_levels/set.json`: Shopify's way of
//! reading and setting stock, for a store with a single location. A variant is its own
//! inventory item (`inventory_item_id` is the variant's id).

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_store::audit;
use tenant_store::catalog::inventory;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiClient, ApiError, JsonBody};
use crate::api_tokens::Scope;
use crate::app::AppState;
use crate::error::AppError;

/// Most inventory items one read may name (Shopify's).
const MAX_ITEMS: usize = 50;

/// Why the stock changed, in the variant's adjustment history.
const REASON: &str = "set through the Admin API";

/// The body of `inventory_levels/set`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetInventoryLevel {
    /// Accepted and echoed back for Shopify compatibility: a store has one location.
    #[schema(value_type = Option<i64>)]
    pub location_id: Option<serde_json::Value>,
    /// The variant's id.
    pub inventory_item_id: Option<Uuid>,
    /// Units in stock from now on.
    pub available: Option<i32>,
}

/// A stock level.
#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryLevel {
    /// The variant's id.
    pub inventory_item_id: Uuid,
    /// The `location_id` sent, if any.
    #[schema(value_type = Option<i64>)]
    pub location_id: Option<serde_json::Value>,
    /// Units in stock.
    pub available: i32,
    /// When it was set.
    pub updated_at: DateTime<Utc>,
}

/// `{"inventory_level": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryLevelEnvelope {
    /// The level after the change.
    pub inventory_level: InventoryLevel,
}

/// `POST /admin/api/v1/inventory_levels/set.json`: sets a variant's stock; the change is
/// recorded as an adjustment (who, how much, why) like any other.
#[utoipa::path(
    post,
    path = "/admin/api/v1/inventory_levels/set",
    tag = "inventory",
    request_body = SetInventoryLevel,
    responses(
        (status = 200, description = "The stock level now", body = InventoryLevelEnvelope),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks inventory:write"),
        (status = 404, description = "No such variant in this store"),
        (status = 422, description = "A field is missing or malformed; `errors` names it"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn set_inventory_level(
    State(app): State<AppState>,
    client: ApiClient,
    body: JsonBody,
) -> Result<Json<InventoryLevelEnvelope>, ApiError> {
    client.require(Scope::InventoryWrite)?;
    let request: SetInventoryLevel = body.parse(None)?;
    let mut errors = Vec::new();
    if request.inventory_item_id.is_none() {
        errors.push(("inventory_item_id".to_owned(), "can't be blank".to_owned()));
    }
    if request.available.is_none() {
        errors.push(("available".to_owned(), "can't be blank".to_owned()));
    }
    if request.available.is_some_and(|a| a < 0) {
        errors.push(("available".to_owned(), "can't be negative".to_owned()));
    }
    let (Some(item), Some(available), true) = (
        request.inventory_item_id,
        request.available,
        errors.is_empty(),
    ) else {
        return Err(AppError::Invalid(errors).into());
    };
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let available = inventory::set_quantity(&mut tx, item, available, REASON, &actor).await?;
    audit::record(
        &mut tx,
        &actor,
        "inventory.set",
        &item.to_string(),
        serde_json::json!({ "variant_id": item, "available": available }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(InventoryLevelEnvelope {
        inventory_level: InventoryLevel {
            inventory_item_id: item,
            location_id: request.location_id,
            available,
            updated_at: Utc::now(),
        },
    }))
}

/// `{"inventory_levels": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryLevelList {
    /// The levels of the items asked for that exist in this store, in the order asked.
    pub inventory_levels: Vec<InventoryLevel>,
}

/// The `inventory_item_ids` of a query string: comma-separated ids, at least one, at most
/// 50; anything else is a 422 naming the parameter.
fn item_ids(query: Option<&str>) -> Result<Vec<Uuid>, AppError> {
    let field = "inventory_item_ids";
    let raw: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == field)
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    if raw.is_empty() {
        return Err(AppError::invalid(field, "can't be blank"));
    }
    if raw.len() > MAX_ITEMS {
        return Err(AppError::invalid(
            field,
            format!("name at most {MAX_ITEMS} items"),
        ));
    }
    raw.iter()
        .map(|s| {
            Uuid::parse_str(s).map_err(|_| AppError::invalid(field, format!("“{s}” is not an id")))
        })
        .collect()
}

/// `GET /admin/api/v1/inventory_levels.json?inventory_item_ids=...`: the stock of up to
/// 50 variants; ids not in this store are left out, as Shopify does.
#[utoipa::path(
    get,
    path = "/admin/api/v1/inventory_levels",
    tag = "inventory",
    params(
        ("inventory_item_ids" = String, Query, description = "Comma-separated variant ids, at most 50"),
    ),
    responses(
        (status = 200, description = "The stock levels", body = InventoryLevelList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks inventory:read"),
        (status = 422, description = "`inventory_item_ids` is missing or malformed"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_inventory_levels(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
) -> Result<Json<InventoryLevelList>, ApiError> {
    client.require(Scope::InventoryRead)?;
    let ids = item_ids(uri.query())?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let levels = inventory::levels_of(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(Json(InventoryLevelList {
        inventory_levels: levels
            .into_iter()
            .map(|l| InventoryLevel {
                inventory_item_id: l.variant_id,
                location_id: None,
                available: l.inventory_quantity,
                updated_at: l.updated_at,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_are_required_well_formed_and_few() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        assert_eq!(
            item_ids(Some(&format!("inventory_item_ids={a},{b}"))).unwrap(),
            [a, b]
        );
        assert!(item_ids(None).is_err());
        assert!(item_ids(Some("inventory_item_ids=x")).is_err());
        let many = vec![a.to_string(); 51].join(",");
        assert!(item_ids(Some(&format!("inventory_item_ids={many}"))).is_err());
    }
}
