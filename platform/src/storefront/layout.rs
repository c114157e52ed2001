//! What every storefront page shows around its content (branding, menus, cart count), the
//! shopper's money format, and the one way a page is rendered: with an `ETag`, revalidation
//! caching and a `304` when the shopper already has it.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use billing::{Currency, Money};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tenant_store::settings::StoreSettings;
use tenant_store::{TenantSchema, TenantTx, shop};
use tower_sessions::Session;
use uuid::Uuid;

use crate::app::{App, AppState};
use crate::error::AppError;
use crate::extract::CurrentTenant;
use crate::media_urls::image_url;

use super::assets;
use super::page_cache::StoreFrame;

/// The menus every page shows: main navigation and footer.
const MENUS: &[&str] = &["main-menu", "footer"];

/// Session key of the shopper's cart.
pub const CART_KEY: &str = "cart_id";

/// The store's side of every page (`store` in templates).
#[derive(Clone, Debug, Serialize)]
pub struct StoreView {
    /// Settings as saved.
    #[serde(flatten)]
    pub settings: StoreSettings,
    /// The logo at header size, if there is one.
    pub logo_url: Option<String>,
    /// Title for the home page (SEO title, else the store name).
    pub home_title: String,
}

pub use tenant_store::shop::MenuLink;

/// Every page's frame (`shop` in templates). All of it but the cart count comes from the
/// store's frame and the address ([`Shop::from_frame`]), which is what lets
/// [`crate::views::Views`] key a rendered frame on `frame_id`: the fields are private so
/// that no page can change what the id stands for.
#[derive(Clone, Debug, Serialize)]
pub struct Shop {
    /// The store.
    store: StoreView,
    /// Main navigation.
    main_menu: Vec<MenuLink>,
    /// Footer navigation.
    footer_menu: Vec<MenuLink>,
    /// Units in the shopper's cart.
    pub cart_count: i64,
    /// `https://host` of this store, for canonical and OpenGraph URLs.
    base_url: String,
    /// Fingerprinted URL of the theme's stylesheet.
    stylesheet: String,
    /// Fingerprinted URL of the theme's script.
    script: String,
    /// The id of the kept store frame the settings and menus come from (see
    /// [`super::page_cache::StoreFrame::id`]); None when they were loaded for this page.
    frame_id: Option<u64>,
}

impl Shop {
    /// Loads the frame in the page's tenant transaction: settings and menus (from the page
    /// cache when it holds them), the count of the session's cart.
    pub async fn load(
        app: &App,
        tx: &mut TenantTx,
        session: &Session,
        base_url: String,
    ) -> Result<Self, AppError> {
        if let Some(count) = super::page_cache::cart_count_of_this_page() {
            let mut shop = Self::for_cart(app, tx, None, base_url).await?;
            shop.cart_count = count;
            return Ok(shop);
        }
        crate::sessions::load_on(tx, session)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        let cart = cart_id(session).await?;
        Self::for_cart(app, tx, cart, base_url).await
    }

    /// Like [`Shop::load`] with the cart given: None leaves the count at 0 (the cart page
    /// counts what it shows).
    pub async fn for_cart(
        app: &App,
        tx: &mut TenantTx,
        cart: Option<Uuid>,
        base_url: String,
    ) -> Result<Self, AppError> {
        let schema = tx.schema().as_str().to_owned();
        let mut counted = None;
        let kept = app
            .pages
            .frame(&schema, async || {
                let frame = shop::frame(tx, MENUS, cart).await?;
                counted = Some(frame.cart_count);
                Ok(frame)
            })
            .await?;
        let cart_count = match (counted, cart) {
            (Some(count), _) => count,
            (None, Some(cart)) => tenant_store::cart::item_count(tx, cart).await?,
            (None, None) => 0,
        };
        Ok(Self::from_frame(&kept, cart_count, base_url))
    }

    /// The frame with a cart count of 0, for a page that reads without a tenant
    /// transaction of its own (see [`tenant_store::read_at_once`]): from the page cache, or
    /// loaded in a tenant transaction of its own.
    pub async fn without_cart(
        app: &App,
        schema: &TenantSchema,
        base_url: String,
    ) -> Result<Self, AppError> {
        let kept = app
            .pages
            .frame(schema.as_str(), async || {
                let mut tx = tenant_store::begin(&app.db, schema).await?;
                let frame = shop::frame(&mut tx, MENUS, None).await;
                tx.end_read_only();
                frame
            })
            .await?;
        Ok(Self::from_frame(&kept, 0, base_url))
    }

    /// The frame for a page that reads without a tenant transaction of its own: from the
    /// node's memory, and the cart's count with one read on the read lane at most (see
    /// [`super::page_cache::cart_count`]), none when the page cache already read it.
    pub async fn for_page(
        app: &AppState,
        tenant: &CurrentTenant,
        session: &Session,
        base_url: String,
    ) -> Result<Self, AppError> {
        let mut shop = Self::without_cart(app, &tenant.schema, base_url).await?;
        shop.cart_count = match super::page_cache::cart_count_of_this_page() {
            Some(count) => count,
            None => super::page_cache::cart_count(app, tenant, session).await?,
        };
        Ok(shop)
    }

    fn from_frame(kept: &StoreFrame, cart_count: i64, base_url: String) -> Self {
        let frame = &kept.frame;
        let settings = frame.settings.clone();
        let main_menu = frame.menus.first().cloned().unwrap_or_default();
        let footer_menu = frame.menus.get(1).cloned().unwrap_or_default();
        Self {
            store: StoreView {
                logo_url: settings.logo_key.as_deref().map(|k| image_url(k, 480)),
                home_title: if settings.seo_title.is_empty() {
                    settings.name.clone()
                } else {
                    settings.seo_title.clone()
                },
                settings,
            },
            main_menu,
            footer_menu,
            cart_count,
            base_url,
            stylesheet: assets::url("theme.css"),
            script: assets::url("theme.js"),
            frame_id: kept.id,
        }
    }

    /// The store's settings.
    pub fn settings(&self) -> &StoreSettings {
        &self.store.settings
    }

    /// The store's currency.
    pub fn currency(&self) -> Result<Currency, AppError> {
        Currency::parse(&self.store.settings.currency).map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "store currency {}: {e}",
                self.store.settings.currency
            ))
        })
    }
}

/// The store's settings, from this node's cached store frame when it has one (as every
/// page's frame is): for a transaction that needs only the settings (an order email).
pub async fn store_settings(
    app: &App,
    conn: &mut sqlx::PgConnection,
    schema: &str,
) -> Result<StoreSettings, AppError> {
    let frame = app
        .pages
        .frame(schema, async || shop::frame(conn, MENUS, None).await)
        .await?;
    Ok(frame.frame.settings.clone())
}

/// The cart named by the session, if any.
pub async fn cart_id(session: &Session) -> Result<Option<Uuid>, AppError> {
    session
        .get::<Uuid>(CART_KEY)
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// Money as shoppers read it: `$1,234.50`, `€12.00`, `¥1,200`, else `12.00 CHF`.
pub fn display_money(minor: i64, currency: Currency) -> String {
    let decimal = Money::new(minor, currency).to_decimal_string();
    let (sign, digits) = match decimal.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", decimal.as_str()),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(f) = fraction {
        grouped.push('.');
        grouped.push_str(f);
    }
    let symbol = match currency.as_str() {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        "INR" => Some("₹"),
        "CAD" => Some("CA$"),
        "AUD" => Some("A$"),
        "NZD" => Some("NZ$"),
        _ => None,
    };
    match symbol {
        Some(s) => format!("{sign}{s}{grouped}"),
        None => format!("{sign}{grouped} {}", currency.as_str()),
    }
}

/// `301 Moved Permanently` to `path`: where an old handle now leads (search engines move
/// their ranking to the new address).
pub fn moved(path: &str) -> Response {
    match HeaderValue::from_str(path) {
        Ok(location) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => AppError::NotFound.into_response(),
    }
}

/// Renders a storefront template (the store's override of it, if any).
pub async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    template: &str,
    view: &impl Serialize,
) -> Result<String, AppError> {
    crate::theme::render_store(app, tenant, template, view).await
}

/// A rendered page with its validators: `ETag` (a hash of the body), `Cache-Control`
/// asking caches to revalidate, `Vary: Cookie` (the cart count differs per shopper), and
/// `304 Not Modified` when the request already holds this version.
pub async fn page(
    app: &AppState,
    tenant: &CurrentTenant,
    request: &HeaderMap,
    template: &str,
    view: &impl Serialize,
) -> Result<Response, AppError> {
    let body = render(app, tenant, template, view).await?;
    Ok(with_validators(
        request,
        StatusCode::OK,
        body,
        "text/html; charset=utf-8",
    ))
}

/// A page answering something other than 200 (a refused form, a 404): not cacheable.
pub async fn page_with_status(
    app: &AppState,
    tenant: &CurrentTenant,
    status: StatusCode,
    template: &str,
    view: &impl Serialize,
) -> Result<Response, AppError> {
    let body = render(app, tenant, template, view).await?;
    Ok(no_store(status, body))
}

/// A rendered page no cache on the way may keep (`Cache-Control: no-store`).
pub fn no_store(status: StatusCode, body: impl IntoResponse) -> Response {
    let mut res = (status, Html(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Whether the request's `If-None-Match` names `etag` (or `*`): the shopper has this
/// version already.
pub fn holds(request: &HeaderMap, etag: &str) -> bool {
    request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// Like [`page`], for a body already rendered (XML, text).
pub fn with_validators(
    request: &HeaderMap,
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response {
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("W/\"{}\"", hex::encode(&digest[..12]));
    let matches = holds(request, &etag);
    let etag = HeaderValue::from_str(&etag).expect("hex is a valid header value");
    let headers = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::VARY,
            HeaderValue::from_static("Cookie, Accept-Encoding"),
        ),
    ];
    if matches && status == StatusCode::OK {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        status,
        headers,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}
