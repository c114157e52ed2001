//! `GET /admin`: the merchant's home in the admin: what needs attention today.

use axum::extract::State;
use axum::response::Html;
use serde::Serialize;
use tenant_store::catalog::{self, inventory};
use tenant_store::settings::{self, StoreSettings};

use super::chrome::Chrome;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

#[derive(Serialize)]
struct DashboardView {
    chrome: Chrome,
    store: StoreSettings,
    suspended: bool,
    email_verified: bool,
    product_count: i64,
    low_stock: Vec<inventory::LowStock>,
    low_stock_threshold: i32,
}

/// The dashboard.
pub async fn show_dashboard(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let store = settings::load(&mut tx).await?;
    let product_count = catalog::count_products(&mut tx).await?;
    let low_stock = inventory::low_stock(&mut tx, 20).await?;
    let low_stock_threshold: i32 = sqlx::query_scalar("SELECT low_stock_threshold FROM settings")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let email_verified: bool = sqlx::query_scalar(
        "SELECT email_verified_at IS NOT NULL FROM platform.users WHERE id = $1",
    )
    .bind(merchant.user_id)
    .fetch_one(&app.db)
    .await?;
    let view = DashboardView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        store,
        suspended: tenant.status == "suspended",
        email_verified,
        product_count,
        low_stock,
        low_stock_threshold,
    };
    Ok(Html(app.views.render("admin/dashboard.html", &view)?))
}
