//! Placing an order: validate, price from the catalog, count the discount, number and
//! write the order, then (after the caller's `then`, see [`place_order_then`]) reserve the
//! stock, all in the caller's tenant transaction ([`place_order`]: in a savepoint of it).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::Rng as _;
use rand::distributions::Alphanumeric;
use sqlx::types::Json;
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

use super::{Order, OrderLine, get_order, stock};
use crate::cart::{MAX_LINE_QUANTITY, short_of_stock};
use crate::customers::{Address, validate_address};
use crate::discounts::{self, DiscountCode};
use crate::pricing::{self, LineInput, PricingError, PricingInput, Totals};
use crate::shipping::{self, ShippingRate};
use crate::{StoreError, taxes};

/// Most lines in one order.
pub const MAX_ORDER_LINES: usize = 100;

/// One line the shopper asks for: a variant and how many. There is no price: prices come
/// from the catalog.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
pub struct LineRequest {
    /// The variant.
    pub variant_id: Uuid,
    /// Units (1 to 999).
    pub quantity: i32,
}

/// What the order is made of.
#[derive(Clone, Debug)]
pub enum Items {
    /// The lines of a cart (its stored prices are ignored); the cart is emptied when the
    /// order is placed.
    Cart(Uuid),
    /// Explicit lines; the same variant twice counts once with the quantities added.
    Lines(Vec<LineRequest>),
}

/// Everything checkout submits.
#[derive(Clone, Debug)]
pub struct PlaceOrder {
    /// The goods.
    pub items: Items,
    /// Contact email.
    pub email: String,
    /// The signed-in customer, if any.
    pub customer_id: Option<Uuid>,
    /// Where to ship (validated; `country` is an ISO code).
    pub shipping_address: Address,
    /// Billing address, when different.
    pub billing_address: Option<Address>,
    /// The chosen rate; required when any rate ships to the country.
    pub shipping_rate_id: Option<Uuid>,
    /// A discount code, if the shopper typed one.
    pub discount_code: Option<String>,
    /// One per checkout: submitting twice with the same key returns the first order.
    pub idempotency_key: String,
    /// The currency the shopper saw; must be the store's.
    pub currency: String,
    /// How long unpaid stock stays reserved (more than zero, at most 30 days).
    pub reservation_ttl: std::time::Duration,
}

struct Line {
    variant_id: Uuid,
    product_id: Uuid,
    product_title: String,
    variant_title: String,
    sku: String,
    unit_price_minor: i64,
    quantity: i32,
    weight_grams: i32,
    track_inventory: bool,
}

struct Prepared {
    currency: String,
    shipping_address: Address,
    billing_address: Option<Address>,
    lines: Vec<Line>,
    rate: Option<ShippingRate>,
    discount: Option<DiscountCode>,
    totals: Totals,
}

#[derive(sqlx::FromRow)]
struct CatalogRow {
    id: Uuid,
    product_id: Uuid,
    product_title: String,
    variant_title: String,
    sku: String,
    price_minor: i64,
    weight_grams: i32,
    track_inventory: bool,
    inventory_quantity: i32,
    status: String,
}

/// Moves a validation error into `errors`; anything else is returned.
fn collect(errors: &mut Vec<(String, String)>, e: StoreError) -> Result<(), StoreError> {
    match e {
        StoreError::Invalid { field, message } => errors.push((field.to_owned(), message)),
        StoreError::Fields(list) => errors.extend(list),
        other => return Err(other),
    }
    Ok(())
}

fn prefixed(prefix: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Fields(list) => StoreError::Fields(
            list.into_iter()
                .map(|(f, m)| (format!("{prefix}.{f}"), m))
                .collect(),
        ),
        other => other,
    }
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

async fn requested_lines(
    conn: &mut PgConnection,
    items: &Items,
) -> Result<Vec<LineRequest>, StoreError> {
    let raw: Vec<LineRequest> = match items {
        Items::Lines(lines) => lines.clone(),
        Items::Cart(cart_id) => {
            let rows: Vec<(Uuid, i32)> = sqlx::query_as(
                "SELECT variant_id, quantity FROM cart_lines WHERE cart_id = $1 \
                 ORDER BY added_at, variant_id",
            )
            .bind(cart_id)
            .fetch_all(conn)
            .await?;
            rows.into_iter()
                .map(|(variant_id, quantity)| LineRequest {
                    variant_id,
                    quantity,
                })
                .collect()
        }
    };
    let mut merged: Vec<LineRequest> = Vec::new();
    for l in raw {
        match merged.iter_mut().find(|m| m.variant_id == l.variant_id) {
            Some(m) => m.quantity = m.quantity.saturating_add(l.quantity),
            None => merged.push(l),
        }
    }
    Ok(merged)
}

/// Validates and prices a checkout without writing anything.
async fn prepare(conn: &mut PgConnection, input: &PlaceOrder) -> Result<Prepared, StoreError> {
    let mut errors = Vec::new();
    let (currency, include_tax): (String, bool) =
        sqlx::query_as("SELECT currency, prices_include_tax FROM settings")
            .fetch_one(&mut *conn)
            .await?;
    if input.currency.trim() != currency {
        errors.push((
            "currency".to_owned(),
            format!("the store sells in {currency}"),
        ));
    }
    let shipping_address = match validate_address(&input.shipping_address) {
        Ok(a) => Some(a),
        Err(e) => {
            collect(&mut errors, prefixed("shipping_address", e))?;
            None
        }
    };
    let billing_address = match input.billing_address.as_ref().map(validate_address) {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            collect(&mut errors, prefixed("billing_address", e))?;
            None
        }
    };

    let requested = requested_lines(conn, &input.items).await?;
    if requested.is_empty() {
        errors.push(("lines".to_owned(), "the order has no items".to_owned()));
    } else if requested.len() > MAX_ORDER_LINES {
        errors.push((
            "lines".to_owned(),
            format!("an order holds at most {MAX_ORDER_LINES} different items"),
        ));
    }
    let ids: Vec<Uuid> = requested.iter().map(|l| l.variant_id).collect();
    let catalog: HashMap<Uuid, CatalogRow> = sqlx::query_as::<_, CatalogRow>(
        "SELECT v.id, v.product_id, p.title AS product_title, \
           concat_ws(' / ', v.option1, v.option2, v.option3) AS variant_title, v.sku, \
           v.price_minor, v.weight_grams, v.track_inventory, v.inventory_quantity, p.status \
         FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.id, r))
    .collect();
    let mut lines = Vec::with_capacity(requested.len());
    for (i, r) in requested.iter().enumerate() {
        if !(1..=MAX_LINE_QUANTITY).contains(&r.quantity) {
            errors.push((
                format!("lines[{i}].quantity"),
                format!("must be a whole number from 1 to {MAX_LINE_QUANTITY}"),
            ));
            continue;
        }
        let Some(c) = catalog.get(&r.variant_id).filter(|c| c.status == "active") else {
            errors.push((
                format!("lines[{i}].variant_id"),
                "is no longer available".to_owned(),
            ));
            continue;
        };
        if c.track_inventory && r.quantity > c.inventory_quantity {
            errors.push((format!("lines[{i}].quantity"), sold_out(c, r.quantity)));
        }
        lines.push(Line {
            variant_id: c.id,
            product_id: c.product_id,
            product_title: c.product_title.clone(),
            variant_title: c.variant_title.clone(),
            sku: c.sku.clone(),
            unit_price_minor: c.price_minor,
            quantity: r.quantity,
            weight_grams: c.weight_grams,
            track_inventory: c.track_inventory,
        });
    }

    let country = shipping_address
        .as_ref()
        .map(|a| a.country.clone())
        .unwrap_or_default();
    let region = shipping_address
        .as_ref()
        .map(|a| a.province.clone())
        .unwrap_or_default();
    let rate = match input.shipping_rate_id {
        Some(id) => match shipping::get_rate(conn, id).await {
            Ok(rate) if country.is_empty() || rate.serves(&country) => Some(rate),
            Ok(_) => {
                errors.push((
                    "shipping_rate_id".to_owned(),
                    format!("this shipping method does not ship to {country}"),
                ));
                None
            }
            Err(StoreError::NotFound) => {
                errors.push((
                    "shipping_rate_id".to_owned(),
                    "is not a shipping method of this store".to_owned(),
                ));
                None
            }
            Err(e) => return Err(e),
        },
        None => {
            if !country.is_empty() && !shipping::rates_for(conn, &country).await?.is_empty() {
                errors.push((
                    "shipping_rate_id".to_owned(),
                    "choose a shipping method".to_owned(),
                ));
            }
            None
        }
    };
    let discount = match input
        .discount_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(code) => match discounts::find_applicable(conn, code, Utc::now()).await {
            Ok(d) => Some(d),
            Err(e) => {
                collect(&mut errors, e)?;
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }

    let tax_rates = taxes::rates_for(conn, &country, &region).await?;
    let inputs: Vec<LineInput> = lines
        .iter()
        .map(|l| LineInput {
            unit_price_minor: l.unit_price_minor,
            quantity: l.quantity,
            weight_grams: l.weight_grams,
        })
        .collect();
    let d = discount.as_ref().map(DiscountCode::discount);
    let totals = pricing::compute(&PricingInput {
        lines: &inputs,
        discount: d.as_ref(),
        shipping: rate.as_ref().map(|r| &r.rule),
        taxes: &tax_rates,
        prices_include_tax: include_tax,
    })
    .map_err(|e| match e {
        PricingError::BelowMinimum { min_subtotal_minor } => StoreError::invalid(
            "discount_code",
            format!("needs a subtotal of at least {min_subtotal_minor} (minor units)"),
        ),
        PricingError::ShippingUnavailable { weight_grams } => StoreError::invalid(
            "shipping_rate_id",
            format!("this shipping method does not take {weight_grams} g"),
        ),
        other => StoreError::invalid("lines", other.to_string()),
    })?;
    Ok(Prepared {
        currency,
        shipping_address: shipping_address.unwrap_or_default(),
        billing_address,
        lines,
        rate,
        discount,
        totals,
    })
}

fn sold_out(c: &CatalogRow, wanted: i32) -> String {
    short_of_stock(&c.product_title, c.inventory_quantity, wanted)
}

/// The totals checkout would charge, every line shown, computed exactly as
/// [`place_order`] will (the email and idempotency key are not needed yet). Writes nothing.
pub async fn quote(conn: &mut PgConnection, input: &PlaceOrder) -> Result<Totals, StoreError> {
    Ok(prepare(conn, input).await?.totals)
}

/// Places an order, or returns the order already placed with the same idempotency key.
///
/// Validation errors name their fields (`email`, `shipping_address.country`,
/// `shipping_rate_id`, `discount_code`, `lines[0].quantity`, ...). Prices come from the
/// catalog. Stock of every tracked variant is reserved atomically (in variant id order, so
/// concurrent checkouts cannot deadlock): if any line cannot be had, the result is a
/// `quantity` error naming the product and nothing changes. The discount's use is counted
/// within its limit, the next order number is taken, and the order, its lines, its
/// reservations, an `order.placed` event and its outbox row are written. All of it happens
/// in a savepoint: on error the caller's transaction is as it was.
pub async fn place_order(conn: &mut PgConnection, input: &PlaceOrder) -> Result<Order, StoreError> {
    let mut sp = conn.begin().await?;
    let nothing = async |_: &mut PgConnection, _: &Order| Ok::<(), StoreError>(());
    let order = match place_order_then(&mut sp, input, nothing).await? {
        Placed::New(order, ()) | Placed::Existing(order) => order,
    };
    sp.commit().await?;
    Ok(order)
}

/// What [`place_order_then`] did.
#[derive(Debug)]
pub enum Placed<T> {
    /// Placed the order; `then` answered `T`.
    New(Order, T),
    /// The order placed before with the same idempotency key (`then` did not run).
    Existing(Order),
}

/// [`place_order`], running `then` on the written order before its stock is reserved: the
/// reservations are the last statements, so the rows of popular variants stay locked only
/// from there to the caller's commit, not while `then` works (starting the payment, which
/// may call a gateway over the network, and queuing the confirmation). Stock of an order
/// `then` marked paid is reserved as committed at once.
///
/// No savepoint of its own: the reservation is followed directly by the caller's `COMMIT`,
/// so a hot variant's row is held for one round trip less. On an error (from `then` too)
/// part of the order may be written: the caller rolls its transaction back, as checkout
/// does, or calls this inside a savepoint, as [`place_order`] does.
pub async fn place_order_then<T, E>(
    conn: &mut PgConnection,
    input: &PlaceOrder,
    then: impl AsyncFnOnce(&mut PgConnection, &Order) -> Result<T, E>,
) -> Result<Placed<T>, E>
where
    E: From<StoreError>,
{
    let key = input.idempotency_key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(StoreError::invalid("idempotency_key", "must be 1 to 200 characters").into());
    }
    // Two submissions with one key queue here; the second then finds the first's order.
    // The lock is taken per store (schema) and key, and lasts until the transaction ends.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || $1, 0))")
        .bind(key)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?;
    let existing: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM orders WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::from)?;
    if let Some(id) = existing {
        return Ok(Placed::Existing(get_order(conn, id).await?));
    }

    let email = input.email.trim().to_owned();
    let mut errors = Vec::new();
    if !valid_email(&email) {
        errors.push((
            "email".to_owned(),
            "must be an email address like name@example.com".to_owned(),
        ));
    }
    let ttl = Duration::from_std(input.reservation_ttl)
        .ok()
        .filter(|t| *t > Duration::zero() && *t <= Duration::days(30));
    if ttl.is_none() {
        errors.push((
            "reservation_ttl".to_owned(),
            "must be more than zero and at most 30 days".to_owned(),
        ));
    }
    let prepared = match prepare(conn, input).await {
        Ok(p) => Some(p),
        Err(e) => {
            collect(&mut errors, e)?;
            None
        }
    };
    let (true, Some(p)) = (errors.is_empty(), prepared) else {
        return Err(StoreError::Fields(errors).into());
    };

    let order = write(conn, input, key, &email, &p, ttl.unwrap_or_default()).await?;
    let done = then(conn, &order).await?;
    reserve(conn, &order, &p.lines).await?;
    Ok(Placed::New(order, done))
}

/// Writes the order, its lines and its `placed` event (without its reservations: see
/// [`reserve`]), and empties the cart, in one statement; returns the order as written.
async fn write(
    conn: &mut PgConnection,
    input: &PlaceOrder,
    key: &str,
    email: &str,
    p: &Prepared,
    ttl: Duration,
) -> Result<Order, StoreError> {
    // The `placed` event as `record` writes it, its number taken from the insert.
    const WRITE: &str = "WITH placed AS ( \
               INSERT INTO orders (id, number, token, idempotency_key, email, customer_id, \
                   currency, shipping_address, billing_address, shipping_rate_id, \
                   shipping_method, discount_code, subtotal_minor, discount_minor, \
                   shipping_minor, tax_minor, taxes_included, tax_lines, total_minor, \
                   reserved_until) \
               VALUES ($1, nextval('order_numbers'), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                   $12, $13, $14, $15, $16, $17, $18, $19) \
               RETURNING number, placed_at, reserved_until), \
             lines AS ( \
               INSERT INTO order_lines (order_id, position, variant_id, product_id, \
                   product_title, variant_title, sku, unit_price_minor, quantity, weight_grams, \
                   subtotal_minor, discount_minor, total_minor, tax_minor) \
               SELECT $1, * FROM unnest($20::integer[], $21::uuid[], $22::uuid[], $23::text[], \
                   $24::text[], $25::text[], $26::bigint[], $27::integer[], $28::integer[], \
                   $29::bigint[], $30::bigint[], $31::bigint[], $32::bigint[])), \
             emptied AS (DELETE FROM cart_lines WHERE cart_id = $33), \
             history AS ( \
               INSERT INTO order_events (order_id, kind, details) \
               VALUES ($1, 'placed', $34)), \
             events AS ( \
               INSERT INTO outbox (topic, payload) \
               SELECT 'order.placed', jsonb_build_object('order_id', $1::uuid, \
                   'number', number, 'details', $34::jsonb) \
               FROM placed) \
         SELECT number, placed_at, reserved_until FROM placed";
    if let Some(d) = &p.discount {
        discounts::redeem(conn, d.id).await?;
    }
    let token: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    let id = Uuid::now_v7();
    let t = &p.totals;
    let reserved_until = Utc::now() + ttl;
    let mut lines = LineColumns::default();
    for (i, (l, lt)) in p.lines.iter().zip(&t.lines).enumerate() {
        lines.position.push(i as i32 + 1);
        lines.variant_id.push(l.variant_id);
        lines.product_id.push(l.product_id);
        lines.product_title.push(l.product_title.clone());
        lines.variant_title.push(l.variant_title.clone());
        lines.sku.push(l.sku.clone());
        lines.unit_price_minor.push(lt.unit_price_minor);
        lines.quantity.push(lt.quantity);
        lines.weight_grams.push(l.weight_grams);
        lines.subtotal_minor.push(lt.subtotal_minor);
        lines.discount_minor.push(lt.discount_minor);
        lines.total_minor.push(lt.total_minor);
        lines.tax_minor.push(lt.tax_minor);
    }
    let details = serde_json::json!({
        "total_minor": t.total_minor,
        "currency": p.currency,
        "reserved_until": reserved_until,
    });
    let cart = match input.items {
        Items::Cart(cart_id) => Some(cart_id),
        Items::Lines(_) => None,
    };
    let (number, placed_at, reserved_until): (i64, DateTime<Utc>, DateTime<Utc>) =
        sqlx::query_as(WRITE)
            .bind(id)
            .bind(&token)
            .bind(key)
            .bind(email)
            .bind(input.customer_id)
            .bind(&p.currency)
            .bind(Json(&p.shipping_address))
            .bind(p.billing_address.as_ref().map(Json))
            .bind(p.rate.as_ref().map(|r| r.id))
            .bind(p.rate.as_ref().map(|r| r.name.as_str()).unwrap_or(""))
            .bind(p.discount.as_ref().map(|d| d.code.as_str()))
            .bind(t.subtotal_minor)
            .bind(t.discount_minor)
            .bind(t.shipping_minor)
            .bind(t.tax_minor)
            .bind(t.taxes_included)
            .bind(Json(&t.tax_lines))
            .bind(t.total_minor)
            .bind(reserved_until)
            .bind(&lines.position)
            .bind(&lines.variant_id)
            .bind(&lines.product_id)
            .bind(&lines.product_title)
            .bind(&lines.variant_title)
            .bind(&lines.sku)
            .bind(&lines.unit_price_minor)
            .bind(&lines.quantity)
            .bind(&lines.weight_grams)
            .bind(&lines.subtotal_minor)
            .bind(&lines.discount_minor)
            .bind(&lines.total_minor)
            .bind(&lines.tax_minor)
            .bind(cart)
            .bind(&details)
            .fetch_one(&mut *conn)
            .await?;
    // The order as written: what reading it back would give.
    Ok(Order {
        id,
        number,
        token,
        email: email.to_owned(),
        customer_id: input.customer_id,
        currency: p.currency.clone(),
        shipping_address: p.shipping_address.clone(),
        billing_address: p.billing_address.clone(),
        shipping_rate_id: p.rate.as_ref().map(|r| r.id),
        shipping_method: p.rate.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
        discount_code: p.discount.as_ref().map(|d| d.code.clone()),
        subtotal_minor: t.subtotal_minor,
        discount_minor: t.discount_minor,
        shipping_minor: t.shipping_minor,
        tax_minor: t.tax_minor,
        taxes_included: t.taxes_included,
        tax_lines: t.tax_lines.clone(),
        total_minor: t.total_minor,
        refunded_minor: 0,
        status: "open".to_owned(),
        financial_status: "pending".to_owned(),
        fulfillment_status: "unfulfilled".to_owned(),
        payment_ref: None,
        cancel_reason: None,
        gateway: None,
        payment_flag: None,
        placed_at,
        reserved_until,
        lines: (0..lines.position.len())
            .map(|i| OrderLine {
                position: lines.position[i],
                variant_id: Some(lines.variant_id[i]),
                product_id: Some(lines.product_id[i]),
                product_title: std::mem::take(&mut lines.product_title[i]),
                variant_title: std::mem::take(&mut lines.variant_title[i]),
                sku: std::mem::take(&mut lines.sku[i]),
                unit_price_minor: lines.unit_price_minor[i],
                quantity: lines.quantity[i],
                weight_grams: lines.weight_grams[i],
                subtotal_minor: lines.subtotal_minor[i],
                discount_minor: lines.discount_minor[i],
                total_minor: lines.total_minor[i],
                tax_minor: lines.tax_minor[i],
                fulfilled_quantity: 0,
            })
            .collect(),
    })
}

/// Takes the stock of the order's tracked lines, in variant id order (every checkout locks
/// rows in the same order), or refuses with a `quantity` error naming the product.
async fn reserve(conn: &mut PgConnection, order: &Order, lines: &[Line]) -> Result<(), StoreError> {
    let mut tracked: Vec<&Line> = lines.iter().filter(|l| l.track_inventory).collect();
    tracked.sort_by_key(|l| l.variant_id);
    let reason = format!("order #{}", order.number);
    for l in tracked {
        if stock::take(conn, order.id, l.variant_id, l.quantity, &reason)
            .await?
            .is_none()
        {
            let left: i32 =
                sqlx::query_scalar("SELECT inventory_quantity FROM variants WHERE id = $1")
                    .bind(l.variant_id)
                    .fetch_one(&mut *conn)
                    .await?;
            return Err(StoreError::invalid(
                "quantity",
                short_of_stock(&l.product_title, left, l.quantity),
            ));
        }
    }
    Ok(())
}

/// Order lines as columns, for one `INSERT ... SELECT FROM unnest(...)`.
#[derive(Default)]
struct LineColumns {
    position: Vec<i32>,
    variant_id: Vec<Uuid>,
    product_id: Vec<Uuid>,
    product_title: Vec<String>,
    variant_title: Vec<String>,
    sku: Vec<String>,
    unit_price_minor: Vec<i64>,
    quantity: Vec<i32>,
    weight_grams: Vec<i32>,
    subtotal_minor: Vec<i64>,
    discount_minor: Vec<i64>,
    total_minor: Vec<i64>,
    tax_minor: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::valid_email;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@example.com", "x@sub.domain.org"] {
            assert!(valid_email(ok), "{ok} refused");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@b",
            "a@.com",
            "a@b.",
            "a b@c.de",
            "a@b@c.de",
        ] {
            assert!(!valid_email(bad), "{bad:?} accepted");
        }
    }
}
