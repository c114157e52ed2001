//! `/admin/settings`: the store's name, logo, colours, currency, contact details, address,
//! policies and storefront options. Needs the `settings` permission.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use billing::Currency;
use serde::{Deserialize, Serialize};
use tenant_store::catalog::images;
use tenant_store::settings::{self, SettingsInput, StoreSettings};
use tenant_store::{StoreError, audit};

use super::chrome::Chrome;
use super::images::{delete_files_if_unreferenced, read_upload};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::media;
use crate::media_urls::image_url;
use crate::tenancy;

/// The settings form, as typed (kept on a validation error).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SettingsForm {
    name: String,
    contact_email: String,
    currency: String,
    timezone: String,
    low_stock_threshold: String,
    logo_alt: String,
    color_accent: String,
    color_text: String,
    color_background: String,
    phone: String,
    address_line1: String,
    address_line2: String,
    city: String,
    region: String,
    postal_code: String,
    country: String,
    seo_title: String,
    seo_description: String,
    refund_policy: String,
    shipping_policy: String,
    privacy_policy: String,
    terms_of_service: String,
    customer_accounts: String,
}

impl SettingsForm {
    fn from_settings(s: &StoreSettings) -> Self {
        Self {
            name: s.name.clone(),
            contact_email: s.contact_email.clone(),
            currency: s.currency.clone(),
            timezone: s.timezone.clone(),
            low_stock_threshold: s.low_stock_threshold.to_string(),
            logo_alt: s.logo_alt.clone(),
            color_accent: s.color_accent.clone(),
            color_text: s.color_text.clone(),
            color_background: s.color_background.clone(),
            phone: s.phone.clone(),
            address_line1: s.address_line1.clone(),
            address_line2: s.address_line2.clone(),
            city: s.city.clone(),
            region: s.region.clone(),
            postal_code: s.postal_code.clone(),
            country: s.country.clone(),
            seo_title: s.seo_title.clone(),
            seo_description: s.seo_description.clone(),
            refund_policy: s.refund_policy.clone(),
            shipping_policy: s.shipping_policy.clone(),
            privacy_policy: s.privacy_policy.clone(),
            terms_of_service: s.terms_of_service.clone(),
            customer_accounts: s.customer_accounts.clone(),
        }
    }

    fn to_input(&self, current_currency: &str) -> SettingsInput {
        let rescales = match (
            Currency::parse(current_currency),
            Currency::parse(self.currency.trim()),
        ) {
            (Ok(old), Ok(new)) => old.minor_units() != new.minor_units(),
            _ => false,
        };
        SettingsInput {
            name: self.name.clone(),
            contact_email: self.contact_email.clone(),
            currency: self.currency.clone(),
            currency_rescales_prices: rescales,
            timezone: self.timezone.clone(),
            low_stock_threshold: self.low_stock_threshold.clone(),
            logo_alt: self.logo_alt.clone(),
            color_accent: self.color_accent.clone(),
            color_text: self.color_text.clone(),
            color_background: self.color_background.clone(),
            phone: self.phone.clone(),
            address_line1: self.address_line1.clone(),
            address_line2: self.address_line2.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
            seo_title: self.seo_title.clone(),
            seo_description: self.seo_description.clone(),
            refund_policy: self.refund_policy.clone(),
            shipping_policy: self.shipping_policy.clone(),
            privacy_policy: self.privacy_policy.clone(),
            terms_of_service: self.terms_of_service.clone(),
            customer_accounts: self.customer_accounts.clone(),
        }
    }
}

#[derive(Serialize)]
struct SettingsView {
    chrome: Chrome,
    form: SettingsForm,
    errors: BTreeMap<String, String>,
    logo_url: Option<String>,
    saved: bool,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    form: SettingsForm,
    errors: BTreeMap<String, String>,
    logo_key: Option<&str>,
    saved: bool,
) -> Result<Html<String>, AppError> {
    let mut chrome = Chrome::new(tenant, merchant).await?;
    if saved {
        // The header shows the name just saved, not the one the request arrived with.
        chrome.store_name = form.name.trim().to_owned();
    }
    let view = SettingsView {
        chrome,
        form,
        errors,
        logo_url: logo_key.map(|k| image_url(k, 480)),
        saved,
    };
    Ok(Html(app.views.render("admin/settings.html", &view)?))
}

/// `?saved=1` after a successful save.
#[derive(Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /admin/settings`.
pub async fn show_settings(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require("settings")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let current = settings::load(&mut tx).await?;
    tx.commit().await?;
    render(
        &app,
        &tenant,
        &merchant,
        SettingsForm::from_settings(&current),
        BTreeMap::new(),
        current.logo_key.as_deref(),
        q.saved.is_some(),
    )
    .await
}

/// `POST /admin/settings`: validates every field; on an error shows the form again with
/// the merchant's input and each message next to its field, and changes nothing.
pub async fn update_settings(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    merchant.require("settings")?;
    let mut errors = BTreeMap::new();
    if let Err(message) = crate::accounts::Email::parse(&form.contact_email) {
        errors.insert("contact_email".to_owned(), message);
    }
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let current = settings::load(&mut tx).await?;
    let saved = settings::update(&mut tx, &form.to_input(&current.currency)).await;
    match saved {
        Ok(saved) if errors.is_empty() => {
            tenancy::rename(&mut tx, tenant.id, &saved.name).await?;
            audit::record(
                &mut tx,
                &merchant.email,
                "settings.update",
                "settings",
                serde_json::json!({ "name": saved.name, "currency": saved.currency }),
            )
            .await?;
            tx.commit().await?;
            Ok(Redirect::to("/admin/settings?saved=1").into_response())
        }
        Ok(_) => {
            drop(tx);
            let page = render(
                &app,
                &tenant,
                &merchant,
                form,
                errors,
                current.logo_key.as_deref(),
                false,
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(StoreError::Fields(fields)) => {
            drop(tx);
            for (field, message) in fields {
                errors.entry(field).or_insert(message);
            }
            let page = render(
                &app,
                &tenant,
                &merchant,
                form,
                errors,
                current.logo_key.as_deref(),
                false,
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/settings/logo?_csrf=...` (multipart: `image`, `alt`): checks, resizes and
/// stores the logo like a product image, replacing the previous one.
pub async fn upload_logo(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    req: Request,
) -> Result<Redirect, AppError> {
    merchant.require("settings")?;
    let upload = read_upload(&app, req).await?;
    let processed = app.media.process(upload.file).await?;
    let key = media::storage_key(&tenant.schema, &processed.content_hash);
    let saved = async {
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        images::lock_key(&mut tx, &key).await?;
        if images::count_references(&mut tx, &key).await? == 0 {
            app.media.put(&key, &processed).await?;
        }
        let previous = settings::set_logo(&mut tx, Some(&key)).await?;
        if !upload.alt.trim().is_empty() {
            sqlx::query("UPDATE settings SET logo_alt = $1")
                .bind(upload.alt.trim())
                .execute(&mut *tx)
                .await?;
        }
        audit::record(
            &mut tx,
            &merchant.email,
            "settings.logo.set",
            "settings",
            serde_json::json!({ "storage_key": key }),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(previous)
    }
    .await;
    match saved {
        Ok(previous) => {
            if let Some(old) = previous.filter(|old| *old != key) {
                delete_files_if_unreferenced(&app, &tenant.schema, &old).await?;
            }
            Ok(Redirect::to("/admin/settings"))
        }
        Err(e) => {
            if let Err(cleanup) = delete_files_if_unreferenced(&app, &tenant.schema, &key).await {
                tracing::warn!(error = %cleanup, key, "could not clean up after a failed logo upload");
            }
            Err(e)
        }
    }
}

/// `POST /admin/settings/logo/delete`: removes the logo (the store name shows instead).
pub async fn delete_logo(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Redirect, AppError> {
    merchant.require("settings")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let previous = settings::set_logo(&mut tx, None).await?;
    audit::record(
        &mut tx,
        &merchant.email,
        "settings.logo.remove",
        "settings",
        serde_json::json!({ "storage_key": previous }),
    )
    .await?;
    tx.commit().await?;
    if let Some(old) = previous {
        delete_files_if_unreferenced(&app, &tenant.schema, &old).await?;
    }
    Ok(Redirect::to("/admin/settings"))
}
