//! Admin: tax rates (`/admin/settings/taxes`, the `settings` permission): a rate per
//! country and per region, typed as a percent ("19", "7.25") and stored in basis points,
//! and whether the store's prices include tax.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Serialize;
use tenant_store::audit;
use tenant_store::taxes::{self, TaxRateInput, TaxRateRecord};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::{self, Submitted};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::routing::{Routes, get, post};

/// The permission area.
const AREA: &str = "settings";

/// Routes of this part of the admin.
pub fn router() -> Routes {
    Routes::new()
        .route("/admin/settings/taxes", get(list_rates).post(create_rate))
        .route(
            "/admin/settings/taxes/prices-include-tax",
            post(update_prices_include_tax),
        )
        .route(
            "/admin/settings/taxes/{id}",
            get(edit_rate).post(update_rate),
        )
        .route("/admin/settings/taxes/{id}/delete", post(delete_rate))
}

/// A percent as typed ("19", "7.25", "0.5") in basis points, with integers only.
pub(super) fn percent_to_bp(input: &str) -> Result<i32, String> {
    let bad = || "must be a percent like 19 or 7.25".to_owned();
    let input = input.trim().trim_end_matches('%').trim_end();
    let (whole, fraction) = match input.split_once('.') {
        Some((w, f)) => (w, f),
        None => (input, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if input.is_empty() || (whole.is_empty() && fraction.is_empty()) {
        return Err(bad());
    }
    if !digits(whole) || !digits(fraction) || (input.contains('.') && fraction.is_empty()) {
        return Err(bad());
    }
    if fraction.len() > 2 {
        return Err("use at most two decimals (7.25)".to_owned());
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 3 {
        return Err("must be at most 100 %".to_owned());
    }
    let whole: i32 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut frac: i32 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| bad())?
    };
    if fraction.len() == 1 {
        frac *= 10;
    }
    Ok(whole * 100 + frac)
}

/// Basis points as a percent for display and editing ("7.25", "19").
pub(super) fn bp_to_percent(bp: i64) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    if frac == 0 {
        whole.to_string()
    } else if frac % 10 == 0 {
        format!("{whole}.{}", frac / 10)
    } else {
        format!("{whole}.{frac:02}")
    }
}

/// A rate's fields, as typed.
#[derive(Clone, Debug, Default, Serialize)]
struct RateForm {
    country: String,
    region: String,
    name: String,
    rate: String,
}

impl RateForm {
    fn from_record(r: &TaxRateRecord) -> Self {
        Self {
            country: r.country.clone(),
            region: r.region.clone(),
            name: r.name.clone(),
            rate: bp_to_percent(i64::from(r.rate_bp)),
        }
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let form = Submitted::new(fields);
        Self {
            country: form.get("country"),
            region: form.get("region"),
            name: form.get("name"),
            rate: form.get("rate"),
        }
    }

    fn to_input(&self) -> Result<TaxRateInput, BTreeMap<String, String>> {
        match percent_to_bp(&self.rate) {
            Ok(rate_bp) => Ok(TaxRateInput {
                country: self.country.clone(),
                region: self.region.clone(),
                name: self.name.clone(),
                rate_bp,
            }),
            Err(message) => Err(BTreeMap::from([("rate".to_owned(), message)])),
        }
    }
}

fn editor_field(field: &str) -> String {
    match field {
        "rate_bp" => "rate".to_owned(),
        other => other.to_owned(),
    }
}

/// One rate in the list.
#[derive(Serialize)]
struct RateLine {
    id: Uuid,
    country: String,
    region: String,
    name: String,
    percent: String,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    rates: Vec<RateLine>,
    prices_include_tax: bool,
    form: RateForm,
    errors: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct EditView {
    chrome: Chrome,
    rate_id: Uuid,
    form: RateForm,
    errors: BTreeMap<String, String>,
}

async fn render_list(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    form: RateForm,
    errors: BTreeMap<String, String>,
) -> Result<Response, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let rates = taxes::list_rates(&mut tx).await?;
    let prices_include_tax = taxes::prices_include_tax(&mut tx).await?;
    tx.commit().await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = ListView {
        chrome: Chrome::new(tenant, merchant).await?,
        rates: rates
            .into_iter()
            .map(|r| RateLine {
                id: r.id,
                percent: bp_to_percent(i64::from(r.rate_bp)),
                country: r.country,
                region: r.region,
                name: r.name,
            })
            .collect(),
        prices_include_tax,
        form,
        errors,
    };
    Ok((status, Html(app.views.render("admin/taxes.html", &view)?)).into_response())
}

async fn render_edit(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    rate_id: Uuid,
    form: RateForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let view = EditView {
        chrome: Chrome::new(tenant, merchant).await?,
        rate_id,
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/taxes_rate.html", &view)?))
}

/// The stored rate `id`, or 404.
async fn find_rate(tx: &mut tenant_store::TenantTx, id: Uuid) -> Result<TaxRateRecord, AppError> {
    taxes::list_rates(tx)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)
}

/// `GET /admin/settings/taxes`: the rates, a form to add one, and the tax-inclusive switch.
async fn list_rates(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    render_list(
        &app,
        &tenant,
        &merchant,
        RateForm::default(),
        BTreeMap::new(),
    )
    .await
}

/// `GET /admin/settings/taxes/{id}`.
async fn edit_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let rate = find_rate(&mut tx, id).await?;
    tx.commit().await?;
    let form = RateForm::from_record(&rate);
    render_edit(&app, &tenant, &merchant, id, form, BTreeMap::new()).await
}

fn subject(r: &TaxRateRecord) -> String {
    if r.region.is_empty() {
        r.country.clone()
    } else {
        format!("{}-{}", r.country, r.region)
    }
}

async fn save(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    id: Option<Uuid>,
    form: &RateForm,
) -> Result<Result<(), BTreeMap<String, String>>, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    if let Some(id) = id {
        find_rate(&mut tx, id).await?;
    }
    let input = match form.to_input() {
        Ok(input) => input,
        Err(errors) => return Ok(Err(errors)),
    };
    let saved = match id {
        None => taxes::create_rate(&mut tx, &input).await,
        Some(id) => taxes::update_rate(&mut tx, id, &input).await,
    };
    match saved {
        Ok(rate) => {
            audit::record(
                &mut tx,
                &merchant.email,
                &form::save_action("tax.rate", id.is_some()),
                &subject(&rate),
                serde_json::json!({
                    "id": rate.id,
                    "country": rate.country,
                    "region": rate.region,
                    "name": rate.name,
                    "rate_bp": rate.rate_bp,
                }),
            )
            .await?;
            tx.commit().await?;
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(form::editor_errors(
            form::field_errors(e)?,
            editor_field,
        ))),
    }
}

/// `POST /admin/settings/taxes`.
async fn create_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let form = RateForm::from_fields(&fields);
    match save(&app, &tenant, &merchant, None, &form).await? {
        Ok(()) => Ok(Redirect::to("/admin/settings/taxes").into_response()),
        Err(errors) => render_list(&app, &tenant, &merchant, form, errors).await,
    }
}

/// `POST /admin/settings/taxes/{id}`.
async fn update_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let form = RateForm::from_fields(&fields);
    match save(&app, &tenant, &merchant, Some(id), &form).await? {
        Ok(()) => Ok(Redirect::to("/admin/settings/taxes").into_response()),
        Err(errors) => {
            let html = render_edit(&app, &tenant, &merchant, id, form, errors).await?;
            Ok(form::unprocessable(html))
        }
    }
}

/// `POST /admin/settings/taxes/{id}/delete`.
async fn delete_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let rate = find_rate(&mut tx, id).await?;
    taxes::delete_rate(&mut tx, id).await?;
    let actor = &merchant.email;
    let to = "/admin/settings/taxes";
    form::done(tx, actor, "tax.rate.delete", &subject(&rate), id, to).await
}

/// `POST /admin/settings/taxes/prices-include-tax`: the checkbox `prices_include_tax`.
async fn update_prices_include_tax(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let include = Submitted::new(&fields).checked("prices_include_tax");
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    taxes::set_prices_include_tax(&mut tx, include).await?;
    audit::record(
        &mut tx,
        &merchant.email,
        "tax.prices_include_tax.update",
        "settings",
        serde_json::json!({ "prices_include_tax": include }),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/settings/taxes").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percents_become_basis_points_without_floats() {
        assert_eq!(percent_to_bp("19"), Ok(1900));
        assert_eq!(percent_to_bp("7.25"), Ok(725));
        assert_eq!(percent_to_bp(" 0.5 % "), Ok(50));
        assert_eq!(percent_to_bp("100"), Ok(10000));
        assert_eq!(percent_to_bp("007"), Ok(700));
        assert_eq!(percent_to_bp(".5"), Ok(50));
        assert!(percent_to_bp("").is_err());
        assert!(percent_to_bp("7.125").is_err());
        assert!(percent_to_bp("-1").is_err());
        assert!(percent_to_bp("1e2").is_err());
        assert!(percent_to_bp("7.").is_err());
        assert!(percent_to_bp("99999999999").is_err());
        assert_eq!(bp_to_percent(725), "7.25");
        assert_eq!(bp_to_percent(1900), "19");
        assert_eq!(bp_to_percent(750), "7.5");
        assert_eq!(bp_to_percent(5), "0.05");
    }
}
