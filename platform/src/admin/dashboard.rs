//! `GET /admin`: the merchant's home in the admin: what needs attention today.

use axum::extract::{Query, State};
use axum::response::Html;
use billing::Currency;
use serde::{Deserialize, Serialize};
use tenant_store::catalog::{self, inventory};
use tenant_store::reports;
use tenant_store::settings::{self, StoreSettings};

use super::chrome::Chrome;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::storefront::layout::display_money;

/// Today's orders and sales, and the orders waiting on someone.
#[derive(Serialize)]
struct TodayView {
    /// Orders placed today (store time).
    orders: i64,
    /// Today's sales, formatted in the store's currency.
    sales: String,
    /// Open orders not paid yet.
    awaiting_payment: i64,
    /// Open, paid orders with units left to ship.
    awaiting_shipment: i64,
    /// The time zone "today" is counted in.
    timezone: String,
}

#[derive(Serialize)]
struct DashboardView {
    chrome: Chrome,
    store: StoreSettings,
    suspended: bool,
    email_verified: bool,
    /// The verification mail was just sent again (`?verification=sent`).
    verification_sent: bool,
    product_count: i64,
    low_stock: Vec<inventory::LowStock>,
    low_stock_threshold: i32,
    /// Only for members who may see orders or reports.
    today: Option<TodayView>,
}

/// What the dashboard's address may say about the action that led there.
#[derive(Deserialize)]
pub struct DashboardQuery {
    /// `sent` after the verification mail was sent again.
    #[serde(default)]
    verification: Option<String>,
}

/// The dashboard.
pub async fn show_dashboard(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(query): Query<DashboardQuery>,
) -> Result<Html<String>, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let store = settings::load(&mut tx).await?;
    let product_count = catalog::count_products(&mut tx).await?;
    let low_stock = inventory::low_stock(&mut tx, 20).await?;
    let low_stock_threshold: i32 = sqlx::query_scalar("SELECT low_stock_threshold FROM settings")
        .fetch_one(&mut *tx)
        .await?;
    let today = if merchant.can("reports") || merchant.can("orders") {
        let currency = Currency::parse(&store.currency)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("store currency: {e}")))?;
        let timezone = reports::effective_timezone(&mut tx, &store.timezone).await?;
        let figures = reports::today_figures(&mut tx, &timezone, currency.as_str()).await?;
        Some(TodayView {
            orders: figures.orders,
            sales: display_money(figures.sales_minor, currency),
            awaiting_payment: figures.awaiting_payment,
            awaiting_shipment: figures.awaiting_shipment,
            timezone,
        })
    } else {
        None
    };
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
        verification_sent: query.verification.as_deref() == Some("sent"),
        product_count,
        low_stock,
        low_stock_threshold,
        today,
    };
    Ok(Html(app.views.render("admin/dashboard.html", &view)?))
}
