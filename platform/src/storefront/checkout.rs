//! `/checkout`: one page with contact email, shipping address, shipping method, discount
//! code and payment method. Totals are computed on the server in minor units every time the
//! page is shown ("Update totals") and again when the order is placed; the shopper sees each
//! line. The form carries a key made when the page was first shown, so submitting it twice
//! places one order.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use billing::PaymentStart;
use serde::{Deserialize, Serialize};
use tenant_store::cart::{self, Cart};
use tenant_store::customers::{self, Address};
use tenant_store::orders::{self, Items, PlaceOrder, Placed};
use tenant_store::pricing::{ShippingRule, Totals};
use tenant_store::{StoreError, shipping};
use tower_sessions::Session;
use uuid::Uuid;

use super::account::signed_in_customer;
use super::countries::{COUNTRIES, is_country};
use super::layout::{self, Shop, cart_id, display_money};
use crate::app::AppState;
use crate::csrf;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};
use crate::payments::{self, GatewayChoice, flow};

const TEMPLATE: &str = "store/checkout.html";

/// The checkout form as typed. Every field is optional so a half-filled form re-renders
/// with messages instead of a 400.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct CheckoutForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    address1: String,
    #[serde(default)]
    address2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    zip: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    shipping_rate: String,
    #[serde(default)]
    discount_code: String,
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    checkout_key: String,
    /// `pay` places the order; anything else only recomputes the totals.
    #[serde(default)]
    action: String,
}

impl CheckoutForm {
    fn address(&self) -> Address {
        Address {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            company: self.company.clone(),
            address1: self.address1.clone(),
            address2: self.address2.clone(),
            city: self.city.clone(),
            province: self.province.clone(),
            zip: self.zip.clone(),
            country: self.country.trim().to_ascii_uppercase(),
            phone: self.phone.clone(),
            ..Address::default()
        }
    }

    /// Whether enough of the address is there to price shipping and tax.
    fn address_ready(&self) -> bool {
        is_country(self.country.trim())
            && !self.last_name.trim().is_empty()
            && !self.address1.trim().is_empty()
            && !self.city.trim().is_empty()
    }
}

#[derive(Serialize)]
struct LineView {
    title: String,
    variant_title: String,
    quantity: i32,
    unit_price: String,
    total: String,
    discount: Option<String>,
}

#[derive(Serialize)]
struct RateView {
    id: Uuid,
    name: String,
    price: String,
}

#[derive(Serialize)]
struct TaxLineView {
    name: String,
    rate: String,
    amount: String,
}

#[derive(Serialize)]
struct TotalsView {
    subtotal: String,
    discount: Option<String>,
    shipping: Option<String>,
    tax_lines: Vec<TaxLineView>,
    tax: String,
    taxes_included: bool,
    total: String,
}

#[derive(Serialize)]
struct CheckoutView {
    shop: Shop,
    csrf: String,
    form: CheckoutForm,
    errors: BTreeMap<String, String>,
    notices: Vec<String>,
    lines: Vec<LineView>,
    countries: &'static [(&'static str, &'static str)],
    rates: Vec<RateView>,
    gateways: Vec<GatewayChoice>,
    totals: Option<TotalsView>,
    subtotal: String,
    signed_in: bool,
}

/// A basis-point rate as a percentage: 1900 → "19", 725 → "7.25".
fn percent(bp: u32) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

/// Maps a domain error's field to the form's (`shipping_address.city` → `city`).
fn form_field(field: &str) -> String {
    match field {
        "shipping_rate_id" => "shipping_rate".to_owned(),
        f => f.strip_prefix("shipping_address.").unwrap_or(f).to_owned(),
    }
}

/// Moves validation errors into the page; anything else is an error.
fn into_errors(
    e: StoreError,
    errors: &mut BTreeMap<String, String>,
    notices: &mut Vec<String>,
) -> Result<(), AppError> {
    let list = match e {
        StoreError::Invalid { field, message } => vec![(field.to_owned(), message)],
        StoreError::Fields(list) => list,
        other => return Err(other.into()),
    };
    for (field, message) in list {
        // Line problems (sold out meanwhile) are shown above the lines.
        if field.starts_with("lines") {
            notices.push(message);
        } else {
            errors.entry(form_field(&field)).or_insert(message);
        }
    }
    Ok(())
}

struct Priced {
    cart: Cart,
    rates: Vec<shipping::ShippingRate>,
    totals: Option<Totals>,
}

/// The order checkout would place from this form (or the quote of it).
fn order_input(
    cart: Uuid,
    form: &CheckoutForm,
    currency: &str,
    customer_id: Option<Uuid>,
    ttl: std::time::Duration,
) -> PlaceOrder {
    PlaceOrder {
        items: Items::Cart(cart),
        email: form.email.trim().to_owned(),
        customer_id,
        shipping_address: form.address(),
        billing_address: None,
        shipping_rate_id: form.shipping_rate.trim().parse().ok(),
        discount_code: Some(form.discount_code.trim().to_owned()).filter(|c| !c.is_empty()),
        idempotency_key: form.checkout_key.trim().to_owned(),
        currency: currency.to_owned(),
        reservation_ttl: ttl,
    }
}

/// The cart re-checked, the shipping rates for the country, and the totals once the address
/// is complete enough. A chosen rate that doesn't serve the country falls back to the first
/// that does.
async fn price(
    conn: &mut sqlx::PgConnection,
    cart_id: Uuid,
    form: &mut CheckoutForm,
    currency: billing::Currency,
    errors: &mut BTreeMap<String, String>,
    notices: &mut Vec<String>,
) -> Result<Priced, AppError> {
    let money = |m: i64| display_money(m, currency);
    let cart = cart::load(conn, cart_id, &money).await?;
    notices.extend(cart.notices.iter().cloned());
    let country = form.country.trim().to_ascii_uppercase();
    let rates = if is_country(&country) {
        shipping::rates_for(conn, &country).await?
    } else {
        Vec::new()
    };
    let chosen: Option<Uuid> = form.shipping_rate.trim().parse().ok();
    if !rates.iter().any(|r| Some(r.id) == chosen) {
        form.shipping_rate = rates.first().map(|r| r.id.to_string()).unwrap_or_default();
    }
    let mut totals = None;
    if form.address_ready() && !cart.lines.is_empty() {
        let mut input = order_input(
            cart_id,
            form,
            currency.as_str(),
            None,
            std::time::Duration::from_secs(60),
        );
        // A quote needs no email yet.
        input.email = "quote@example.com".to_owned();
        match orders::quote(conn, &input).await {
            Ok(t) => totals = Some(t),
            Err(e) => into_errors(e, errors, notices)?,
        }
    }
    Ok(Priced {
        cart,
        rates,
        totals,
    })
}

#[allow(clippy::too_many_arguments)]
async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    headers: &HeaderMap,
    mut form: CheckoutForm,
    mut errors: BTreeMap<String, String>,
    mut notices: Vec<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let Some(cart) = cart_id(session).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let customer = signed_in_customer(session, tenant.id).await?;
    let csrf = csrf::token(session).await?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let shop = Shop::load(app, &mut tx, session, request_base_url(app, headers)).await?;
    let currency = shop.currency()?;
    let money = |m: i64| display_money(m, currency);
    if form.country.is_empty() {
        form.country = shop.settings().country.clone();
    }
    if form.email.is_empty()
        && let Some(id) = customer
    {
        form.email = customers::get(&mut tx, id).await?.email;
    }
    let priced = price(
        &mut tx,
        cart,
        &mut form,
        currency,
        &mut errors,
        &mut notices,
    )
    .await?;
    let gateways = payments::choices(app, &mut tx, customer.is_some()).await?;
    // Only a cart the check just fixed has anything to commit.
    if priced.cart.changed {
        tx.commit().await?;
    } else {
        tx.end_read_only();
    }
    // An empty cart has nothing to check out, unless it just emptied (sold out meanwhile):
    // then the page says why.
    if priced.cart.lines.is_empty() && notices.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    if !gateways.iter().any(|g| g.name == form.gateway) {
        form.gateway = gateways.first().map(|g| g.name.clone()).unwrap_or_default();
    }
    if form.checkout_key.is_empty() {
        form.checkout_key = Uuid::new_v4().simple().to_string();
    }
    let lines = priced
        .cart
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let t = priced.totals.as_ref().and_then(|t| t.lines.get(i));
            LineView {
                title: l.product_title.clone(),
                variant_title: l.variant_title.clone(),
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor),
                total: money(t.map_or(l.line_total_minor, |t| t.total_minor)),
                discount: t
                    .filter(|t| t.discount_minor > 0)
                    .map(|t| money(t.discount_minor)),
            }
        })
        .collect();
    let totals = priced.totals.as_ref().map(|t| TotalsView {
        subtotal: money(t.subtotal_minor),
        discount: (t.discount_minor > 0).then(|| money(t.discount_minor)),
        shipping: (!priced.rates.is_empty() || t.shipping_minor > 0)
            .then(|| money(t.shipping_minor)),
        tax_lines: t
            .tax_lines
            .iter()
            .map(|l| TaxLineView {
                name: l.name.clone(),
                rate: percent(l.rate_bp),
                amount: money(l.amount_minor),
            })
            .collect(),
        tax: money(t.tax_minor),
        taxes_included: t.taxes_included,
        total: money(t.total_minor),
    });
    let view = CheckoutView {
        shop,
        csrf,
        rates: priced
            .rates
            .iter()
            .map(|r| RateView {
                id: r.id,
                name: r.name.clone(),
                price: match &r.rule {
                    ShippingRule::Flat { price_minor } => money(*price_minor),
                    ShippingRule::FreeOver {
                        price_minor,
                        threshold_minor,
                    } => format!(
                        "{} (free from {})",
                        money(*price_minor),
                        money(*threshold_minor)
                    ),
                    ShippingRule::ByWeight { .. } => "by weight".to_owned(),
                },
            })
            .collect(),
        form,
        errors,
        notices,
        lines,
        countries: COUNTRIES,
        gateways,
        totals,
        subtotal: money(priced.cart.subtotal_minor),
        signed_in: customer.is_some(),
    };
    layout::page_with_status(app, tenant, status, TEMPLATE, &view).await
}

/// `GET /checkout`.
pub async fn show_checkout(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    render(
        &app,
        &tenant,
        &session,
        &headers,
        CheckoutForm::default(),
        BTreeMap::new(),
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

/// Where the shopper goes once the order is placed and its payment started.
fn next_step(order: &orders::Order, start: Option<&PaymentStart>) -> Response {
    let page = format!("/orders/{}", order.token);
    match start {
        Some(PaymentStart::Redirect { url, .. }) => Redirect::to(url).into_response(),
        Some(PaymentStart::CardForm { .. }) => Redirect::to(&format!("{page}/pay")).into_response(),
        _ => Redirect::to(&page).into_response(),
    }
}

/// `POST /checkout`: "Update totals" re-renders with the totals; "Pay" places the order,
/// starts the payment and sends the shopper on (the gateway's page, the test card form, or
/// the order page).
pub async fn submit_checkout(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Form(mut form): Form<CheckoutForm>,
) -> Result<Response, AppError> {
    let refuse = |form: CheckoutForm, errors, notices| {
        let (app, tenant, session, headers) = (&app, &tenant, &session, &headers);
        async move {
            render(
                app,
                tenant,
                session,
                headers,
                form,
                errors,
                notices,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    if form.action != "pay" {
        return render(
            &app,
            &tenant,
            &session,
            &headers,
            form,
            BTreeMap::new(),
            Vec::new(),
            StatusCode::OK,
        )
        .await;
    }
    let Some(cart) = cart_id(&session).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let mut errors = BTreeMap::new();
    form.country = form.country.trim().to_ascii_uppercase();
    if !form.country.is_empty() && !is_country(&form.country) {
        errors.insert(
            "country".to_owned(),
            "choose a country from the list".to_owned(),
        );
    }
    if form.checkout_key.trim().is_empty() || form.checkout_key.len() > 64 {
        errors.insert(
            "checkout_key".to_owned(),
            "the form expired; please check the details and submit again".to_owned(),
        );
        form.checkout_key.clear();
    }
    let signed_in = signed_in_customer(&session, tenant.id).await?;
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let gateways = payments::choices(&app, &mut tx, signed_in.is_some()).await?;
    let offered = gateways.iter().find(|g| g.name == form.gateway);
    if offered.is_none() {
        errors.insert(
            "gateway".to_owned(),
            if gateways.is_empty() {
                "this store takes no payments yet".to_owned()
            } else {
                "choose a payment method".to_owned()
            },
        );
    }
    let (true, Some(offered)) = (errors.is_empty(), offered) else {
        drop(tx);
        return refuse(form, errors, Vec::new()).await;
    };
    let currency: String = sqlx::query_scalar("SELECT currency FROM settings")
        .fetch_one(&mut *tx)
        .await?;
    let customer = match signed_in {
        Some(id) => Some(id),
        None if form.email.contains('@') => Some(
            customers::ensure_for_checkout(&mut tx, &form.email, &form.first_name, &form.last_name)
                .await?,
        ),
        None => None,
    };
    // The page pre-selects the first rate; a form sent without one gets the same.
    if form.shipping_rate.trim().is_empty()
        && is_country(&form.country)
        && let Some(rate) = shipping::rates_for(&mut tx, &form.country).await?.first()
    {
        form.shipping_rate = rate.id.to_string();
    }
    let ttl = std::time::Duration::from_secs(app.settings.reservation_minutes * 60);
    let input = order_input(cart, &form, &currency, customer, ttl);
    // The payment starts (and the confirmation is queued) before the stock is reserved,
    // all in this transaction: see `place_order_then`.
    let start_payment = async |conn: &mut sqlx::PgConnection, order: &orders::Order| {
        flow::start_payment(&app, conn, &tenant, order, offered, &base).await
    };
    let (order, start) = match orders::place_order_then(&mut tx, &input, start_payment).await {
        Ok(Placed::New(_, started)) => started,
        // The same form submitted again: the order exists and its payment was started.
        Ok(Placed::Existing(order)) => {
            tx.commit().await?;
            let start = (order.gateway.as_deref() == Some("test")
                && order.financial_status == "pending")
                .then(|| PaymentStart::CardForm {
                    payment_ref: String::new(),
                    notice: String::new(),
                });
            return Ok(next_step(&order, start.as_ref()));
        }
        Err(AppError::Invalid(list)) => {
            drop(tx);
            let mut notices = Vec::new();
            into_errors(StoreError::Fields(list), &mut errors, &mut notices)?;
            return refuse(form, errors, notices).await;
        }
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    tracing::info!(
        tenant.id = %tenant.id, order.number = order.number, gateway = %form.gateway,
        "order placed"
    );
    Ok(next_step(&order, Some(&start)))
}
