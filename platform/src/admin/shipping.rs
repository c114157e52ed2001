//! Admin: shipping rates (`/admin/settings/shipping`, the `settings` permission). Each rate
//! serves a zone of countries (none: everywhere) and is priced flat, free over an amount, or
//! by weight brackets. Prices are typed as decimals in the store's currency and stored in
//! minor units; never floats.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use billing::{Currency, Money};
use serde::Serialize;
use tenant_store::TenantTx;
use tenant_store::audit;
use tenant_store::pricing::{ShippingRule, WeightBracket};
use tenant_store::shipping::{self, ShippingRate, ShippingRateInput};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::{self, Submitted};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::routing::{Routes, get, post};
use crate::storefront::layout::display_money;

/// The permission area.
const AREA: &str = "settings";

/// Blank bracket rows the editor offers below the existing ones.
const SPARE_BRACKETS: usize = 3;

/// Routes of this part of the admin.
pub fn router() -> Routes {
    Routes::new()
        .route(
            "/admin/settings/shipping",
            get(list_rates).post(create_rate),
        )
        .route("/admin/settings/shipping/new", get(new_rate))
        .route(
            "/admin/settings/shipping/{id}",
            get(edit_rate).post(update_rate),
        )
        .route("/admin/settings/shipping/{id}/delete", post(delete_rate))
}

/// The store's currency, from its settings.
pub(super) async fn store_currency(tx: &mut TenantTx) -> Result<Currency, AppError> {
    let settings = tenant_store::settings::load(tx).await?;
    Currency::parse(&settings.currency)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("store currency: {e}")))
}

/// Minor units as the merchant types them (`4.95`).
pub(super) fn decimal(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).to_decimal_string()
}

/// A typed amount in minor units; a problem goes into `errors` under `field`.
pub(super) fn parse_amount(
    field: &str,
    input: &str,
    currency: Currency,
    errors: &mut BTreeMap<String, String>,
) -> i64 {
    match Money::parse_decimal(input.trim(), currency) {
        Ok(m) if m.minor < 0 => {
            errors.insert(field.to_owned(), "must not be negative".to_owned());
            0
        }
        Ok(m) => m.minor,
        Err(e) => {
            errors.insert(field.to_owned(), e.to_string());
            0
        }
    }
}

/// One rate in the list.
#[derive(Serialize)]
struct RateLine {
    id: Uuid,
    name: String,
    zone: String,
    pricing: String,
}

fn describe(rule: &ShippingRule, currency: Currency) -> String {
    match rule {
        ShippingRule::Flat { price_minor } => display_money(*price_minor, currency),
        ShippingRule::FreeOver {
            price_minor,
            threshold_minor,
        } => format!(
            "{}, free from {}",
            display_money(*price_minor, currency),
            display_money(*threshold_minor, currency)
        ),
        ShippingRule::ByWeight { brackets } => {
            let mut sorted = brackets.clone();
            sorted.sort_by_key(|b| b.up_to_grams.unwrap_or(i64::MAX));
            sorted
                .iter()
                .map(|b| match b.up_to_grams {
                    Some(g) => format!("up to {g} g: {}", display_money(b.price_minor, currency)),
                    None => format!("heavier: {}", display_money(b.price_minor, currency)),
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
    }
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    rates: Vec<RateLine>,
}

/// `GET /admin/settings/shipping`.
async fn list_rates(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let rates = shipping::list_rates(&mut tx).await?;
    tx.commit().await?;
    let rates = rates
        .into_iter()
        .map(|r| RateLine {
            id: r.id,
            zone: if r.countries.is_empty() {
                "Everywhere".to_owned()
            } else {
                r.countries.join(", ")
            },
            pricing: describe(&r.rule, currency),
            name: r.name,
        })
        .collect();
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        rates,
    };
    Ok(Html(app.views.render("admin/shipping.html", &view)?))
}

/// One bracket row of the editor.
#[derive(Clone, Debug, Default, Serialize)]
struct BracketRow {
    up_to: String,
    price: String,
}

/// The editor's fields, as typed.
#[derive(Clone, Debug, Default, Serialize)]
struct RateForm {
    name: String,
    countries: String,
    position: String,
    kind: String,
    price: String,
    threshold: String,
    brackets: Vec<BracketRow>,
}

impl RateForm {
    fn blank() -> Self {
        Self {
            kind: "flat".into(),
            position: "0".into(),
            brackets: vec![BracketRow::default(); SPARE_BRACKETS],
            ..Self::default()
        }
    }

    fn from_rate(r: &ShippingRate, currency: Currency) -> Self {
        let mut form = Self {
            name: r.name.clone(),
            countries: r.countries.join(", "),
            position: r.position.to_string(),
            ..Self::default()
        };
        match &r.rule {
            ShippingRule::Flat { price_minor } => {
                form.kind = "flat".into();
                form.price = decimal(*price_minor, currency);
            }
            ShippingRule::FreeOver {
                price_minor,
                threshold_minor,
            } => {
                form.kind = "free_over".into();
                form.price = decimal(*price_minor, currency);
                form.threshold = decimal(*threshold_minor, currency);
            }
            ShippingRule::ByWeight { brackets } => {
                form.kind = "by_weight".into();
                let mut sorted = brackets.clone();
                sorted.sort_by_key(|b| b.up_to_grams.unwrap_or(i64::MAX));
                form.brackets = sorted
                    .iter()
                    .map(|b| BracketRow {
                        up_to: b.up_to_grams.map(|g| g.to_string()).unwrap_or_default(),
                        price: decimal(b.price_minor, currency),
                    })
                    .collect();
            }
        }
        form.brackets
            .extend(std::iter::repeat_n(BracketRow::default(), SPARE_BRACKETS));
        form
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let form = Submitted::new(fields);
        let mut rows: usize = 0;
        for name in form.names() {
            if let Some(i) = name
                .strip_prefix('b')
                .and_then(|r| r.split_once('_'))
                .and_then(|(i, _)| i.parse::<usize>().ok())
            {
                rows = rows.max(i + 1);
            }
        }
        let rows = rows.min(100);
        let brackets = (0..rows)
            .map(|i| BracketRow {
                up_to: form.get(&format!("b{i}_up_to")),
                price: form.get(&format!("b{i}_price")),
            })
            .collect();
        Self {
            name: form.get("name"),
            countries: form.get("countries"),
            position: form.get("position"),
            kind: form.get("kind"),
            price: form.get("price"),
            threshold: form.get("threshold"),
            brackets,
        }
    }

    /// The domain input, or the editor's errors; `origin[i]` is the row of the `i`th bracket.
    fn to_input(
        &self,
        currency: Currency,
    ) -> Result<(ShippingRateInput, Vec<usize>), BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let countries: Vec<String> = self
            .countries
            .split([',', ' ', ';'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        let position = match self.position.trim() {
            "" => 0,
            p => p.parse::<i32>().unwrap_or_else(|_| {
                errors.insert("position".into(), "must be a whole number".into());
                0
            }),
        };
        let mut origin = Vec::new();
        let rule = match self.kind.as_str() {
            "flat" => ShippingRule::Flat {
                price_minor: parse_amount("price", &self.price, currency, &mut errors),
            },
            "free_over" => ShippingRule::FreeOver {
                price_minor: parse_amount("price", &self.price, currency, &mut errors),
                threshold_minor: parse_amount("threshold", &self.threshold, currency, &mut errors),
            },
            "by_weight" => {
                let mut brackets = Vec::new();
                for (row, b) in self.brackets.iter().enumerate() {
                    if b.up_to.trim().is_empty() && b.price.trim().is_empty() {
                        continue;
                    }
                    let up_to_grams = match b.up_to.trim() {
                        "" => None,
                        g => match g.parse::<i64>() {
                            Ok(g) if g >= 0 => Some(g),
                            _ => {
                                errors.insert(
                                    format!("b{row}_up_to"),
                                    "must be a whole number of grams".into(),
                                );
                                None
                            }
                        },
                    };
                    let price_minor =
                        parse_amount(&format!("b{row}_price"), &b.price, currency, &mut errors);
                    brackets.push(WeightBracket {
                        up_to_grams,
                        price_minor,
                    });
                    origin.push(row);
                }
                ShippingRule::ByWeight { brackets }
            }
            _ => {
                errors.insert("kind".into(), "choose how the rate is priced".into());
                ShippingRule::Flat { price_minor: 0 }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok((
            ShippingRateInput {
                name: self.name.clone(),
                countries,
                rule,
                position,
            },
            origin,
        ))
    }
}

/// The editor's name for a domain field.
fn editor_field(field: &str, origin: &[usize]) -> String {
    if let Some((i, name)) = form::indexed(field, "brackets") {
        let row = form::origin_row(origin, i);
        return match name {
            "up_to_grams" => format!("b{row}_up_to"),
            _ => format!("b{row}_price"),
        };
    }
    match field {
        "price_minor" => "price".into(),
        "threshold_minor" => "threshold".into(),
        other => other.into(),
    }
}

#[derive(Serialize)]
struct EditorView {
    chrome: Chrome,
    rate_id: Option<Uuid>,
    currency: String,
    form: RateForm,
    errors: BTreeMap<String, String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    rate_id: Option<Uuid>,
    currency: Currency,
    form: RateForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let view = EditorView {
        chrome: Chrome::new(tenant, merchant).await?,
        rate_id,
        currency: currency.as_str().to_owned(),
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/shipping_rate.html", &view)?))
}

/// `GET /admin/settings/shipping/new`.
async fn new_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    tx.commit().await?;
    let form = RateForm::blank();
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

/// `GET /admin/settings/shipping/{id}`.
async fn edit_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let rate = shipping::get_rate(&mut tx, id).await?;
    tx.commit().await?;
    let form = RateForm::from_rate(&rate, currency);
    render(
        &app,
        &tenant,
        &merchant,
        Some(id),
        currency,
        form,
        BTreeMap::new(),
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
    let mut form = RateForm::from_fields(&fields);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    if let Some(id) = id {
        // An unknown rate is a 404 whatever was typed.
        shipping::get_rate(&mut tx, id).await?;
    }
    let errors = match form.to_input(currency) {
        Err(errors) => errors,
        Ok((input, origin)) => {
            let saved = match id {
                None => shipping::create_rate(&mut tx, &input).await,
                Some(id) => shipping::update_rate(&mut tx, id, &input).await,
            };
            match saved {
                Ok(rate) => {
                    audit::record(
                        &mut tx,
                        &merchant.email,
                        &form::save_action("shipping.rate", id.is_some()),
                        &rate.name,
                        serde_json::json!({
                            "id": rate.id,
                            "countries": rate.countries,
                            "rule": rate.rule,
                        }),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Redirect::to("/admin/settings/shipping").into_response());
                }
                Err(e) => {
                    let errors = form::field_errors(e)?;
                    form::editor_errors(errors, |f| editor_field(f, &origin))
                }
            }
        }
    };
    drop(tx);
    let spare = form
        .brackets
        .iter()
        .rev()
        .take_while(|b| b.up_to.trim().is_empty() && b.price.trim().is_empty())
        .count();
    if spare < SPARE_BRACKETS {
        form.brackets.extend(std::iter::repeat_n(
            BracketRow::default(),
            SPARE_BRACKETS - spare,
        ));
    }
    let html = render(&app, &tenant, &merchant, id, currency, form, errors).await?;
    Ok(form::unprocessable(html))
}

/// `POST /admin/settings/shipping`.
async fn create_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, None, fields).await
}

/// `POST /admin/settings/shipping/{id}`.
async fn update_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, Some(id), fields).await
}

/// `POST /admin/settings/shipping/{id}/delete`.
async fn delete_rate(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let rate = shipping::get_rate(&mut tx, id).await?;
    shipping::delete_rate(&mut tx, id).await?;
    let actor = &merchant.email;
    let to = "/admin/settings/shipping";
    form::done(tx, actor, "shipping.rate.delete", &rate.name, id, to).await
}
