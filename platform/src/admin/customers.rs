//! Admin: customers and store credit. The list (search, newest first, keyset pages), one
//! customer's profile, addresses, orders and credit ledger, and adjusting the balance with
//! a reason. Needs the `customers` permission.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use billing::{Currency, Money};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use tenant_store::customers::{self, Address, CustomerSummary};
use tenant_store::{audit, credit, settings};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::routing::{Routes, get, post};

/// The permission area.
const AREA: &str = "customers";
/// Customers per page.
const PAGE_SIZE: i64 = 50;
/// Orders shown on a customer's page.
const ORDERS_SHOWN: i64 = 100;
/// Ledger rows shown on a customer's page.
const LEDGER_SHOWN: i64 = 200;

/// Routes of this part of the admin.
pub fn router() -> Routes {
    Routes::new()
        .route("/admin/customers", get(list_customers))
        .route("/admin/customers/{id}", get(show_customer))
        .route("/admin/customers/{id}/credit", post(adjust_credit))
}

/// The store's currency (store credit and totals are kept in it).
async fn store_currency(conn: &mut PgConnection) -> Result<Currency, AppError> {
    let code = settings::load(conn).await?.currency;
    Currency::parse(&code).map_err(|e| AppError::Internal(anyhow::anyhow!("store currency: {e}")))
}

fn money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).to_decimal_string()
}

/// A customer row as the templates show it, amounts formatted.
#[derive(Serialize)]
struct CustomerRow {
    id: Uuid,
    name: String,
    email: String,
    phone: String,
    has_account: bool,
    orders_count: i64,
    total_spent: String,
    credit: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl CustomerRow {
    fn new(c: &CustomerSummary, currency: Currency) -> Self {
        Self {
            id: c.id,
            name: format!("{} {}", c.first_name, c.last_name)
                .trim()
                .to_owned(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            has_account: c.has_account,
            orders_count: c.orders_count,
            total_spent: money(c.total_spent_minor, currency),
            credit: money(c.credit_minor, currency),
            created_at: c.created_at,
        }
    }
}

/// `?q=...&after=<id>`.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: Option<String>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    q: String,
    currency: String,
    customers: Vec<CustomerRow>,
    next: Option<String>,
}

/// `GET /admin/customers`.
pub async fn list_customers(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let after = match q.after.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => Some(Uuid::parse_str(a).map_err(|_| AppError::NotFound)?),
        None => None,
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let page = customers::list_summaries(&mut tx, Some(&q.q), after, PAGE_SIZE).await?;
    tx.commit().await?;
    let next = page.next.map(|id| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q.q)
            .append_pair("after", &id.to_string())
            .finish()
    });
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        q: q.q,
        currency: currency.as_str().to_owned(),
        customers: page
            .customers
            .iter()
            .map(|c| CustomerRow::new(c, currency))
            .collect(),
        next,
    };
    Ok(Html(app.views.render("admin/customers.html", &view)?))
}

#[derive(Serialize)]
struct OrderRow {
    id: Uuid,
    number: i64,
    placed_at: chrono::DateTime<chrono::Utc>,
    total: String,
    currency: String,
    status: String,
    financial_status: String,
    fulfillment_status: String,
}

#[derive(Serialize)]
struct LedgerRow {
    delta: String,
    balance: String,
    reason: String,
    order_id: Option<Uuid>,
    actor: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// What the credit form holds (kept as typed after a refusal).
#[derive(Default, Deserialize, Serialize)]
pub struct CreditForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

#[derive(Serialize)]
struct DetailView {
    chrome: Chrome,
    customer: CustomerRow,
    currency: String,
    addresses: Vec<Address>,
    orders: Vec<OrderRow>,
    balance: String,
    ledger: Vec<LedgerRow>,
    form: CreditForm,
    errors: BTreeMap<String, String>,
}

/// Renders a customer's page (with the credit form as given, and its errors).
async fn detail_page(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    id: Uuid,
    form: CreditForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let customer = customers::summary(&mut tx, id).await?;
    let addresses = customers::addresses(&mut tx, id).await?;
    let orders = customers::orders_of(&mut tx, id, ORDERS_SHOWN).await?;
    let balance = credit::balance(&mut tx, id).await?;
    let ledger = credit::ledger(&mut tx, id, LEDGER_SHOWN).await?;
    tx.commit().await?;
    let orders = orders
        .into_iter()
        .map(|o| {
            let total = Currency::parse(&o.currency)
                .map(|c| money(o.total_minor, c))
                .unwrap_or_else(|_| o.total_minor.to_string());
            OrderRow {
                id: o.id,
                number: o.number,
                placed_at: o.placed_at,
                total,
                currency: o.currency,
                status: o.status,
                financial_status: o.financial_status,
                fulfillment_status: o.fulfillment_status,
            }
        })
        .collect();
    let ledger = ledger
        .into_iter()
        .map(|e| LedgerRow {
            delta: if e.delta_minor > 0 {
                format!("+{}", money(e.delta_minor, currency))
            } else {
                money(e.delta_minor, currency)
            },
            balance: money(e.balance_minor, currency),
            reason: e.reason,
            order_id: e.order_id,
            actor: e.actor,
            created_at: e.created_at,
        })
        .collect();
    let view = DetailView {
        chrome: Chrome::new(tenant, merchant).await?,
        customer: CustomerRow::new(&customer, currency),
        currency: currency.as_str().to_owned(),
        addresses,
        orders,
        balance: money(balance, currency),
        ledger,
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/customer.html", &view)?))
}

/// `GET /admin/customers/{id}`.
pub async fn show_customer(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    detail_page(
        &app,
        &tenant,
        &merchant,
        id,
        CreditForm::default(),
        BTreeMap::new(),
    )
    .await
}

/// A signed amount as typed (`25.00`, `+5`, `-10`) in minor units of `currency`: the sign
/// is read here, the digits by [`Money::parse_decimal`] (never through floats).
fn parse_signed(input: &str, currency: Currency) -> Result<i64, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("can't be empty".into());
    }
    let (negative, digits) = match input.as_bytes()[0] {
        b'-' => (true, input[1..].trim_start()),
        b'+' => (false, input[1..].trim_start()),
        _ => (false, input),
    };
    if digits.starts_with(['-', '+']) {
        return Err(format!("“{input}” is not an amount like 25.00 or -10"));
    }
    let minor = Money::parse_decimal(digits, currency)
        .map_err(|_| format!("“{input}” is not an amount like 25.00 or -10"))?
        .minor;
    Ok(if negative { -minor } else { minor })
}

/// `POST /admin/customers/{id}/credit`: changes the balance by a signed amount, with a
/// reason, in one transaction with its audit entry. Taking the balance below zero is
/// refused (422 naming `amount`) and changes nothing.
pub async fn adjust_credit(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(input): Form<CreditForm>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let customer = customers::get(&mut tx, id).await?;
    let currency = store_currency(&mut tx).await?;
    let mut errors = BTreeMap::new();
    let delta = match parse_signed(&input.amount, currency) {
        Ok(d) => Some(d),
        Err(m) => {
            errors.insert("amount".to_owned(), m);
            None
        }
    };
    if input.reason.trim().is_empty() {
        errors.insert("reason".to_owned(), "can't be empty".to_owned());
    }
    if let (Some(delta), true) = (delta, errors.is_empty()) {
        match credit::adjust(&mut tx, id, delta, &input.reason, None, &merchant.email).await {
            Ok(entry) => {
                audit::record(
                    &mut tx,
                    &merchant.email,
                    "customer.credit.adjust",
                    &customer.email,
                    serde_json::json!({
                        "customer_id": id,
                        "delta_minor": delta,
                        "balance_minor": entry.balance_minor,
                        "reason": entry.reason,
                    }),
                )
                .await?;
                tx.commit().await?;
                return Ok(Redirect::to(&format!("/admin/customers/{id}")).into_response());
            }
            Err(e) => {
                errors = form::editor_errors(form::field_errors(e)?, str::to_owned);
            }
        }
    }
    drop(tx);
    let page = detail_page(&app, &tenant, &merchant, id, input, errors).await?;
    Ok(form::unprocessable(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_amounts_are_read_without_floats() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(parse_signed("25.00", usd), Ok(2500));
        assert_eq!(parse_signed(" -10 ", usd), Ok(-1000));
        assert_eq!(parse_signed("+0.5", usd), Ok(50));
        assert!(parse_signed("--1", usd).is_err());
        assert!(parse_signed("1.234", usd).is_err());
        assert!(parse_signed("abc", usd).is_err());
        assert!(parse_signed("", usd).is_err());
    }
}
