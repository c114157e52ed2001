//! `/admin/theme`: the merchant's own versions of storefront templates. Lists the default
//! theme's templates, edits one (validated before anything is saved) and resets it to the
//! shipped default. Needs the `settings` permission.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_store::audit;
use tenant_store::theme::{self as store_theme, Override};

use super::chrome::Chrome;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant, request_base_url};
use crate::storefront::layout::Shop;
use crate::theme::{self, Refusal, samples};

/// One row of the template list.
#[derive(Serialize)]
struct TemplateRow {
    name: String,
    overridden: bool,
    updated_at: Option<DateTime<Utc>>,
    updated_by: Option<String>,
    last_error: Option<String>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    templates: Vec<TemplateRow>,
    /// `saved` or `reset`: which notice to show.
    notice: Option<String>,
    notice_name: Option<String>,
}

/// `?notice=saved|reset&name=...` after a change.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `GET /admin/theme`.
pub async fn list_templates(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require("settings")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let overrides = store_theme::list(&mut tx).await?;
    tx.commit().await?;
    let templates = theme::template_names()
        .into_iter()
        .map(|name| {
            let o = overrides.iter().find(|o| o.name == name);
            TemplateRow {
                overridden: o.is_some(),
                updated_at: o.map(|o| o.updated_at),
                updated_by: o.map(|o| o.updated_by.clone()),
                last_error: o.and_then(|o| o.last_error.clone()),
                name,
            }
        })
        .collect();
    let notice = q.notice.filter(|n| matches!(n.as_str(), "saved" | "reset"));
    let notice_name = q.name.filter(|n| theme::default_source(n).is_some());
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        templates,
        notice,
        notice_name,
    };
    Ok(Html(app.views.render("admin/theme.html", &view)?))
}

#[derive(Serialize)]
struct EditView {
    chrome: Chrome,
    name: String,
    source: String,
    overridden: bool,
    updated_at: Option<DateTime<Utc>>,
    updated_by: Option<String>,
    last_error: Option<String>,
    error: Option<String>,
    error_line: Option<usize>,
    timeout_ms: u128,
    memory_mb: u64,
}

/// `?name=store/home.html`.
#[derive(Deserialize)]
pub struct NameQuery {
    #[serde(default)]
    name: String,
}

/// The template form: its name and the merchant's source.
#[derive(Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    source: String,
}

/// A template name the merchant may override, or 404.
fn overridable(name: &str) -> Result<String, AppError> {
    theme::default_source(name).ok_or(AppError::NotFound)
}

async fn render_edit(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    name: String,
    source: String,
    current: Option<Override>,
    refusal: Option<Refusal>,
) -> Result<Html<String>, AppError> {
    let view = EditView {
        chrome: Chrome::new(tenant, merchant).await?,
        name,
        source,
        overridden: current.is_some(),
        updated_at: current.as_ref().map(|o| o.updated_at),
        updated_by: current.as_ref().map(|o| o.updated_by.clone()),
        last_error: current.and_then(|o| o.last_error),
        error_line: refusal.as_ref().and_then(|r| r.line),
        error: refusal.map(|r| r.message),
        timeout_ms: app.themes.render_timeout().as_millis(),
        memory_mb: app.themes.render_memory_mb(),
    };
    Ok(Html(app.views.render("admin/theme_edit.html", &view)?))
}

/// `GET /admin/theme/edit?name=store/home.html`: the store's version of the template, or
/// the default's source when there is none.
pub async fn edit_template(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<NameQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require("settings")?;
    let default = overridable(&q.name)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let current = store_theme::find(&mut tx, &q.name).await?;
    tx.commit().await?;
    let source = current.as_ref().map_or(default, |o| o.source.clone());
    render_edit(&app, &tenant, &merchant, q.name, source, current, None).await
}

/// `POST /admin/theme/edit`: checks the template (syntax, sandbox rules, a render with
/// sample data) and saves it; on a problem shows the editor again with the merchant's text
/// and the error (with its line), saving nothing.
pub async fn save_template(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    Form(form): Form<TemplateForm>,
) -> Result<Response, AppError> {
    merchant.require("settings")?;
    overridable(&form.name)?;
    // Browsers send CRLF line breaks from a textarea.
    let source = form.source.replace("\r\n", "\n");
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let overrides = store_theme::list(&mut tx).await?;
    let shop = Shop::load(
        &app,
        &mut tx,
        &merchant.session,
        request_base_url(&app, &headers),
    )
    .await?;
    tx.commit().await?;
    let current = overrides.iter().find(|o| o.name == form.name).cloned();
    let shop = serde_json::to_value(&shop).map_err(|e| anyhow::anyhow!("sample shop: {e}"))?;
    let checked = app
        .themes
        .validate(overrides, &form.name, &source, samples::pages(shop))
        .await;
    if let Err(refusal) = checked {
        let page = render_edit(
            &app,
            &tenant,
            &merchant,
            form.name,
            source,
            current,
            Some(refusal),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let saved = store_theme::save(&mut tx, &form.name, &source, &merchant.email).await?;
    audit::record(
        &mut tx,
        &merchant.email,
        "theme.update",
        &form.name,
        serde_json::json!({ "version": saved.version, "bytes": source.len() }),
    )
    .await?;
    theme::notify_changed(&mut tx, tenant.id)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    tx.commit().await?;
    // This node need not wait for its own notification.
    app.themes.invalidate(tenant.id).await;
    Ok(Redirect::to(&format!(
        "/admin/theme?notice=saved&name={}",
        urlencode(&form.name)
    ))
    .into_response())
}

/// The reset form: which template.
#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    name: String,
}

/// `POST /admin/theme/reset`: removes the store's version; the default applies again.
pub async fn reset_template(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(form): Form<ResetForm>,
) -> Result<Redirect, AppError> {
    merchant.require("settings")?;
    overridable(&form.name)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    if store_theme::reset(&mut tx, &form.name).await? {
        audit::record(
            &mut tx,
            &merchant.email,
            "theme.reset",
            &form.name,
            serde_json::json!({}),
        )
        .await?;
        theme::notify_changed(&mut tx, tenant.id)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    tx.commit().await?;
    app.themes.invalidate(tenant.id).await;
    Ok(Redirect::to(&format!(
        "/admin/theme?notice=reset&name={}",
        urlencode(&form.name)
    )))
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
