//! `/admin/api/v1/inventory_levels/set.json`: Shopify's way of setting stock, for a store
//! with a single location. A variant is its own inventory item (`inventory_item_id` is the
//! variant's id).

use axum::Json;
use axum::extract::State;
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
    let (Some(item), Some(available)) = (request.inventory_item_id, request.available) else {
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
