//! `GET /admin`: the merchant's home in the admin.

use axum::extract::State;
use axum::response::Html;
use serde::Serialize;
use tenant_store::settings::{self, StoreSettings};

use crate::app::AppState;
use crate::csrf;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

#[derive(Serialize)]
struct DashboardView<'a> {
    store: StoreSettings,
    merchant_email: &'a str,
    role: &'a str,
    csrf: String,
    suspended: bool,
    email_verified: bool,
}

/// The dashboard (later issues fill it with sales, orders and stock).
pub async fn show_dashboard(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let store = settings::load(&mut tx).await?;
    tx.commit().await?;
    let email_verified: bool = sqlx::query_scalar(
        "SELECT email_verified_at IS NOT NULL FROM platform.users WHERE id = $1",
    )
    .bind(merchant.user_id)
    .fetch_one(&app.db)
    .await?;
    let view = DashboardView {
        store,
        merchant_email: &merchant.email,
        role: &merchant.role,
        csrf: csrf::token(&merchant.session).await?,
        suspended: tenant.status == "suspended",
        email_verified,
    };
    Ok(Html(app.views.render("admin/dashboard.html", &view)?))
}
