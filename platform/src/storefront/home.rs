//! `GET /`: the store's home page.

use axum::extract::State;
use axum::response::Html;
use serde::Serialize;
use tenant_store::settings::{self, StoreSettings};

use crate::app::AppState;
use crate::error::AppError;
use crate::extract::CurrentTenant;

#[derive(Serialize)]
struct HomeView {
    store: StoreSettings,
}

/// The home page, branded with the store's settings.
pub async fn show_home(
    State(app): State<AppState>,
    tenant: CurrentTenant,
) -> Result<Html<String>, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let store = settings::load(&mut tx).await?;
    tx.commit().await?;
    Ok(Html(
        app.views.render("store/home.html", &HomeView { store })?,
    ))
}
