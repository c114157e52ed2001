//! `/admin/settings/domains`: the store's hostnames, adding a custom domain, checking its
//! DNS records, making it primary, removing it. Owners and admins only.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tenant_store::settings;

use crate::app::AppState;
use crate::csrf;
use crate::domains::{self, DomainError, DomainName, Hostname, Verdict};
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::tenancy::hosts::{HostKey, host_key};

const PAGE: &str = "/admin/settings/domains";

/// `POST /admin/settings/domains`: what the merchant typed (kept when it comes back).
#[derive(Default, Deserialize, Serialize)]
pub struct AddForm {
    #[serde(default)]
    domain: String,
}

/// The buttons on each hostname post its full name.
#[derive(Deserialize)]
pub struct HostnameForm {
    #[serde(default)]
    hostname: String,
}

#[derive(Serialize)]
struct DomainsView<'a> {
    store_name: String,
    merchant_email: &'a str,
    role: &'a str,
    csrf: String,
    cname_target: String,
    hostnames: Vec<HostnameView>,
    form: &'a AddForm,
    errors: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct HostnameView {
    /// The full hostname, as shoppers type it and the forms post it.
    host: String,
    custom: bool,
    primary: bool,
    verified: bool,
    /// The domain has no CNAME-able parent in the merchant's zone (e.g. `example.com`).
    apex: bool,
    txt_name: String,
    txt_value: String,
    last_checked_at: Option<String>,
    last_check_error: Option<String>,
    /// When an unproved claim lapses.
    lapses_on: String,
}

impl HostnameView {
    fn new(row: &Hostname, subdomain_host: &str) -> Self {
        let host = if row.is_custom() {
            row.hostname.clone()
        } else {
            subdomain_host.to_owned()
        };
        Self {
            custom: row.is_custom(),
            primary: row.is_primary,
            verified: row.verified_at.is_some(),
            apex: host.matches('.').count() == 1,
            txt_name: domains::verification_record(&host),
            txt_value: row
                .verification_token
                .as_deref()
                .map(domains::verification_value)
                .unwrap_or_default(),
            last_checked_at: row
                .last_checked_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            last_check_error: row.last_check_error.clone(),
            lapses_on: (row.created_at + chrono::Duration::days(i64::from(domains::CLAIM_DAYS)))
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            host,
        }
    }
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    form: &AddForm,
    errors: BTreeMap<&'static str, String>,
) -> Result<Html<String>, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let store = settings::load(&mut tx).await?;
    let rows = domains::list(&mut tx, tenant.id).await?;
    tx.commit().await?;
    let subdomain_host = format!("{}.{}", tenant.subdomain, app.hosts.platform_domain());
    let view = DomainsView {
        store_name: store.name,
        merchant_email: &merchant.email,
        role: &merchant.role,
        csrf: csrf::token(&merchant.session).await?,
        cname_target: app.settings.cname_target(),
        hostnames: rows
            .iter()
            .map(|row| HostnameView::new(row, &subdomain_host))
            .collect(),
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/domains.html", &view)?))
}

/// `GET /admin/settings/domains`.
pub async fn show_domains(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require("settings")?;
    render(
        &app,
        &tenant,
        &merchant,
        &AddForm::default(),
        BTreeMap::new(),
    )
    .await
}

/// `POST /admin/settings/domains`: adds an unverified domain; the page then shows the DNS
/// records to create.
pub async fn add_domain(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(form): Form<AddForm>,
) -> Result<Response, AppError> {
    merchant.require("settings")?;
    let refuse = |message: String| {
        let (app, tenant, merchant, form) = (&app, &tenant, &merchant, &form);
        async move {
            let errors = BTreeMap::from([("domain", message)]);
            let page = render(app, tenant, merchant, form, errors).await?;
            Ok::<_, AppError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    };
    let domain = match DomainName::parse(&form.domain, app.hosts.platform_domain()) {
        Ok(domain) => domain,
        Err(message) => return refuse(message).await,
    };
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    match domains::add(&mut tx, tenant.id, &domain).await {
        Ok(_) => {}
        Err(e @ (DomainError::Taken | DomainError::AlreadyYours)) => {
            // Nothing was written; give the connection back before rendering.
            drop(tx);
            return refuse(e.user_message().to_owned()).await;
        }
        Err(other) => return Err(other.into()),
    }
    tx.commit().await?;
    tracing::info!(tenant.id = %tenant.id, %domain, "custom domain added");
    Ok(Redirect::to(PAGE).into_response())
}

/// This node forgets the changed hostnames at once, so the merchant's very next request
/// sees the change; other nodes hear of it by NOTIFY a moment later.
async fn forget_cached(app: &AppState, keys: impl IntoIterator<Item = String>) {
    for key in keys {
        app.hosts.invalidate(&key).await;
    }
}

/// The registry key of a hostname posted by a button: the bare label for the store's
/// subdomain, the full name for a custom domain.
fn registry_key(app: &AppState, hostname: &str) -> Result<String, AppError> {
    match host_key(hostname, app.hosts.platform_domain()) {
        HostKey::Lookup(key) => Ok(key),
        HostKey::Platform | HostKey::Invalid => Err(AppError::NotFound),
    }
}

/// `POST /admin/settings/domains/verify`: asks DNS now; the page shows the outcome.
pub async fn check_domain(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(form): Form<HostnameForm>,
) -> Result<Redirect, AppError> {
    merchant.require("settings")?;
    let key = registry_key(&app, &form.hostname)?;
    // Read, then ask DNS outside any transaction: a slow name server must not hold locks.
    let mut conn = app.db.acquire().await?;
    let row = domains::find(&mut conn, tenant.id, &key)
        .await?
        .filter(Hostname::is_custom)
        .ok_or(AppError::NotFound)?;
    drop(conn);
    if row.verified_at.is_some() {
        return Ok(Redirect::to(PAGE));
    }
    let token = row
        .verification_token
        .as_deref()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("custom domain without a token")))?;
    let verdict = domains::check_dns(
        app.settings.dns_nameserver,
        &row.hostname,
        token,
        &app.settings.cname_target(),
    )
    .await?;
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    match domains::record_check(&mut tx, tenant.id, &key, &verdict).await {
        Ok(()) => {}
        Err(DomainError::Taken) => {
            // Another store proved the domain first; this claim has ended with theirs.
            drop(tx);
            tracing::info!(tenant.id = %tenant.id, domain = %row.hostname, "custom domain proved by another store first");
            return Ok(Redirect::to(PAGE));
        }
        Err(other) => return Err(other.into()),
    }
    tx.commit().await?;
    forget_cached(&app, [key]).await;
    match &verdict {
        Verdict::Verified => {
            tracing::info!(tenant.id = %tenant.id, domain = %row.hostname, "custom domain verified");
        }
        Verdict::NotYet(problem) => {
            tracing::info!(tenant.id = %tenant.id, domain = %row.hostname, %problem, "custom domain check failed");
        }
    }
    Ok(Redirect::to(PAGE))
}

/// `POST /admin/settings/domains/primary`: shoppers are sent to this hostname from now on.
pub async fn make_primary(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(form): Form<HostnameForm>,
) -> Result<Redirect, AppError> {
    merchant.require("settings")?;
    let key = registry_key(&app, &form.hostname)?;
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    let changed = domains::make_primary(&mut tx, tenant.id, &key).await?;
    tx.commit().await?;
    forget_cached(&app, changed).await;
    tracing::info!(tenant.id = %tenant.id, hostname = %key, "primary hostname changed");
    Ok(Redirect::to(PAGE))
}

/// `POST /admin/settings/domains/remove`: disconnects a custom domain.
pub async fn remove_domain(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(form): Form<HostnameForm>,
) -> Result<Redirect, AppError> {
    merchant.require("settings")?;
    let key = registry_key(&app, &form.hostname)?;
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    let changed = domains::remove(&mut tx, tenant.id, &key).await?;
    tx.commit().await?;
    forget_cached(&app, changed).await;
    tracing::info!(tenant.id = %tenant.id, domain = %key, "custom domain removed");
    Ok(Redirect::to(PAGE))
}
