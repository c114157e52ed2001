//! Admin: orders. The list (filters, search, keyset pages), an order's page with its lines,
//! totals, payment and timeline, and the merchant's actions on it: mark paid, fulfil,
//! cancel, refund and notes. Every action runs through the shared flows of
//! [`crate::payments::flow`] (the change, its audit entry and the shopper's email in one
//! transaction). Needs the `orders` permission.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use billing::{Currency, Money};
use serde::{Deserialize, Serialize};
use tenant_store::orders::{self, FulfilLine, Order, OrderEvent, OrderFilter, OrderSummary};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::Submitted;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant, request_base_url};
use crate::payments::flow::{self, Shipment};
use crate::routing::{Routes, get, post};
use crate::storefront::layout::display_money;

/// Orders per page of the list.
const PAGE_SIZE: i64 = 50;

const STATUSES: &[&str] = &["open", "cancelled"];
const FINANCIAL_STATUSES: &[&str] = &[
    "pending",
    "paid",
    "partially_refunded",
    "refunded",
    "failed",
    "voided",
];
const FULFILLMENT_STATUSES: &[&str] = &["unfulfilled", "partially_fulfilled", "fulfilled"];

/// Routes of this part of the admin.
pub fn router() -> Routes {
    Routes::new()
        .route("/admin/orders", get(list_orders))
        .route("/admin/orders/{id}", get(show_order))
        .route("/admin/orders/{id}/mark-paid", post(mark_paid))
        .route("/admin/orders/{id}/fulfil", post(fulfil))
        .route("/admin/orders/{id}/cancel", post(cancel))
        .route("/admin/orders/{id}/refund", post(refund))
        .route("/admin/orders/{id}/notes", post(add_note))
}

fn currency_of(code: &str) -> Result<Currency, AppError> {
    Currency::parse(code).map_err(|e| AppError::Internal(anyhow::anyhow!("currency {code}: {e}")))
}

/// An id from the path; anything that is not one is no order (404, not 400).
fn order_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// A status filter: empty is none, anything else must be one of `allowed`.
fn status_filter(field: &str, value: &str, allowed: &[&str]) -> Result<Option<String>, AppError> {
    match value.trim() {
        "" => Ok(None),
        v if allowed.contains(&v) => Ok(Some(v.to_owned())),
        _ => Err(AppError::invalid(
            field,
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

/// A status as people read it: `partially_refunded` → `Partially refunded`.
fn words(status: &str) -> String {
    let mut s = status.replace('_', " ");
    if let Some(first) = s.get(0..1) {
        let upper = first.to_uppercase();
        s.replace_range(0..1, &upper);
    }
    s
}

fn when(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

// ---------------------------------------------------------------------------------------
// The list

/// `?status=&financial_status=&fulfillment_status=&q=&before=`.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    financial_status: String,
    #[serde(default)]
    fulfillment_status: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    before: String,
}

#[derive(Serialize)]
struct ListRow {
    #[serde(flatten)]
    summary: OrderSummary,
    total: String,
    placed: String,
    status_label: String,
    financial_label: String,
    fulfillment_label: String,
}

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: String,
}

fn choices(values: &[&'static str]) -> Vec<Choice> {
    values
        .iter()
        .map(|v| Choice {
            value: v,
            label: words(v),
        })
        .collect()
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    status: String,
    financial_status: String,
    fulfillment_status: String,
    q: String,
    statuses: Vec<Choice>,
    financial_statuses: Vec<Choice>,
    fulfillment_statuses: Vec<Choice>,
    orders: Vec<ListRow>,
    filtered: bool,
    next: Option<String>,
}

/// `GET /admin/orders`: newest first.
pub async fn list_orders(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require("orders")?;
    let before_number = match q.before.trim() {
        "" => None,
        b => Some(b.parse::<i64>().map_err(|_| AppError::NotFound)?),
    };
    let filter = OrderFilter {
        status: status_filter("status", &q.status, STATUSES)?,
        financial_status: status_filter(
            "financial_status",
            &q.financial_status,
            FINANCIAL_STATUSES,
        )?,
        fulfillment_status: status_filter(
            "fulfillment_status",
            &q.fulfillment_status,
            FULFILLMENT_STATUSES,
        )?,
        query: Some(q.q.trim().to_owned()).filter(|s| !s.is_empty()),
        before_number,
        limit: PAGE_SIZE,
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let page = orders::list_orders(&mut tx, &filter).await?;
    tx.commit().await?;
    let next = page.next_before.map(|before| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("status", filter.status.as_deref().unwrap_or(""))
            .append_pair(
                "financial_status",
                filter.financial_status.as_deref().unwrap_or(""),
            )
            .append_pair(
                "fulfillment_status",
                filter.fulfillment_status.as_deref().unwrap_or(""),
            )
            .append_pair("q", q.q.trim())
            .append_pair("before", &before.to_string())
            .finish()
    });
    let mut rows = Vec::with_capacity(page.orders.len());
    for summary in page.orders {
        let currency = currency_of(&summary.currency)?;
        rows.push(ListRow {
            total: display_money(summary.total_minor, currency),
            placed: when(&summary.placed_at),
            status_label: words(&summary.status),
            financial_label: words(&summary.financial_status),
            fulfillment_label: words(&summary.fulfillment_status),
            summary,
        });
    }
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        filtered: filter.status.is_some()
            || filter.financial_status.is_some()
            || filter.fulfillment_status.is_some()
            || filter.query.is_some(),
        status: filter.status.unwrap_or_default(),
        financial_status: filter.financial_status.unwrap_or_default(),
        fulfillment_status: filter.fulfillment_status.unwrap_or_default(),
        q: q.q.trim().to_owned(),
        statuses: choices(STATUSES),
        financial_statuses: choices(FINANCIAL_STATUSES),
        fulfillment_statuses: choices(FULFILLMENT_STATUSES),
        orders: rows,
        next,
    };
    Ok(Html(app.views.render("admin/orders.html", &view)?))
}

// ---------------------------------------------------------------------------------------
// One order

#[derive(Serialize)]
struct LineView {
    position: i32,
    title: String,
    variant_title: String,
    sku: String,
    unit_price: String,
    quantity: i32,
    fulfilled_quantity: i32,
    remaining: i32,
    total: String,
    /// What the fulfil form shows for this line.
    ship: String,
}

#[derive(Serialize)]
struct TimelineEntry {
    kind: String,
    text: String,
    at: String,
    iso: String,
}

#[derive(Serialize)]
struct OrderView {
    chrome: Chrome,
    order: Order,
    status_label: String,
    financial_label: String,
    fulfillment_label: String,
    placed: String,
    lines: Vec<LineView>,
    subtotal: String,
    discount: String,
    shipping: String,
    tax: String,
    total: String,
    refunded: String,
    refundable: String,
    can_mark_paid: bool,
    can_fulfil: bool,
    can_cancel: bool,
    can_refund: bool,
    /// The form that was refused (`refund`, `cancel`, ...), if any.
    action: String,
    /// Its errors by field.
    errors: BTreeMap<String, String>,
    /// What the forms show (the refused submission, or the defaults).
    form: FormValues,
    timeline: Vec<TimelineEntry>,
}

/// The forms' fields as last submitted.
#[derive(Serialize, Default)]
struct FormValues {
    amount: Option<String>,
    restock: bool,
    reason: String,
    note: String,
    carrier: String,
    tracking_number: String,
    tracking_url: String,
    /// Per line position, the fulfil quantity typed.
    ship: BTreeMap<i32, String>,
}

fn amount_minor(details: &serde_json::Value, key: &str) -> Option<i64> {
    details.get(key).and_then(serde_json::Value::as_i64)
}

fn detail_str<'a>(details: &'a serde_json::Value, key: &str) -> &'a str {
    details
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

/// An event of the order's history in words.
fn describe(event: &OrderEvent, order: &Order, currency: Currency) -> String {
    let d = &event.details;
    let money = |m: i64| display_money(m, currency);
    match event.kind.as_str() {
        "placed" => format!(
            "Order placed for {}",
            money(amount_minor(d, "total_minor").unwrap_or(order.total_minor))
        ),
        "paid" => {
            let mut s = match amount_minor(d, "amount_minor") {
                Some(a) => format!("Payment of {} received", money(a)),
                None => "Payment received".to_owned(),
            };
            match detail_str(d, "payment_ref") {
                "" => {}
                r => s.push_str(&format!(" (reference {r})")),
            }
            s
        }
        "payment_failed" => match detail_str(d, "reason") {
            "" => "Payment failed".to_owned(),
            r => format!("Payment failed: {r}"),
        },
        "payment_flagged" => match detail_str(d, "reason") {
            "" => "Payment flagged for review".to_owned(),
            r => format!("Payment flagged for review: {r}"),
        },
        "cancelled" => match detail_str(d, "reason") {
            "" => "Order cancelled".to_owned(),
            r => format!("Order cancelled: {r}"),
        },
        "fulfillment_created" => {
            let units: i64 = d
                .get("lines")
                .and_then(serde_json::Value::as_array)
                .map(|lines| {
                    lines
                        .iter()
                        .filter_map(|l| l.get("quantity").and_then(serde_json::Value::as_i64))
                        .sum()
                })
                .unwrap_or(0);
            let mut s = format!("Shipped {units} item{}", if units == 1 { "" } else { "s" });
            match detail_str(d, "carrier") {
                "" => {}
                c => s.push_str(&format!(" with {c}")),
            }
            match detail_str(d, "tracking") {
                "" => {}
                t => s.push_str(&format!(", tracking number {t}")),
            }
            match detail_str(d, "fulfillment_status") {
                "" => {}
                f => s.push_str(&format!(" (now {})", words(f).to_lowercase())),
            }
            s
        }
        "refunded" => {
            let mut s = match amount_minor(d, "amount_minor") {
                Some(a) => format!("Refunded {}", money(a)),
                None => "Refunded".to_owned(),
            };
            if d.get("restock").and_then(serde_json::Value::as_bool) == Some(true) {
                s.push_str(", items restocked");
            }
            s
        }
        "note" => match detail_str(d, "author") {
            "" => format!("Note: {}", detail_str(d, "text")),
            a => format!("Note by {a}: {}", detail_str(d, "text")),
        },
        other => words(other),
    }
}

/// The order page, with the forms showing `form` and `errors` under the `action` form;
/// 422 when there are errors.
async fn render_order(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    id: Uuid,
    action: &str,
    errors: BTreeMap<String, String>,
    form: FormValues,
) -> Result<Response, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let order = orders::get_order(&mut tx, id).await?;
    let events = orders::events(&mut tx, id).await?;
    tx.commit().await?;
    let currency = currency_of(&order.currency)?;
    let money = |m: i64| display_money(m, currency);
    let left = order.total_minor - order.refunded_minor;
    let open = order.status == "open";
    let paid = matches!(
        order.financial_status.as_str(),
        "paid" | "partially_refunded"
    );
    let lines = order
        .lines
        .iter()
        .map(|l| {
            let remaining = l.quantity - l.fulfilled_quantity;
            LineView {
                position: l.position,
                title: l.product_title.clone(),
                variant_title: l.variant_title.clone(),
                sku: l.sku.clone(),
                unit_price: money(l.unit_price_minor),
                quantity: l.quantity,
                fulfilled_quantity: l.fulfilled_quantity,
                remaining,
                total: money(l.total_minor),
                ship: form
                    .ship
                    .get(&l.position)
                    .cloned()
                    .unwrap_or_else(|| remaining.to_string()),
            }
        })
        .collect::<Vec<_>>();
    let timeline = events
        .iter()
        .map(|e| TimelineEntry {
            kind: e.kind.clone(),
            text: describe(e, &order, currency),
            at: when(&e.created_at),
            iso: e.created_at.to_rfc3339(),
        })
        .collect();
    let mut form = form;
    if form.amount.is_none() {
        form.amount = Some(Money::new(left.max(0), currency).to_decimal_string());
    }
    let view = OrderView {
        chrome: Chrome::new(tenant, merchant).await?,
        status_label: words(&order.status),
        financial_label: words(&order.financial_status),
        fulfillment_label: words(&order.fulfillment_status),
        placed: when(&order.placed_at),
        can_mark_paid: open && order.financial_status == "pending",
        can_fulfil: open && paid && order.fulfillment_status != "fulfilled",
        can_cancel: open && order.fulfillment_status == "unfulfilled",
        can_refund: paid && left > 0,
        subtotal: money(order.subtotal_minor),
        discount: money(order.discount_minor),
        shipping: money(order.shipping_minor),
        tax: money(order.tax_minor),
        total: money(order.total_minor),
        refunded: money(order.refunded_minor),
        refundable: money(left.max(0)),
        lines,
        action: action.to_owned(),
        errors,
        form,
        timeline,
        order,
    };
    let status = if view.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Html(app.views.render("admin/order.html", &view)?)).into_response())
}

/// `GET /admin/orders/{id}`.
pub async fn show_order(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    merchant.require("orders")?;
    let id = order_id(&id)?;
    render_order(
        &app,
        &tenant,
        &merchant,
        id,
        "",
        BTreeMap::new(),
        FormValues::default(),
    )
    .await
}

/// What an action's result becomes: success → 303 to the order; a refused input → the
/// order page again with the message (422); anything else → the error.
async fn finish(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    id: Uuid,
    action: &str,
    form: FormValues,
    result: Result<(), AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/admin/orders/{id}")).into_response()),
        Err(AppError::Invalid(fields)) => {
            let mut errors = BTreeMap::new();
            for (field, message) in fields {
                errors.entry(field).or_insert(message);
            }
            render_order(app, tenant, merchant, id, action, errors, form).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /admin/orders/{id}/mark-paid`: a payment that arrived outside the platform.
pub async fn mark_paid(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    merchant.require("orders")?;
    let id = order_id(&id)?;
    let base = request_base_url(&app, &headers);
    let result = flow::mark_paid(&app, &tenant, id, &merchant.email, &base)
        .await
        .map(|_| ());
    finish(
        &app,
        &tenant,
        &merchant,
        id,
        "mark_paid",
        FormValues::default(),
        result,
    )
    .await
}

/// `POST /admin/orders/{id}/fulfil`: `ship_<position>` units per line, `carrier`,
/// `tracking_number`, `tracking_url`.
pub async fn fulfil(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    merchant.require("orders")?;
    let id = order_id(&id)?;
    let submitted = Submitted::new(&fields);
    let mut form = FormValues {
        carrier: submitted.get("carrier").trim().to_owned(),
        tracking_number: submitted.get("tracking_number").trim().to_owned(),
        tracking_url: submitted.get("tracking_url").trim().to_owned(),
        ..FormValues::default()
    };
    let mut lines = Vec::new();
    let mut bad = None;
    for name in submitted.names() {
        let Some(position) = name
            .strip_prefix("ship_")
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if form.ship.contains_key(&position) {
            continue;
        }
        let raw = submitted.get(name).trim().to_owned();
        match raw.as_str() {
            "" => {}
            r => match r.parse::<i32>() {
                Ok(0) => {}
                Ok(q) if q > 0 => lines.push(FulfilLine {
                    position,
                    quantity: q,
                }),
                _ => {
                    bad.get_or_insert(format!(
                        "line {position}: enter a whole number of units (0 or more)"
                    ));
                }
            },
        }
        form.ship.insert(position, raw);
    }
    let result = match bad {
        Some(message) => Err(AppError::invalid("lines", message)),
        None => {
            let base = request_base_url(&app, &headers);
            let shipment = Shipment {
                lines,
                carrier: form.carrier.clone(),
                tracking_number: form.tracking_number.clone(),
                tracking_url: form.tracking_url.clone(),
            };
            flow::fulfil(&app, &tenant, id, &shipment, &merchant.email, &base)
                .await
                .map(|_| ())
        }
    };
    finish(&app, &tenant, &merchant, id, "fulfil", form, result).await
}

/// The cancel form.
#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

/// `POST /admin/orders/{id}/cancel`: refunds a paid order in full and releases its stock.
pub async fn cancel(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<CancelForm>,
) -> Result<Response, AppError> {
    merchant.require("orders")?;
    let id = order_id(&id)?;
    let reason = input.reason.trim().to_owned();
    let result = if reason.chars().count() > 500 {
        Err(AppError::invalid(
            "reason",
            "must be at most 500 characters",
        ))
    } else {
        let base = request_base_url(&app, &headers);
        flow::cancel(&app, &tenant, id, &reason, &merchant.email, &base)
            .await
            .map(|_| ())
    };
    let form = FormValues {
        reason,
        ..FormValues::default()
    };
    finish(&app, &tenant, &merchant, id, "cancel", form, result).await
}

/// `POST /admin/orders/{id}/refund`: `amount` as a decimal, `restock=on`.
pub async fn refund(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    merchant.require("orders")?;
    let id = order_id(&id)?;
    let submitted = Submitted::new(&fields);
    let amount = submitted.get("amount").trim().to_owned();
    let restock = submitted.checked("restock");
    let currency = {
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        let order = orders::get_order(&mut tx, id).await?;
        tx.commit().await?;
        currency_of(&order.currency)?
    };
    let result = match Money::parse_decimal(&amount, currency) {
        Err(_) => Err(AppError::invalid(
            "amount",
            format!(
                "enter an amount in {currency} such as {}",
                Money::new(1250, currency).to_decimal_string()
            ),
        )),
        Ok(money) => {
            let base = request_base_url(&app, &headers);
            flow::refund(
                &app,
                &tenant,
                id,
                money.minor,
                restock,
                &merchant.email,
                &base,
            )
            .await
            .map(|_| ())
        }
    };
    let form = FormValues {
        amount: Some(amount),
        restock,
        ..FormValues::default()
    };
    finish(&app, &tenant, &merchant, id, "refund", form, result).await
}

/// The note form.
#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

/// `POST /admin/orders/{id}/notes`: a note on the order's timeline.
pub async fn add_note(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<String>,
    Form(input): Form<NoteForm>,
) -> Result<Response, AppError> {
    merchant.require("orders")?;
    let id = order_id(&id)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let result = match orders::add_note(&mut tx, id, &merchant.email, &input.note).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            drop(tx);
            Err(AppError::from(e))
        }
    };
    let form = FormValues {
        note: input.note,
        ..FormValues::default()
    };
    finish(&app, &tenant, &merchant, id, "note", form, result).await
}
