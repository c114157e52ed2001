//! The shopper's order pages, found by the order's secret token: `/orders/{token}` (status,
//! lines, totals, payment instructions), `/orders/{token}/pay` (the test gateway's card
//! form) and `/orders/{token}/invoice` (a printable invoice).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use billing::{Currency, PaymentStatus};
use serde::{Deserialize, Serialize};
use tenant_store::orders::{self, Order};
use tower_sessions::Session;

use super::countries::country_name;
use super::layout::{self, Shop, display_money};
use crate::app::AppState;
use crate::csrf;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};
use crate::payments::{self, flow};

#[derive(Serialize)]
struct LineView {
    title: String,
    variant_title: String,
    sku: String,
    quantity: i32,
    unit_price: String,
    discount: Option<String>,
    total: String,
}

#[derive(Serialize)]
struct TaxView {
    name: String,
    amount: String,
}

#[derive(Serialize)]
struct OrderView {
    number: i64,
    token: String,
    email: String,
    placed_at: String,
    status: String,
    financial_status: String,
    fulfillment_status: String,
    gateway: Option<String>,
    shipping_method: String,
    shipping_name: String,
    shipping_lines: Vec<String>,
    country: String,
    lines: Vec<LineView>,
    subtotal: String,
    discount: Option<String>,
    discount_code: Option<String>,
    shipping: String,
    tax_lines: Vec<TaxView>,
    tax: String,
    taxes_included: bool,
    total: String,
    refunded: Option<String>,
    cancel_reason: Option<String>,
}

fn order_view(order: &Order) -> Result<OrderView, AppError> {
    let currency = Currency::parse(&order.currency)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("order currency: {e}")))?;
    let money = |m: i64| display_money(m, currency);
    let a = &order.shipping_address;
    let shipping_lines = [
        a.company.clone(),
        a.address1.clone(),
        a.address2.clone(),
        [a.zip.as_str(), a.city.as_str(), a.province.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        a.phone.clone(),
    ]
    .into_iter()
    .filter(|s| !s.trim().is_empty())
    .collect();
    Ok(OrderView {
        number: order.number,
        token: order.token.clone(),
        email: order.email.clone(),
        placed_at: order.placed_at.format("%Y-%m-%d").to_string(),
        status: order.status.clone(),
        financial_status: order.financial_status.clone(),
        fulfillment_status: order.fulfillment_status.clone(),
        gateway: order.gateway.clone(),
        shipping_method: order.shipping_method.clone(),
        shipping_name: format!("{} {}", a.first_name, a.last_name)
            .trim()
            .to_owned(),
        shipping_lines,
        country: country_name(&a.country).to_owned(),
        lines: order
            .lines
            .iter()
            .map(|l| LineView {
                title: l.product_title.clone(),
                variant_title: l.variant_title.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor),
                discount: (l.discount_minor > 0).then(|| money(l.discount_minor)),
                total: money(l.total_minor),
            })
            .collect(),
        subtotal: money(order.subtotal_minor),
        discount: (order.discount_minor > 0).then(|| money(order.discount_minor)),
        discount_code: order.discount_code.clone(),
        shipping: money(order.shipping_minor),
        tax_lines: order
            .tax_lines
            .iter()
            .map(|t| TaxView {
                name: t.name.clone(),
                amount: money(t.amount_minor),
            })
            .collect(),
        tax: money(order.tax_minor),
        taxes_included: order.taxes_included,
        total: money(order.total_minor),
        refunded: (order.refunded_minor > 0).then(|| money(order.refunded_minor)),
        cancel_reason: order.cancel_reason.clone(),
    })
}

#[derive(Serialize)]
struct PageView {
    shop: Shop,
    order: OrderView,
    /// Manual payment: what the shopper must do.
    instructions: Option<String>,
    /// The test gateway's card form is open to this order.
    can_pay: bool,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
    card_notice: Option<String>,
}

/// Loads the order and the page frame; an unknown token is a 404.
async fn load(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    headers: &HeaderMap,
    token: &str,
) -> Result<(Shop, Order, Option<String>), AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let shop = Shop::load(app, &mut tx, session, request_base_url(app, headers)).await?;
    let order = orders::find_by_token(&mut tx, token).await?;
    let instructions = payments::payment_instructions(&mut tx, &order).await?;
    tx.commit().await?;
    Ok((shop, order, instructions))
}

fn awaits_card(order: &Order) -> bool {
    order.gateway.as_deref() == Some("test")
        && order.status == "open"
        && order.financial_status == "pending"
}

#[allow(clippy::too_many_arguments)]
async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    template: &str,
    status: StatusCode,
    (shop, order, instructions): (Shop, Order, Option<String>),
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let view = PageView {
        shop,
        can_pay: awaits_card(&order),
        order: order_view(&order)?,
        instructions,
        csrf: csrf::token(session).await?,
        notice,
        error,
        card_notice: Some(billing::TEST_CARD_NOTICE.to_owned()),
    };
    let mut res = layout::page_with_status(app, tenant, status, template, &view).await?;
    // The token is a secret: keep it out of referrers and shared caches.
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    Ok(res)
}

/// `?return=1` when the shopper comes back from a hosted payment page.
#[derive(Deserialize)]
pub struct OrderQuery {
    #[serde(default)]
    r#return: Option<String>,
}

/// `GET /orders/{token}`: the order confirmation and status page. Back from a hosted
/// payment page, the gateway is asked where the payment stands (the webhook may come later;
/// both paths are idempotent).
pub async fn show_order(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Result<Response, AppError> {
    let loaded = load(&app, &tenant, &session, &headers, &token).await?;
    let mut notice = None;
    let loaded = if query.r#return.is_some() && loaded.1.financial_status == "pending" {
        let order = &loaded.1;
        match (order.gateway.as_deref(), order.payment_ref.as_deref()) {
            (Some(name), Some(payment_ref)) if name != "test" => {
                let gateway = payments::gateway_of(&app, &tenant, name).await?;
                match gateway.confirm(payment_ref).await {
                    Ok(status) => {
                        let base = request_base_url(&app, &headers);
                        let paid = flow::apply_status(
                            &app,
                            &tenant,
                            order.id,
                            payment_ref,
                            &status,
                            &base,
                        )
                        .await?;
                        if paid.financial_status == "pending" {
                            notice = Some(
                                "Your payment is being processed; this page updates when it \
                                 is confirmed."
                                    .to_owned(),
                            );
                        }
                        (loaded.0, paid, loaded.2)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "confirming a payment on return");
                        loaded
                    }
                }
            }
            _ => loaded,
        }
    } else {
        loaded
    };
    render(
        &app,
        &tenant,
        &session,
        "store/order.html",
        StatusCode::OK,
        loaded,
        notice,
        None,
    )
    .await
}

/// `GET /orders/{token}/pay`: the test gateway's card form.
pub async fn show_pay(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let loaded = load(&app, &tenant, &session, &headers, &token).await?;
    if !awaits_card(&loaded.1) {
        return Ok(Redirect::to(&format!("/orders/{token}")).into_response());
    }
    render(
        &app,
        &tenant,
        &session,
        "store/order_pay.html",
        StatusCode::OK,
        loaded,
        None,
        None,
    )
    .await
}

/// The card form.
#[derive(Deserialize)]
pub struct CardForm {
    #[serde(default)]
    card_number: String,
}

/// `POST /orders/{token}/pay`: pays with a test card. A declined card leaves the order
/// waiting for payment and shows why; the shopper may try again.
pub async fn submit_pay(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<CardForm>,
) -> Result<Response, AppError> {
    // The order and the gateway in one read; the page's frame only if the card is refused.
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let order = orders::find_by_token(&mut tx, &token).await?;
    if !awaits_card(&order) {
        return Ok(Redirect::to(&format!("/orders/{token}")).into_response());
    }
    let gateway = payments::gateway(&app, &mut tx, tenant.id, "test").await?;
    tx.end_read_only();
    let payment_ref = order.payment_ref.clone().unwrap_or_default();
    let status = gateway
        .submit_card_form(&payment_ref, &form.card_number)
        .await?;
    if let PaymentStatus::Failed { reason } = &status {
        let loaded = load(&app, &tenant, &session, &headers, &token).await?;
        return render(
            &app,
            &tenant,
            &session,
            "store/order_pay.html",
            StatusCode::UNPROCESSABLE_ENTITY,
            loaded,
            None,
            Some(reason.clone()),
        )
        .await;
    }
    let base = request_base_url(&app, &headers);
    flow::apply_status(&app, &tenant, order.id, &payment_ref, &status, &base).await?;
    Ok(Redirect::to(&format!("/orders/{token}")).into_response())
}

/// `GET /orders/{token}/invoice`: a printable invoice.
pub async fn show_invoice(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let loaded = load(&app, &tenant, &session, &headers, &token).await?;
    render(
        &app,
        &tenant,
        &session,
        "store/invoice.html",
        StatusCode::OK,
        loaded,
        None,
        None,
    )
    .await
}
