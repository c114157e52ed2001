//! Inventory in the admin: stock per tracked variant, adjustments with a reason, history.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use serde::{Deserialize, Serialize};
use tenant_store::audit;
use tenant_store::catalog::inventory;
use uuid::Uuid;

use super::chrome::Chrome;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// Rows per page.
const PAGE_SIZE: i64 = 100;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    after_title: Option<String>,
    after_id: Option<Uuid>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    q: String,
    levels: Vec<inventory::Level>,
    next: Option<String>,
}

/// `GET /admin/inventory`.
pub async fn list_inventory(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require("products")?;
    let after = q.after_title.clone().zip(q.after_id);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let mut levels = inventory::list_levels(&mut tx, &q.q, after, PAGE_SIZE + 1).await?;
    tx.commit().await?;
    let next = if levels.len() as i64 > PAGE_SIZE {
        levels.truncate(PAGE_SIZE as usize);
        levels.last().map(|l| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &q.q)
                .append_pair("after_title", &l.product_title)
                .append_pair("after_id", &l.variant_id.to_string())
                .finish()
        })
    } else {
        None
    };
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        q: q.q,
        levels,
        next,
    };
    Ok(Html(app.views.render("admin/inventory.html", &view)?))
}

#[derive(Deserialize)]
pub struct AdjustForm {
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/inventory/{variant_id}`: sets the stock, recording why.
pub async fn adjust_inventory(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(variant_id): Path<Uuid>,
    Form(form): Form<AdjustForm>,
) -> Result<Redirect, AppError> {
    merchant.require("products")?;
    let quantity: i32 = form.quantity.trim().parse().map_err(|_| {
        AppError::invalid(
            "quantity",
            format!("“{}” is not a whole number", form.quantity.trim()),
        )
    })?;
    let reason = if form.reason.trim().is_empty() {
        "stock count"
    } else {
        form.reason.trim()
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let after =
        inventory::set_quantity(&mut tx, variant_id, quantity, reason, &merchant.email).await?;
    let details =
        serde_json::json!({ "variant_id": variant_id, "quantity": after, "reason": reason });
    audit::record(
        &mut tx,
        &merchant.email,
        "inventory.set",
        &variant_id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/inventory/{variant_id}")))
}

#[derive(Serialize)]
struct HistoryView {
    chrome: Chrome,
    variant_id: Uuid,
    history: Vec<inventory::Adjustment>,
}

/// `GET /admin/inventory/{variant_id}`: the variant's stock changes, newest first.
pub async fn show_history(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(variant_id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM variants WHERE id = $1)")
        .bind(variant_id)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Err(AppError::NotFound);
    }
    let history = inventory::history(&mut tx, variant_id, 200).await?;
    tx.commit().await?;
    let view = HistoryView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        variant_id,
        history,
    };
    Ok(Html(
        app.views.render("admin/inventory_history.html", &view)?,
    ))
}
