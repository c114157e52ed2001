//! `/admin/enquiries`: messages shoppers sent through the contact form, newest first.
//! Needs the `customers` permission.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_store::enquiries::{self, Enquiry};
use uuid::Uuid;

use super::chrome::Chrome;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

const PAGE: i64 = 50;

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    enquiries: Vec<Enquiry>,
    next: Option<String>,
}

/// `?before=<created_at>~<id>`.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    before: Option<String>,
}

fn parse_cursor(s: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (at, id) = s.split_once('~')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        Uuid::parse_str(id).ok()?,
    ))
}

/// `GET /admin/enquiries`.
pub async fn list_enquiries(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require("customers")?;
    let before = match q.before.as_deref() {
        Some(c) => Some(parse_cursor(c).ok_or(AppError::NotFound)?),
        None => None,
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let list = enquiries::list(&mut tx, before, PAGE).await?;
    tx.commit().await?;
    let next = (list.len() as i64 == PAGE)
        .then(|| list.last())
        .flatten()
        .map(|e| {
            let cursor = format!("{}~{}", e.created_at.to_rfc3339(), e.id);
            form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>()
        });
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        enquiries: list,
        next,
    };
    Ok(Html(app.views.render("admin/enquiries.html", &view)?))
}

/// `handled=on` or absent.
#[derive(Deserialize)]
pub struct HandledForm {
    #[serde(default)]
    handled: Option<String>,
}

/// `POST /admin/enquiries/{id}/handled`.
pub async fn mark_handled(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(form): Form<HandledForm>,
) -> Result<Redirect, AppError> {
    merchant.require("customers")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    enquiries::set_handled(&mut tx, id, form.handled.is_some()).await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/enquiries"))
}
