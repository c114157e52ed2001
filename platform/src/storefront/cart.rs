//! `/cart`: the shopper's cart, kept in the database and named by the session, so it
//! survives restarts and works on any app node. Add, change quantity, remove; every line is
//! re-checked against price and stock when the cart is shown.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{FromRow as _, Row as _, ValueRef as _};
use tenant_store::cart::{self, Cart};
use tenant_store::{StoreError, shop};
use tower_sessions::Session;
use uuid::Uuid;

use super::catalog::{Refused, choose, render_product, variant_query};
use super::layout::{self, CART_KEY, Shop, cart_id, display_money};
use super::page_cache;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};
use crate::media_urls::image_url;
use crate::sessions;

#[derive(Serialize)]
struct LineView {
    variant_id: Uuid,
    url: String,
    product_title: String,
    variant_title: String,
    sku: String,
    image_url: Option<String>,
    image_alt: String,
    quantity: i32,
    max_quantity: i32,
    unit_price: String,
    compare_at: Option<String>,
    line_total: String,
    /// A refused change to this line.
    error: Option<String>,
}

#[derive(Serialize)]
struct CartView {
    shop: Shop,
    lines: Vec<LineView>,
    notices: Vec<String>,
    subtotal: String,
    item_count: i64,
}

fn session_error(e: tower_sessions::session::Error) -> AppError {
    AppError::Internal(e.into())
}

async fn render_cart(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    headers: &HeaderMap,
    line_error: Option<(Uuid, String)>,
) -> Result<Response, AppError> {
    let base = request_base_url(app, headers);
    // A cart page shown as it was last time, when nothing it shows has changed: the
    // store (its stamp), the address and everything read for it (the session's row, the
    // lines with their products' current price and stock).
    let stamp = match line_error {
        None => page_cache::stamp(app, tenant).await,
        Some(_) => None,
    };
    let read = session_and_lines(app, tenant, session).await?;
    let mut kept_as = None;
    if let (Some(stamp), Some(read)) = (&stamp, &read) {
        let key = format!("{stamp} {base} cart {}", read.digest);
        if let Some(page) = app.pages.personal(&key) {
            return Ok(page);
        }
        kept_as = Some(key);
    }
    let mut shop = Shop::without_cart(app, &tenant.schema, base).await?;
    let currency = shop.currency()?;
    let money = |m: i64| display_money(m, currency);
    let cart = match (cart_id(session).await?, read) {
        (Some(id), Some(read)) if read.cart == Some(id) => {
            let review = cart::review(read.lines, &money);
            if review.needs_saving() {
                kept_as = None;
                let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
                let cart = review.save(&mut tx, id).await?;
                tx.commit().await?;
                cart
            } else {
                review.into_cart()
            }
        }
        (Some(id), _) => {
            kept_as = None;
            let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
            let cart = cart::load(&mut tx, id, &money).await?;
            if cart.changed {
                tx.commit().await?;
            } else {
                tx.end_read_only();
            }
            cart
        }
        (None, _) => Cart::default(),
    };
    if !cart.notices.is_empty() {
        kept_as = None;
    }
    // The count in the header is what the cart shows, once checked.
    shop.cart_count = cart.item_count;
    let view = CartView {
        shop,
        lines: cart
            .lines
            .into_iter()
            .map(|l| LineView {
                url: format!("/products/{}?variant={}", l.handle, l.variant_id),
                error: line_error
                    .as_ref()
                    .filter(|(id, _)| *id == l.variant_id)
                    .map(|(_, m)| m.clone()),
                variant_id: l.variant_id,
                product_title: l.product_title,
                variant_title: l.variant_title,
                sku: l.sku,
                image_url: l.image_key.as_deref().map(|k| image_url(k, 160)),
                image_alt: l.image_alt,
                quantity: l.quantity,
                max_quantity: l.max_quantity,
                unit_price: money(l.unit_price_minor),
                compare_at: l.compare_at_minor.map(money),
                line_total: money(l.line_total_minor),
            })
            .collect(),
        notices: cart.notices,
        subtotal: money(cart.subtotal_minor),
        item_count: cart.item_count,
    };
    let body = layout::render(app, tenant, "store/cart.html", &view).await?;
    // A cart is personal and changes with every visit: never stored by any cache on the
    // way (only here, for this shopper's next look at the same cart).
    let status = if line_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let body = Bytes::from(body);
    if let Some(key) = kept_as {
        app.pages.keep_personal(key, body.clone());
    }
    Ok(layout::no_store(status, body))
}

/// What the cart page read: the cart the session names, its lines (unchecked, see
/// [`cart::review`]), and a digest of every value read, the session's row included.
struct CartRead {
    cart: Option<Uuid>,
    lines: Vec<cart::LineRow>,
    digest: String,
}

/// A SHA-256 of `rows`, every value with its length: rows with the same digest hold the
/// same values.
fn digest(rows: &[PgRow]) -> Result<String, AppError> {
    let mut hash = Sha256::new();
    for row in rows {
        for i in 0..row.len() {
            let value = row.try_get_raw(i)?;
            if value.is_null() {
                hash.update([0]);
            } else {
                let bytes = value
                    .as_bytes()
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("reading the cart: {e}")))?;
                hash.update([1]);
                hash.update((bytes.len() as u64).to_le_bytes());
                hash.update(bytes);
            }
        }
        hash.update([2]);
    }
    Ok(hex::encode(hash.finalize()))
}

/// The session's row, when it is still to be read (a change of the cart reads it first),
/// and the lines of the cart it names, in one statement sent with its tenant transaction
/// as one message ([`tenant_store::read_at_once`]): the page's reading costs one round
/// trip. Answers the cart the row names and its lines, unchecked (see [`cart::review`]).
async fn session_and_lines(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
) -> Result<Option<CartRead>, AppError> {
    let Some(id) = sessions::unread(session) else {
        return Ok(None);
    };
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT s.data, s.expires_at, (s.data ->> $2)::uuid AS named_cart, l.* \
             FROM platform.sessions s \
             LEFT JOIN LATERAL ({} WHERE l.cart_id = (s.data ->> $2)::uuid) l ON true \
             WHERE s.id = $1 AND s.expires_at > now() \
             ORDER BY l.added_at, l.variant_id",
            cart::LINE_SELECT
        )
    });
    let read = tenant_store::ReadStatement {
        name: "cart_page",
        sql: &SQL,
    };
    let rows = tenant_store::read_at_once(
        &app.reads,
        &tenant.schema,
        read,
        &[&id.to_string(), CART_KEY],
    )
    .await?;
    let Some(first) = rows.first() else {
        sessions::hand_over_row(session, id, None)
            .await
            .map_err(session_error)?;
        return Ok(Some(CartRead {
            cart: None,
            lines: Vec::new(),
            digest: digest(&rows)?,
        }));
    };
    let row = (first.try_get("data")?, first.try_get("expires_at")?);
    let named: Option<Uuid> = first.try_get("named_cart")?;
    let mut lines = Vec::with_capacity(rows.len());
    for r in &rows {
        // A cart without lines still gives the session's row, its line columns null.
        if r.try_get::<Option<Uuid>, _>("variant_id")?.is_some() {
            lines.push(cart::LineRow::from_row(r)?);
        }
    }
    sessions::hand_over_row(session, id, Some(row))
        .await
        .map_err(session_error)?;
    Ok(Some(CartRead {
        cart: named,
        lines,
        digest: digest(&rows)?,
    }))
}

/// `GET /cart`.
pub async fn show_cart(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    render_cart(&app, &tenant, &session, &headers, None).await
}

fn quantity_field(fields: &HashMap<String, String>, default: i32) -> Result<i32, String> {
    match fields.get("quantity").map(|q| q.trim()) {
        None | Some("") => Ok(default),
        Some(q) => q
            .parse::<i32>()
            .map_err(|_| "Quantity must be a whole number.".to_owned()),
    }
}

/// `POST /cart/add` (`product` handle, `id` variant or `option1..3`, `quantity`): adds to
/// the cart and shows it; a refusal (stock, an unavailable combination) shows the product
/// page again with the message next to the quantity.
pub async fn add_to_cart(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let handle = fields.get("product").cloned().unwrap_or_default();
    let q = variant_query(&fields);
    let refuse = |message: String| {
        let (app, tenant, session, headers, handle, q) =
            (&app, &tenant, &session, &headers, &handle, &q);
        let quantity = fields.get("quantity").cloned();
        async move {
            render_product(
                app,
                tenant,
                session,
                headers,
                handle,
                q,
                Some(Refused { message, quantity }),
            )
            .await
        }
    };
    let quantity = match quantity_field(&fields, 1) {
        Ok(n) => n,
        Err(m) => return refuse(m).await,
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let product = match shop::product_by_handle(&mut tx, &handle).await? {
        shop::ProductLookup::Found(p) => p,
        shop::ProductLookup::Moved(_) => return Err(AppError::NotFound),
    };
    let variant = match choose(&product, &q) {
        (Some(v), _) => v.id,
        (None, message) => {
            drop(tx);
            return refuse(message.unwrap_or_else(|| "Choose an option.".into())).await;
        }
    };
    let existing = match cart_id(&session).await? {
        Some(id) if cart::exists(&mut tx, id).await? => Some(id),
        _ => None,
    };
    let id = match existing {
        Some(id) => id,
        None => cart::create(&mut tx).await?,
    };
    match cart::add(&mut tx, id, variant, quantity).await {
        Ok(()) => {}
        Err(StoreError::Invalid { message, .. }) => {
            drop(tx);
            let message = capitalize(&message);
            return refuse(message).await;
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    if existing.is_none() {
        session.insert(CART_KEY, id).await.map_err(session_error)?;
    }
    Ok(Redirect::to("/cart").into_response())
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect::<String>() + ".",
        None => String::new(),
    }
}

/// `POST /cart/change` (`id` variant, `quantity`; 0 removes): a quantity beyond the stock
/// is refused with the message next to the line, and the cart stays as it was.
pub async fn change_cart(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let Some(cart) = cart_id(&session).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let variant = fields
        .get("id")
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(|| AppError::invalid("id", "must name an item in the cart"))?;
    let quantity = match quantity_field(&fields, 1) {
        Ok(n) if n >= 0 => n,
        Ok(_) => {
            return render_cart(
                &app,
                &tenant,
                &session,
                &headers,
                Some((variant, "Quantity can't be negative.".into())),
            )
            .await;
        }
        Err(m) => return render_cart(&app, &tenant, &session, &headers, Some((variant, m))).await,
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    match cart::set_quantity(&mut tx, cart, variant, quantity).await {
        Ok(()) | Err(StoreError::NotFound) => tx.commit().await?,
        Err(StoreError::Invalid { message, .. }) => {
            drop(tx);
            return render_cart(
                &app,
                &tenant,
                &session,
                &headers,
                Some((variant, capitalize(&message))),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to("/cart").into_response())
}

/// `POST /cart/remove` (`id`): removes a line.
pub async fn remove_from_cart(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    if let (Some(cart), Some(variant)) = (
        cart_id(&session).await?,
        fields.get("id").and_then(|v| Uuid::parse_str(v).ok()),
    ) {
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        cart::remove(&mut tx, cart, variant).await?;
        tx.commit().await?;
    }
    Ok(Redirect::to("/cart").into_response())
}
