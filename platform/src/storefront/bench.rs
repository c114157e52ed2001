//! `/__bench/baseline` (only with `--bench-baseline`): the least a storefront page can
//! cost in this binary (a tenant transaction, one `SELECT` of one product, a tiny Tera
//! template), so the benchmark reports pages relative to it.

use axum::extract::State;
use axum::response::Html;
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::extract::CurrentTenant;

#[derive(Serialize)]
struct BaselineView {
    title: String,
    handle: String,
}

/// `GET /__bench/baseline`.
pub async fn baseline(
    State(app): State<AppState>,
    tenant: CurrentTenant,
) -> Result<Html<String>, AppError> {
    if !app.settings.bench_baseline {
        return Err(AppError::NotFound);
    }
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let (title, handle): (String, String) =
        sqlx::query_as("SELECT title, handle FROM products WHERE status = 'active' LIMIT 1")
            .fetch_one(&mut *tx)
            .await?;
    tx.end_read_only();
    Ok(Html(app.views.render(
        "store/bench_baseline.html",
        &BaselineView { title, handle },
    )?))
}
