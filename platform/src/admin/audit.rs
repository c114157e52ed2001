//! The store's audit log in the admin (owners and admins).

use axum::extract::{Query, State};
use axum::response::Html;
use serde::{Deserialize, Serialize};
use tenant_store::audit;

use super::chrome::Chrome;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// Entries per page.
const PAGE_SIZE: i64 = 100;

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

#[derive(Serialize)]
struct AuditView {
    chrome: Chrome,
    entries: Vec<audit::Entry>,
    older: Option<i64>,
}

/// `GET /admin/audit?before=`: who did what, newest first.
pub async fn show_audit(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<AuditQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require_manager()?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let mut rows = audit::list(&mut tx, q.before, PAGE_SIZE + 1).await?;
    tx.commit().await?;
    let older = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|(id, _)| *id)
    } else {
        None
    };
    let view = AuditView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        entries: rows.into_iter().map(|(_, e)| e).collect(),
        older,
    };
    Ok(Html(app.views.render("admin/audit.html", &view)?))
}
