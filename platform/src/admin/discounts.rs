//! Admin: discount codes (`/admin/discounts`, the `orders` permission): a percentage, a
//! fixed amount or free shipping, with start and end dates (UTC), a usage limit and a
//! minimum subtotal; the list shows how often each code was used.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use billing::Currency;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use tenant_store::audit;
use tenant_store::discounts::{self, DiscountCode, DiscountInput};
use tenant_store::pricing::DiscountValue;
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::{self, Submitted};
use super::shipping::{decimal, parse_amount, store_currency};
use super::taxes::{bp_to_percent, percent_to_bp};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::routing::{Routes, get, post};
use crate::storefront::layout::display_money;

/// The permission area.
const AREA: &str = "orders";

/// How dates are shown in and read from the editor (`datetime-local`, UTC).
const DATE_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// Routes of this part of the admin.
pub fn router() -> Routes {
    Routes::new()
        .route("/admin/discounts", get(list_codes).post(create_code))
        .route("/admin/discounts/new", get(new_code))
        .route("/admin/discounts/{id}", get(edit_code).post(update_code))
        .route("/admin/discounts/{id}/delete", post(delete_code))
}

/// A date as the editor sends it: `2026-05-01T09:30`, `2026-05-01T09:30:00` or `2026-05-01`
/// (midnight), in UTC.
fn parse_date(input: &str) -> Result<Option<DateTime<Utc>>, String> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    let naive = NaiveDateTime::parse_from_str(input, DATE_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| {
            NaiveDate::parse_from_str(input, "%Y-%m-%d").map(|d| d.and_time(Default::default()))
        })
        .map_err(|_| "must be a date and time like 2026-05-01T09:30".to_owned())?;
    Ok(Some(naive.and_utc()))
}

/// One code in the list.
#[derive(Serialize)]
struct CodeLine {
    id: Uuid,
    code: String,
    value: String,
    min_subtotal: Option<String>,
    starts_at: String,
    ends_at: Option<String>,
    times_used: i32,
    usage_limit: Option<i32>,
    status: &'static str,
}

fn describe(value: &DiscountValue, currency: Currency) -> String {
    match value {
        DiscountValue::Percentage { basis_points } => {
            format!("{} % off", bp_to_percent(i64::from(*basis_points)))
        }
        DiscountValue::FixedAmount { amount_minor } => {
            format!("{} off", display_money(*amount_minor, currency))
        }
        DiscountValue::FreeShipping => "Free shipping".to_owned(),
    }
}

fn status(d: &DiscountCode, now: DateTime<Utc>) -> &'static str {
    if now < d.starts_at {
        "Scheduled"
    } else if d.ends_at.is_some_and(|e| now >= e) {
        "Expired"
    } else if d.usage_limit.is_some_and(|l| d.times_used >= l) {
        "Used up"
    } else {
        "Active"
    }
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    codes: Vec<CodeLine>,
}

/// `GET /admin/discounts`.
async fn list_codes(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let codes = discounts::list_codes(&mut tx).await?;
    tx.commit().await?;
    let now = Utc::now();
    let codes = codes
        .iter()
        .map(|d| CodeLine {
            id: d.id,
            code: d.code.clone(),
            value: describe(&d.value, currency),
            min_subtotal: (d.min_subtotal_minor > 0)
                .then(|| display_money(d.min_subtotal_minor, currency)),
            starts_at: d.starts_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ends_at: d
                .ends_at
                .map(|e| e.format("%Y-%m-%d %H:%M UTC").to_string()),
            times_used: d.times_used,
            usage_limit: d.usage_limit,
            status: status(d, now),
        })
        .collect();
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        codes,
    };
    Ok(Html(app.views.render("admin/discounts.html", &view)?))
}

/// The editor's fields, as typed.
#[derive(Clone, Debug, Default, Serialize)]
struct CodeForm {
    code: String,
    kind: String,
    value: String,
    min_subtotal: String,
    starts_at: String,
    ends_at: String,
    usage_limit: String,
}

impl CodeForm {
    fn blank() -> Self {
        Self {
            kind: "percentage".into(),
            ..Self::default()
        }
    }

    fn from_code(d: &DiscountCode, currency: Currency) -> Self {
        let (kind, value) = match d.value {
            DiscountValue::Percentage { basis_points } => {
                ("percentage", bp_to_percent(i64::from(basis_points)))
            }
            DiscountValue::FixedAmount { amount_minor } => {
                ("fixed_amount", decimal(amount_minor, currency))
            }
            DiscountValue::FreeShipping => ("free_shipping", String::new()),
        };
        Self {
            code: d.code.clone(),
            kind: kind.into(),
            value,
            min_subtotal: if d.min_subtotal_minor > 0 {
                decimal(d.min_subtotal_minor, currency)
            } else {
                String::new()
            },
            starts_at: d.starts_at.format(DATE_FORMAT).to_string(),
            ends_at: d
                .ends_at
                .map(|e| e.format(DATE_FORMAT).to_string())
                .unwrap_or_default(),
            usage_limit: d.usage_limit.map(|l| l.to_string()).unwrap_or_default(),
        }
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let form = Submitted::new(fields);
        Self {
            code: form.get("code"),
            kind: form.get("kind"),
            value: form.get("value"),
            min_subtotal: form.get("min_subtotal"),
            starts_at: form.get("starts_at"),
            ends_at: form.get("ends_at"),
            usage_limit: form.get("usage_limit"),
        }
    }

    fn to_input(&self, currency: Currency) -> Result<DiscountInput, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let value = match self.kind.as_str() {
            "percentage" => match percent_to_bp(&self.value) {
                Ok(bp) => DiscountValue::Percentage {
                    basis_points: u32::try_from(bp).unwrap_or(0),
                },
                Err(message) => {
                    errors.insert("value".to_owned(), message);
                    DiscountValue::FreeShipping
                }
            },
            "fixed_amount" => DiscountValue::FixedAmount {
                amount_minor: parse_amount("value", &self.value, currency, &mut errors),
            },
            "free_shipping" => DiscountValue::FreeShipping,
            _ => {
                errors.insert("kind".to_owned(), "choose what the code takes off".into());
                DiscountValue::FreeShipping
            }
        };
        let min_subtotal_minor = if self.min_subtotal.trim().is_empty() {
            0
        } else {
            parse_amount("min_subtotal", &self.min_subtotal, currency, &mut errors)
        };
        let mut date = |field: &str, input: &str| match parse_date(input) {
            Ok(d) => d,
            Err(message) => {
                errors.insert(field.to_owned(), message);
                None
            }
        };
        let starts_at = date("starts_at", &self.starts_at);
        let ends_at = date("ends_at", &self.ends_at);
        let usage_limit = match self.usage_limit.trim() {
            "" => None,
            l => match l.parse::<i32>() {
                Ok(l) => Some(l),
                Err(_) => {
                    errors.insert(
                        "usage_limit".to_owned(),
                        "must be a whole number (empty: unlimited)".to_owned(),
                    );
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(DiscountInput {
            code: self.code.clone(),
            value,
            min_subtotal_minor,
            starts_at,
            ends_at,
            usage_limit,
        })
    }
}

fn editor_field(field: &str) -> String {
    match field {
        "min_subtotal_minor" => "min_subtotal".to_owned(),
        other => other.to_owned(),
    }
}

#[derive(Serialize)]
struct EditorView {
    chrome: Chrome,
    code_id: Option<Uuid>,
    times_used: Option<i32>,
    currency: String,
    form: CodeForm,
    errors: BTreeMap<String, String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    code: Option<&DiscountCode>,
    currency: Currency,
    form: CodeForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let view = EditorView {
        chrome: Chrome::new(tenant, merchant).await?,
        code_id: code.map(|c| c.id),
        times_used: code.map(|c| c.times_used),
        currency: currency.as_str().to_owned(),
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/discount.html", &view)?))
}

/// `GET /admin/discounts/new`.
async fn new_code(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    tx.commit().await?;
    let form = CodeForm::blank();
    render(
        &app,
        &tenant,
        &merchant,
        None,
        currency,
        form,
        BTreeMap::new(),
    )
    .await
}

/// `GET /admin/discounts/{id}`.
async fn edit_code(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let code = discounts::get_code(&mut tx, id).await?;
    tx.commit().await?;
    let form = CodeForm::from_code(&code, currency);
    let errors = BTreeMap::new();
    render(
        &app,
        &tenant,
        &merchant,
        Some(&code),
        currency,
        form,
        errors,
    )
    .await
}

async fn save(
    app: AppState,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    id: Option<Uuid>,
    fields: Vec<(String, String)>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let form = CodeForm::from_fields(&fields);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let existing = match id {
        Some(id) => Some(discounts::get_code(&mut tx, id).await?),
        None => None,
    };
    let errors = match form.to_input(currency) {
        Err(errors) => errors,
        Ok(input) => {
            let saved = match id {
                None => discounts::create_code(&mut tx, &input).await,
                Some(id) => discounts::update_code(&mut tx, id, &input).await,
            };
            match saved {
                Ok(code) => {
                    audit::record(
                        &mut tx,
                        &merchant.email,
                        &form::save_action("discount", id.is_some()),
                        &code.code,
                        serde_json::json!({
                            "id": code.id,
                            "value": code.value,
                            "min_subtotal_minor": code.min_subtotal_minor,
                            "starts_at": code.starts_at,
                            "ends_at": code.ends_at,
                            "usage_limit": code.usage_limit,
                        }),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Redirect::to("/admin/discounts").into_response());
                }
                Err(e) => form::editor_errors(form::field_errors(e)?, editor_field),
            }
        }
    };
    drop(tx);
    let html = render(
        &app,
        &tenant,
        &merchant,
        existing.as_ref(),
        currency,
        form,
        errors,
    )
    .await?;
    Ok(form::unprocessable(html))
}

/// `POST /admin/discounts`.
async fn create_code(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, None, fields).await
}

/// `POST /admin/discounts/{id}`.
async fn update_code(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, Some(id), fields).await
}

/// `POST /admin/discounts/{id}/delete`.
async fn delete_code(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let code = discounts::get_code(&mut tx, id).await?;
    discounts::delete_code(&mut tx, id).await?;
    let actor = &merchant.email;
    form::done(
        tx,
        actor,
        "discount.delete",
        &code.code,
        id,
        "/admin/discounts",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_as_utc() {
        let d = parse_date("2026-05-01T09:30").unwrap().unwrap();
        assert_eq!(d.to_rfc3339(), "2026-05-01T09:30:00+00:00");
        let d = parse_date("2026-05-01").unwrap().unwrap();
        assert_eq!(d.to_rfc3339(), "2026-05-01T00:00:00+00:00");
        assert_eq!(parse_date(" "), Ok(None));
        assert!(parse_date("tomorrow").is_err());
    }
}
