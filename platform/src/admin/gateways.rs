//! Admin: payment gateways (`/admin/settings/payments`, the `settings` permission). Each of
//! the four gateways is enabled or not, with the label shoppers see at checkout and its own
//! settings, stored as billing's `GatewaySettings` JSON. Stripe's secrets are sealed before
//! they are stored and never shown again: the pages show masked hints only.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use billing::{BillingError, GatewaySettings};
use secrecy::SecretString;
use serde::Serialize;
use tenant_store::audit;
use tenant_store::payments::{self, GATEWAY_NAMES, GatewayRow};

use super::chrome::Chrome;
use super::form::{self, Submitted};
use crate::app::AppState;
use crate::config::Environment;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant, request_base_url};
use crate::routing::{Routes, get};

/// The permission area.
const AREA: &str = "settings";

/// Routes of this part of the admin.
pub fn router() -> Routes {
    Routes::new()
        .route("/admin/settings/payments", get(list_gateways))
        .route(
            "/admin/settings/payments/{name}",
            get(edit_gateway).post(save_gateway),
        )
}

/// What the merchant calls a gateway.
fn title(name: &str) -> &'static str {
    match name {
        "test" => "Test payments",
        "manual" => "Manual payments (bank transfer, cash on delivery)",
        "stripe" => "Stripe",
        _ => "Store credit",
    }
}

/// The label offered before the merchant chose one.
fn default_label(name: &str) -> &'static str {
    match name {
        "test" => "Test card",
        "manual" => "Bank transfer",
        "stripe" => "Card",
        _ => "Store credit",
    }
}

/// The stored settings of a gateway, when they read.
fn stored_settings(row: Option<&GatewayRow>) -> Option<GatewaySettings> {
    row.and_then(|r| serde_json::from_value(r.settings.clone()).ok())
}

/// Masked hints of stored Stripe secrets.
fn stripe_hints(settings: Option<&GatewaySettings>) -> (Option<String>, Option<String>) {
    match settings {
        Some(GatewaySettings::Stripe {
            secret_key_hint,
            webhook_secret_hint,
            ..
        }) => (
            Some(secret_key_hint.clone()),
            Some(webhook_secret_hint.clone()),
        ),
        _ => (None, None),
    }
}

/// One gateway in the list.
#[derive(Serialize)]
struct GatewayLine {
    name: &'static str,
    title: &'static str,
    configured: bool,
    enabled: bool,
    label: String,
    secret_key_hint: Option<String>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    gateways: Vec<GatewayLine>,
}

/// `GET /admin/settings/payments`.
async fn list_gateways(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let rows = payments::list_gateways(&mut tx).await?;
    tx.commit().await?;
    let gateways = GATEWAY_NAMES
        .iter()
        .map(|&name| {
            let row = rows.iter().find(|r| r.name == name);
            let settings = stored_settings(row);
            GatewayLine {
                name,
                title: title(name),
                configured: row.is_some(),
                enabled: row.is_some_and(|r| r.enabled),
                label: row.map_or_else(|| default_label(name).to_owned(), |r| r.label.clone()),
                secret_key_hint: stripe_hints(settings.as_ref()).0,
            }
        })
        .collect();
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        gateways,
    };
    Ok(Html(app.views.render("admin/payments.html", &view)?))
}

/// The editor's fields (never the secrets: those inputs are always shown empty).
#[derive(Clone, Debug, Default, Serialize)]
struct GatewayForm {
    enabled: bool,
    label: String,
    instructions: String,
}

#[derive(Serialize)]
struct EditorView {
    chrome: Chrome,
    name: &'static str,
    title: &'static str,
    configured: bool,
    form: GatewayForm,
    secret_key_hint: Option<String>,
    webhook_secret_hint: Option<String>,
    webhook_url: String,
    production: bool,
    errors: BTreeMap<String, String>,
}

/// The known gateway called `name`, or 404.
fn known(name: &str) -> Result<&'static str, AppError> {
    GATEWAY_NAMES
        .iter()
        .copied()
        .find(|n| *n == name)
        .ok_or(AppError::NotFound)
}

#[allow(clippy::too_many_arguments)]
async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    headers: &HeaderMap,
    name: &'static str,
    row: Option<&GatewayRow>,
    form: GatewayForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let settings = stored_settings(row);
    let (secret_key_hint, webhook_secret_hint) = stripe_hints(settings.as_ref());
    let view = EditorView {
        chrome: Chrome::new(tenant, merchant).await?,
        name,
        title: title(name),
        configured: row.is_some(),
        form,
        secret_key_hint,
        webhook_secret_hint,
        webhook_url: format!("{}/webhooks/stripe", request_base_url(app, headers)),
        production: app.settings.environment == Environment::Production,
        errors,
    };
    Ok(Html(
        app.views.render("admin/payments_gateway.html", &view)?,
    ))
}

/// `GET /admin/settings/payments/{name}`.
async fn edit_gateway(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let name = known(&name)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let row = match payments::get_gateway(&mut tx, name).await {
        Ok(row) => Some(row),
        Err(tenant_store::StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    let form = match (&row, stored_settings(row.as_ref())) {
        (Some(r), settings) => GatewayForm {
            enabled: r.enabled,
            label: r.label.clone(),
            instructions: match settings {
                Some(GatewaySettings::Manual { instructions }) => instructions,
                _ => String::new(),
            },
        },
        (None, _) => GatewayForm {
            enabled: false,
            label: default_label(name).to_owned(),
            instructions: String::new(),
        },
    };
    let errors = BTreeMap::new();
    render(
        &app,
        &tenant,
        &merchant,
        &headers,
        name,
        row.as_ref(),
        form,
        errors,
    )
    .await
}

/// A field error from billing.
fn billing_error(e: BillingError) -> Result<(String, String), AppError> {
    match e {
        BillingError::Invalid { field, message } => Ok((field.to_owned(), message)),
        other => Err(other.into()),
    }
}

/// The Stripe settings to store: each secret typed replaces the stored one, an empty input
/// keeps it.
fn stripe_settings(
    app: &AppState,
    tenant: &CurrentTenant,
    stored: Option<&GatewaySettings>,
    secret_key: &str,
    webhook_secret: &str,
) -> Result<Result<GatewaySettings, (String, String)>, AppError> {
    let context = crate::payments::seal_context(tenant.id);
    let seal = |key: &str, hook: &str| {
        GatewaySettings::stripe(
            &app.cipher,
            &context,
            &SecretString::from(key.to_owned()),
            &SecretString::from(hook.to_owned()),
        )
    };
    let (key, hook) = (secret_key.trim(), webhook_secret.trim());
    let Some(GatewaySettings::Stripe {
        sealed_secret_key,
        sealed_webhook_secret,
        secret_key_hint,
        webhook_secret_hint,
    }) = stored
    else {
        return match seal(key, hook) {
            Ok(s) => Ok(Ok(s)),
            Err(e) => Ok(Err(billing_error(e)?)),
        };
    };
    let kept = GatewaySettings::Stripe {
        sealed_secret_key: sealed_secret_key.clone(),
        sealed_webhook_secret: sealed_webhook_secret.clone(),
        secret_key_hint: secret_key_hint.clone(),
        webhook_secret_hint: webhook_secret_hint.clone(),
    };
    // A secret given alone is sealed (twice over, as both fields) and paired with the
    // stored other one: both are sealed under the same tenant and gateway.
    let fresh = match (key.is_empty(), hook.is_empty()) {
        (true, true) => return Ok(Ok(kept)),
        (false, false) => seal(key, hook),
        (false, true) => seal(key, key),
        (true, false) => seal(hook, hook),
    };
    let fresh = match fresh {
        Ok(s) => s,
        Err(e) => return Ok(Err(billing_error(e)?)),
    };
    let (
        GatewaySettings::Stripe {
            sealed_secret_key: new_key,
            secret_key_hint: new_key_hint,
            sealed_webhook_secret: new_hook,
            webhook_secret_hint: new_hook_hint,
        },
        GatewaySettings::Stripe {
            sealed_secret_key: old_key,
            secret_key_hint: old_key_hint,
            sealed_webhook_secret: old_hook,
            webhook_secret_hint: old_hook_hint,
        },
    ) = (fresh, kept)
    else {
        return Err(AppError::Internal(anyhow::anyhow!("stripe settings")));
    };
    Ok(Ok(match (key.is_empty(), hook.is_empty()) {
        (false, true) => GatewaySettings::Stripe {
            sealed_secret_key: new_key,
            secret_key_hint: new_key_hint,
            sealed_webhook_secret: old_hook,
            webhook_secret_hint: old_hook_hint,
        },
        (true, false) => GatewaySettings::Stripe {
            // `seal(hook, hook)` sealed the webhook secret under its own field too.
            sealed_secret_key: old_key,
            secret_key_hint: old_key_hint,
            sealed_webhook_secret: new_hook,
            webhook_secret_hint: new_hook_hint,
        },
        _ => GatewaySettings::Stripe {
            sealed_secret_key: new_key,
            secret_key_hint: new_key_hint,
            sealed_webhook_secret: new_hook,
            webhook_secret_hint: new_hook_hint,
        },
    }))
}

/// `POST /admin/settings/payments/{name}`: `enabled`, `label`, and the gateway's own fields
/// (`instructions`; `secret_key` and `webhook_secret`).
async fn save_gateway(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let name = known(&name)?;
    let submitted = Submitted::new(&fields);
    let form = GatewayForm {
        enabled: submitted.checked("enabled"),
        label: submitted.get("label"),
        instructions: submitted.get("instructions"),
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let row = match payments::get_gateway(&mut tx, name).await {
        Ok(row) => Some(row),
        Err(tenant_store::StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let stored = stored_settings(row.as_ref());
    let mut errors = BTreeMap::new();
    if form.label.trim().is_empty() {
        errors.insert("label".to_owned(), "can't be empty".to_owned());
    } else if form.label.trim().chars().count() > 100 {
        errors.insert(
            "label".to_owned(),
            "must be at most 100 characters".to_owned(),
        );
    }
    let production = app.settings.environment == Environment::Production;
    let settings = match name {
        "test" => {
            if form.enabled && production {
                errors.insert(
                    "enabled".to_owned(),
                    "test payments can't be enabled on a live server: shoppers could order \
                     without paying"
                        .to_owned(),
                );
            }
            Some(GatewaySettings::Test)
        }
        "manual" => {
            let instructions = form.instructions.trim();
            if instructions.is_empty() {
                errors.insert(
                    "instructions".to_owned(),
                    "can't be blank: tell shoppers how to pay".to_owned(),
                );
            } else if instructions.chars().count() > 2000 {
                errors.insert(
                    "instructions".to_owned(),
                    "must be at most 2000 characters".to_owned(),
                );
            }
            Some(GatewaySettings::Manual {
                instructions: instructions.to_owned(),
            })
        }
        "stripe" => match stripe_settings(
            &app,
            &tenant,
            stored.as_ref(),
            &submitted.get("secret_key"),
            &submitted.get("webhook_secret"),
        )? {
            Ok(s) => Some(s),
            Err((field, message)) => {
                errors.insert(field, message);
                None
            }
        },
        _ => Some(GatewaySettings::StoreCredit),
    };
    if let (Some(settings), true) = (settings, errors.is_empty()) {
        let json = serde_json::to_value(&settings)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("gateway settings: {e}")))?;
        match payments::save_gateway(&mut tx, name, form.enabled, &form.label, &json).await {
            Ok(saved) => {
                let (secret_key_hint, webhook_secret_hint) = stripe_hints(Some(&settings));
                audit::record(
                    &mut tx,
                    &merchant.email,
                    &form::save_action("payments.gateway", row.is_some()),
                    name,
                    serde_json::json!({
                        "enabled": saved.enabled,
                        "label": saved.label,
                        "secret_key_hint": secret_key_hint,
                        "webhook_secret_hint": webhook_secret_hint,
                    }),
                )
                .await?;
                tx.commit().await?;
                return Ok(Redirect::to("/admin/settings/payments").into_response());
            }
            Err(e) => {
                for (field, message) in form::field_errors(e)? {
                    errors.entry(field).or_insert(message);
                }
            }
        }
    }
    drop(tx);
    let html = render(
        &app,
        &tenant,
        &merchant,
        &headers,
        name,
        row.as_ref(),
        form,
        errors,
    )
    .await?;
    Ok(form::unprocessable(html))
}
