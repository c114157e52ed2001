//! `/admin/api/v1/orders`: orders in Shopify's shape (`{"order": {...}}`, amounts as decimal
//! strings, `name` "#1001", `fulfillment_status` null / "partial" / "fulfilled"), the count,
//! and the actions that go through the shared order flows: cancel, fulfil, refund.
//!
//! The list answers summaries (no `line_items`, addresses or tax lines): the order store
//! reads lines per order, and a list must not cost one query per order. Fetch an order for
//! everything about it. The shopper's secret order token is never shown.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use billing::{Currency, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_store::orders::{self, FulfilLine, Order, OrderFilter, OrderSummary};
use uuid::Uuid;

use super::paging::{DEFAULT_LIMIT, json_with_next, parse_limit};
use super::{ApiClient, ApiError, JsonBody, path_id};
use crate::api_tokens::Scope;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::request_base_url;
use crate::payments::flow::{self, Shipment};
use crate::routing::{Routes, get, post};

/// Reading orders.
pub(super) const ORDERS_READ: Scope = Scope::OrdersRead;
/// Changing orders (cancel, fulfil, refund).
pub(super) const ORDERS_WRITE: Scope = Scope::OrdersWrite;

/// Routes of this part of the API.
pub fn router() -> Routes {
    Routes::new()
        .route("/admin/api/v1/orders", get(list_orders))
        .route("/admin/api/v1/orders.json", get(list_orders))
        .route("/admin/api/v1/orders/count", get(count_orders))
        .route("/admin/api/v1/orders/count.json", get(count_orders))
        .route("/admin/api/v1/orders/{id}", get(show_order))
        .route("/admin/api/v1/orders/{id}/cancel", post(cancel_order))
        .route("/admin/api/v1/orders/{id}/cancel.json", post(cancel_order))
        .route(
            "/admin/api/v1/orders/{id}/fulfillments",
            post(create_fulfillment),
        )
        .route(
            "/admin/api/v1/orders/{id}/fulfillments.json",
            post(create_fulfillment),
        )
        .route("/admin/api/v1/orders/{id}/refunds", post(create_refund))
        .route(
            "/admin/api/v1/orders/{id}/refunds.json",
            post(create_refund),
        )
}

/// An amount as Shopify writes it: a decimal string in the order's currency.
fn price(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => Money::new(minor, c).to_decimal_string(),
        // Orders only hold valid codes; a bad one still shows an exact number.
        Err(_) => minor.to_string(),
    }
}

/// Shopify's `fulfillment_status`: null until something ships.
fn fulfillment_status(s: &str) -> Option<&'static str> {
    match s {
        "fulfilled" => Some("fulfilled"),
        "partially_fulfilled" => Some("partial"),
        _ => None,
    }
}

/// `{first_name, ..., country_code, phone}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddressJson {
    first_name: String,
    last_name: String,
    company: String,
    address1: String,
    address2: String,
    city: String,
    province: String,
    zip: String,
    country_code: String,
    phone: String,
}

impl AddressJson {
    fn new(a: &tenant_store::customers::Address) -> Self {
        Self {
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            company: a.company.clone(),
            address1: a.address1.clone(),
            address2: a.address2.clone(),
            city: a.city.clone(),
            province: a.province.clone(),
            zip: a.zip.clone(),
            country_code: a.country.clone(),
            phone: a.phone.clone(),
        }
    }
}

/// A line as Shopify shows it; `id` is the line's 1-based position.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineItemJson {
    id: i32,
    variant_id: Option<Uuid>,
    product_id: Option<Uuid>,
    title: String,
    variant_title: String,
    sku: String,
    quantity: i32,
    price: String,
    fulfillable_quantity: i32,
    total_discount: String,
}

/// `{title, price}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShippingLineJson {
    title: String,
    price: String,
}

/// `{code, amount}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiscountCodeJson {
    code: String,
    amount: String,
}

/// `{title, rate, price}`; `rate` is a fraction (0.0725).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaxLineJson {
    title: String,
    rate: f64,
    price: String,
}

/// `{id, email}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderCustomerJson {
    id: Uuid,
    email: String,
}

/// An order as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderJson {
    id: Uuid,
    name: String,
    order_number: i64,
    email: String,
    currency: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    financial_status: String,
    #[schema(value_type = Option<String>, example = "partial")]
    fulfillment_status: Option<&'static str>,
    cancelled_at: Option<DateTime<Utc>>,
    cancel_reason: Option<String>,
    /// Σ line prices before discounts.
    total_line_items_price: String,
    /// Goods after discounts, before shipping and tax (as Shopify counts it).
    subtotal_price: String,
    total_discounts: String,
    total_shipping_price: String,
    total_tax: String,
    taxes_included: bool,
    total_price: String,
    total_refunded: String,
    gateway: Option<String>,
    shipping_lines: Vec<ShippingLineJson>,
    discount_codes: Vec<DiscountCodeJson>,
    line_items: Vec<LineItemJson>,
    shipping_address: AddressJson,
    billing_address: Option<AddressJson>,
    customer: Option<OrderCustomerJson>,
    tax_lines: Vec<TaxLineJson>,
}

/// The API's view of an order; `cancelled_at` and `updated_at` come from its history.
fn order_json(o: &Order, history: &[orders::OrderEvent]) -> OrderJson {
    let cur = o.currency.as_str();
    let cancelled_at = (o.status == "cancelled")
        .then(|| {
            history
                .iter()
                .rev()
                .find(|e| e.kind == "cancelled")
                .map(|e| e.created_at)
        })
        .flatten();
    let updated_at = history
        .iter()
        .map(|e| e.created_at)
        .max()
        .unwrap_or(o.placed_at)
        .max(o.placed_at);
    let shipping_lines = if o.shipping_method.is_empty() && o.shipping_minor == 0 {
        Vec::new()
    } else {
        vec![ShippingLineJson {
            title: o.shipping_method.clone(),
            price: price(o.shipping_minor, cur),
        }]
    };
    OrderJson {
        id: o.id,
        name: format!("#{}", o.number),
        order_number: o.number,
        email: o.email.clone(),
        currency: o.currency.clone(),
        created_at: o.placed_at,
        updated_at,
        financial_status: o.financial_status.clone(),
        fulfillment_status: fulfillment_status(&o.fulfillment_status),
        cancelled_at,
        cancel_reason: o.cancel_reason.clone().filter(|_| o.status == "cancelled"),
        total_line_items_price: price(o.subtotal_minor, cur),
        subtotal_price: price(o.subtotal_minor - o.discount_minor, cur),
        total_discounts: price(o.discount_minor, cur),
        total_shipping_price: price(o.shipping_minor, cur),
        total_tax: price(o.tax_minor, cur),
        taxes_included: o.taxes_included,
        total_price: price(o.total_minor, cur),
        total_refunded: price(o.refunded_minor, cur),
        gateway: o.gateway.clone(),
        shipping_lines,
        discount_codes: o
            .discount_code
            .iter()
            .map(|code| DiscountCodeJson {
                code: code.clone(),
                amount: price(o.discount_minor, cur),
            })
            .collect(),
        line_items: o
            .lines
            .iter()
            .map(|l| LineItemJson {
                id: l.position,
                variant_id: l.variant_id,
                product_id: l.product_id,
                title: l.product_title.clone(),
                variant_title: l.variant_title.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                price: price(l.unit_price_minor, cur),
                fulfillable_quantity: if o.status == "cancelled" {
                    0
                } else {
                    l.quantity - l.fulfilled_quantity
                },
                total_discount: price(l.discount_minor, cur),
            })
            .collect(),
        shipping_address: AddressJson::new(&o.shipping_address),
        billing_address: o.billing_address.as_ref().map(AddressJson::new),
        customer: o.customer_id.map(|id| OrderCustomerJson {
            id,
            email: o.email.clone(),
        }),
        tax_lines: o
            .tax_lines
            .iter()
            .map(|t| TaxLineJson {
                title: t.name.clone(),
                rate: f64::from(t.rate_bp) / 10_000.0,
                price: price(t.amount_minor, cur),
            })
            .collect(),
    }
}

/// An order of the list: what one row of the order table holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderListItemJson {
    id: Uuid,
    name: String,
    order_number: i64,
    email: String,
    currency: String,
    created_at: DateTime<Utc>,
    financial_status: String,
    #[schema(value_type = Option<String>, example = "partial")]
    fulfillment_status: Option<&'static str>,
    /// Whether the order was cancelled (its time is on the order itself).
    cancelled: bool,
    total_price: String,
    shipping_name: String,
}

fn list_item_json(o: &OrderSummary) -> OrderListItemJson {
    OrderListItemJson {
        id: o.id,
        name: format!("#{}", o.number),
        order_number: o.number,
        email: o.email.clone(),
        currency: o.currency.clone(),
        created_at: o.placed_at,
        financial_status: o.financial_status.clone(),
        fulfillment_status: fulfillment_status(&o.fulfillment_status),
        cancelled: o.status == "cancelled",
        total_price: price(o.total_minor, &o.currency),
        shipping_name: o.name.clone(),
    }
}

/// `{"order": {...}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderEnvelope {
    order: OrderJson,
}

/// The list's parameters.
#[derive(Debug)]
struct ListParams {
    filter: OrderFilter,
    /// The filter parameters as sent, for the next page's link.
    echo: Vec<(&'static str, String)>,
}

const FINANCIAL: [&str; 6] = [
    "pending",
    "paid",
    "partially_refunded",
    "refunded",
    "failed",
    "voided",
];

/// Reads `status`, `financial_status`, `fulfillment_status`, `limit` and `page_info`
/// (an order number to continue below). Unknown values are 422s naming the parameter.
fn parse_list(query: Option<&str>) -> Result<ListParams, AppError> {
    let mut filter = OrderFilter {
        status: Some("open".into()),
        limit: DEFAULT_LIMIT,
        ..OrderFilter::default()
    };
    let mut echo = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let v = value.trim();
        match &*key {
            "status" => {
                filter.status = match v {
                    "open" => Some("open".into()),
                    "cancelled" => Some("cancelled".into()),
                    "any" => None,
                    _ => {
                        return Err(AppError::invalid(
                            "status",
                            "must be open, cancelled or any",
                        ));
                    }
                };
                echo.push(("status", v.to_owned()));
            }
            "financial_status" => {
                filter.financial_status = match v {
                    "any" => None,
                    s if FINANCIAL.contains(&s) => Some(s.to_owned()),
                    _ => {
                        return Err(AppError::invalid(
                            "financial_status",
                            format!("must be any or one of {}", FINANCIAL.join(", ")),
                        ));
                    }
                };
                echo.push(("financial_status", v.to_owned()));
            }
            "fulfillment_status" => {
                filter.fulfillment_status = match v {
                    "any" => None,
                    "shipped" | "fulfilled" => Some("fulfilled".into()),
                    "partial" => Some("partially_fulfilled".into()),
                    "unshipped" | "unfulfilled" => Some("unfulfilled".into()),
                    _ => {
                        return Err(AppError::invalid(
                            "fulfillment_status",
                            "must be any, shipped, partial or unshipped",
                        ));
                    }
                };
                echo.push(("fulfillment_status", v.to_owned()));
            }
            "limit" => filter.limit = parse_limit(v)?,
            "page_info" => {
                filter.before_number =
                    Some(v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        AppError::invalid("page_info", "is not a valid page cursor")
                    })?);
            }
            _ => {}
        }
    }
    Ok(ListParams { filter, echo })
}

/// `{"orders": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderList {
    orders: Vec<OrderListItemJson>,
}

/// `GET /admin/api/v1/orders.json`: newest first; `status` (open, cancelled, any; default
/// open), `financial_status`, `fulfillment_status`, `limit`, `page_info`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/orders",
    tag = "orders",
    params(
        ("status" = Option<String>, Query, description = "open (the default), cancelled or any"),
        ("financial_status" = Option<String>, Query, description = "any, pending, paid, partially_refunded, refunded, failed or voided"),
        ("fulfillment_status" = Option<String>, Query, description = "any, shipped (or fulfilled), partial or unshipped (or unfulfilled)"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 250 (default 50)"),
        ("page_info" = Option<String>, Query, description = "Cursor from the previous page's `Link` header"),
    ),
    responses(
        (status = 200, description = "A page of order summaries, newest first; a `Link: <...>; rel=\"next\"` header points at the next one", body = OrderList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks orders:read"),
        (status = 422, description = "A bad filter, `limit` or `page_info`; `errors` names it"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_orders(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(ORDERS_READ)?;
    let params = parse_list(uri.query())?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let page = orders::list_orders(&mut tx, &params.filter).await?;
    tx.commit().await?;
    let body = OrderList {
        orders: page.orders.iter().map(list_item_json).collect(),
    };
    let limit = params.filter.limit.to_string();
    let next = page.next_before.map(|n| n.to_string());
    let link: Option<Vec<(&str, &str)>> = next.as_deref().map(|n| {
        let mut p: Vec<(&str, &str)> = params.echo.iter().map(|(k, v)| (*k, v.as_str())).collect();
        p.push(("limit", &limit));
        p.push(("page_info", n));
        p
    });
    Ok(json_with_next(&app, &headers, &uri, link.as_deref(), body))
}

/// `{"count": N}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderCount {
    count: i64,
}

/// `GET /admin/api/v1/orders/count.json`: with the list's filters (`status` default open).
#[utoipa::path(
    get,
    path = "/admin/api/v1/orders/count",
    tag = "orders",
    params(
        ("status" = Option<String>, Query, description = "open (the default), cancelled or any"),
        ("financial_status" = Option<String>, Query, description = "any, pending, paid, partially_refunded, refunded, failed or voided"),
        ("fulfillment_status" = Option<String>, Query, description = "any, shipped (or fulfilled), partial or unshipped (or unfulfilled)"),
    ),
    responses(
        (status = 200, description = "How many orders match the filters", body = OrderCount),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks orders:read"),
        (status = 422, description = "A bad filter; `errors` names it"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn count_orders(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
) -> Result<axum::Json<OrderCount>, ApiError> {
    client.require(ORDERS_READ)?;
    let mut params = parse_list(uri.query())?;
    let f = &mut params.filter;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let count =
        if f.status.is_none() && f.financial_status.is_none() && f.fulfillment_status.is_none() {
            orders::count_orders(&mut tx).await?
        } else {
            // The order store counts only all orders: walk the filtered list in big pages.
            f.limit = 250;
            f.before_number = None;
            let mut n = 0;
            loop {
                let page = orders::list_orders(&mut tx, f).await?;
                n += page.orders.len() as i64;
                match page.next_before {
                    Some(b) => f.before_number = Some(b),
                    None => break n,
                }
            }
        };
    tx.commit().await?;
    Ok(axum::Json(OrderCount { count }))
}

/// Reads an order with its history and answers it in Shopify's shape.
async fn order_body(app: &AppState, client: &ApiClient, id: Uuid) -> Result<OrderJson, ApiError> {
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let order = orders::get_order(&mut tx, id).await?;
    let history = orders::events(&mut tx, id).await?;
    tx.commit().await?;
    Ok(order_json(&order, &history))
}

/// `GET /admin/api/v1/orders/{id}.json`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/orders/{id}",
    tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "The order with its lines, addresses and tax lines", body = OrderEnvelope),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks orders:read"),
        (status = 404, description = "No such order in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn show_order(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<axum::Json<OrderEnvelope>, ApiError> {
    client.require(ORDERS_READ)?;
    let id = path_id(&id)?;
    let order = order_body(&app, &client, id).await?;
    Ok(axum::Json(OrderEnvelope { order }))
}

/// `{"reason": "customer"}` (Shopify's reasons: customer, fraud, inventory, declined,
/// other; any short text is kept).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct CancelRequest {
    #[serde(default)]
    reason: Option<String>,
}

/// Whether a body was sent at all (cancel takes an empty one).
fn is_empty(body: &JsonBody) -> bool {
    body.0.iter().all(u8::is_ascii_whitespace)
}

/// `POST /admin/api/v1/orders/{id}/cancel.json`: cancels an unfulfilled order (a paid one
/// is refunded in full first); answers `{"order": {...}}`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/orders/{id}/cancel",
    tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id (a `.json` suffix is accepted)")),
    request_body(content = Option<CancelRequest>, description = "Optional: an empty body cancels with reason `other`"),
    responses(
        (status = 200, description = "The order as cancelled", body = OrderEnvelope),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks orders:write"),
        (status = 404, description = "No such order in this store"),
        (status = 422, description = "The order cannot be cancelled (already cancelled or shipped) or the reason is too long; `errors` names the field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn cancel_order(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<axum::Json<OrderEnvelope>, ApiError> {
    client.require(ORDERS_WRITE)?;
    let id = path_id(&id)?;
    let request: CancelRequest = if is_empty(&body) {
        CancelRequest::default()
    } else {
        body.parse(None)?
    };
    let reason = request.reason.unwrap_or_default();
    let reason = match reason.trim() {
        "" => "other",
        r => r,
    };
    if reason.chars().count() > 200 {
        return Err(AppError::invalid("reason", "must be at most 200 characters").into());
    }
    let base = request_base_url(&app, &headers);
    flow::cancel(&app, &client.tenant, id, reason, &client.actor(), &base).await?;
    let order = order_body(&app, &client, id).await?;
    Ok(axum::Json(OrderEnvelope { order }))
}

/// `{"fulfillment": {...}}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct FulfillmentRequest {
    fulfillment: FulfillmentFields,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct FulfillmentFields {
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(default)]
    tracking_company: Option<String>,
    #[serde(default)]
    tracking_url: Option<String>,
    /// Units per line; left out, everything not yet shipped.
    #[serde(default)]
    line_items: Option<Vec<FulfillmentLine>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct FulfillmentLine {
    /// The line's position (its `id` in the order).
    id: i32,
    /// Units; left out, all the line's units not yet shipped.
    #[serde(default)]
    quantity: Option<i32>,
}

/// A fulfillment as the API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct FulfillmentJson {
    order_id: Uuid,
    #[schema(value_type = String, example = "success")]
    status: &'static str,
    tracking_company: String,
    tracking_number: String,
    tracking_url: Option<String>,
    line_items: Vec<FulfilledLineJson>,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct FulfilledLineJson {
    id: i32,
    quantity: i32,
}

/// The order store names shipped lines `lines`; the API calls them `line_items`.
fn fulfil_field_names(e: AppError) -> ApiError {
    match e {
        AppError::Invalid(fields) => AppError::Invalid(
            fields
                .into_iter()
                .map(|(f, m)| match f.as_str() {
                    "lines" => ("line_items".to_owned(), m),
                    "carrier" => ("tracking_company".to_owned(), m),
                    "tracking" => ("tracking_number".to_owned(), m),
                    _ => (f, m),
                })
                .collect(),
        )
        .into(),
        other => other.into(),
    }
}

/// `POST /admin/api/v1/orders/{id}/fulfillments.json`: ships units of a paid, open order
/// (all that are left when `line_items` is left out); answers 201 `{"fulfillment": {...}}`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/orders/{id}/fulfillments",
    tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id (a `.json` suffix is accepted)")),
    request_body = FulfillmentRequest,
    responses(
        (status = 201, description = "The units shipped", body = super::openapi::FulfillmentEnvelope<FulfillmentJson>),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks orders:write"),
        (status = 404, description = "No such order in this store"),
        (status = 422, description = "The order cannot ship (unpaid, cancelled, nothing left) or a line is wrong; `errors` names the field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn create_fulfillment(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    client.require(ORDERS_WRITE)?;
    let id = path_id(&id)?;
    let request: FulfillmentRequest = body.parse(Some("fulfillment"))?;
    let f = request.fulfillment;
    let order = {
        let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
        let o = orders::get_order(&mut tx, id).await?;
        tx.commit().await?;
        o
    };
    let left = |position: i32| {
        order
            .lines
            .iter()
            .find(|l| l.position == position)
            .map(|l| l.quantity - l.fulfilled_quantity)
    };
    let lines: Vec<FulfilLine> = match f.line_items {
        None => order
            .lines
            .iter()
            .filter(|l| l.quantity > l.fulfilled_quantity)
            .map(|l| FulfilLine {
                position: l.position,
                quantity: l.quantity - l.fulfilled_quantity,
            })
            .collect(),
        Some(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Some(remaining) = left(item.id) else {
                    return Err(AppError::invalid(
                        format!("line_items[{i}].id"),
                        format!("order #{} has no line {}", order.number, item.id),
                    )
                    .into());
                };
                let quantity = item.quantity.unwrap_or(remaining);
                if quantity <= 0 {
                    return Err(AppError::invalid(
                        format!("line_items[{i}].quantity"),
                        "must be more than 0",
                    )
                    .into());
                }
                out.push(FulfilLine {
                    position: item.id,
                    quantity,
                });
            }
            out
        }
    };
    if lines.is_empty() {
        return Err(AppError::invalid("line_items", "nothing is left to ship").into());
    }
    let shipment = Shipment {
        lines: lines.clone(),
        carrier: f.tracking_company.unwrap_or_default(),
        tracking_number: f.tracking_number.unwrap_or_default(),
        tracking_url: f.tracking_url.unwrap_or_default(),
    };
    let base = request_base_url(&app, &headers);
    flow::fulfil(&app, &client.tenant, id, &shipment, &client.actor(), &base)
        .await
        .map_err(fulfil_field_names)?;
    let tracking_url = match shipment.tracking_url.trim() {
        "" => flow::tracking_url(&shipment.carrier, &shipment.tracking_number),
        u => Some(u.to_owned()),
    };
    let body = FulfillmentJson {
        order_id: id,
        status: "success",
        tracking_company: shipment.carrier.trim().to_owned(),
        tracking_number: shipment.tracking_number.trim().to_owned(),
        tracking_url,
        line_items: lines
            .iter()
            .map(|l| FulfilledLineJson {
                id: l.position,
                quantity: l.quantity,
            })
            .collect(),
        created_at: Utc::now(),
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "fulfillment": body })),
    )
        .into_response())
}

/// `{"refund": {"amount": "12.50", "restock": true}}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct RefundRequest {
    refund: RefundFields,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct RefundFields {
    #[serde(default)]
    #[schema(example = "12.50")]
    amount: Option<String>,
    #[serde(default)]
    restock: bool,
    #[serde(default)]
    note: Option<String>,
}

/// A refund as the API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RefundJson {
    order_id: Uuid,
    amount: String,
    currency: String,
    restock: bool,
    note: Option<String>,
    created_at: DateTime<Utc>,
}

/// `POST /admin/api/v1/orders/{id}/refunds.json`: gives back `amount` (a decimal string in
/// the order's currency) through the order's gateway, restocking unshipped units with
/// `restock`; answers 201 `{"refund": {...}}`. More than is left to refund is a 422 naming
/// `amount`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/orders/{id}/refunds",
    tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id (a `.json` suffix is accepted)")),
    request_body = RefundRequest,
    responses(
        (status = 201, description = "The refund given", body = super::openapi::RefundEnvelope<RefundJson>),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks orders:write"),
        (status = 404, description = "No such order in this store"),
        (status = 422, description = "A missing or malformed `amount`, more than is left to refund, or an unpaid order; `errors` names the field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn create_refund(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    client.require(ORDERS_WRITE)?;
    let id = path_id(&id)?;
    let request: RefundRequest = body.parse(Some("refund"))?;
    let r = request.refund;
    let currency = {
        let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
        let o = orders::get_order(&mut tx, id).await?;
        tx.commit().await?;
        o.currency
    };
    let code = Currency::parse(&currency)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("order currency: {e}")))?;
    let amount = r
        .amount
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| AppError::invalid("amount", "can't be blank"))?;
    let minor = Money::parse_decimal(amount, code)
        .map_err(|_| {
            AppError::invalid(
                "amount",
                format!("“{amount}” is not an amount in {currency} like 12.50"),
            )
        })?
        .minor;
    if minor <= 0 {
        return Err(AppError::invalid("amount", "must be more than 0").into());
    }
    let base = request_base_url(&app, &headers);
    flow::refund(
        &app,
        &client.tenant,
        id,
        minor,
        r.restock,
        &client.actor(),
        &base,
    )
    .await?;
    let body = RefundJson {
        order_id: id,
        amount: price(minor, &currency),
        currency,
        restock: r.restock,
        note: r.note,
        created_at: Utc::now(),
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "refund": body })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_are_checked() {
        let p = parse_list(None).unwrap();
        assert_eq!(p.filter.status.as_deref(), Some("open"));
        let p = parse_list(Some("status=any&fulfillment_status=partial&limit=5")).unwrap();
        assert_eq!(p.filter.status, None);
        assert_eq!(
            p.filter.fulfillment_status.as_deref(),
            Some("partially_fulfilled")
        );
        assert_eq!(p.filter.limit, 5);
        assert!(parse_list(Some("status=closed")).is_err());
        assert!(parse_list(Some("financial_status=lost")).is_err());
        assert!(parse_list(Some("page_info=x")).is_err());
    }

    #[test]
    fn fulfillment_status_is_shopifys() {
        assert_eq!(fulfillment_status("unfulfilled"), None);
        assert_eq!(fulfillment_status("partially_fulfilled"), Some("partial"));
        assert_eq!(fulfillment_status("fulfilled"), Some("fulfilled"));
    }
}
