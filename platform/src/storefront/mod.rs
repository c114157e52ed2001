//! The shopper storefront, on a store's own hostname.

mod account;
mod assets;
mod bench;
mod cart;
mod catalog;
mod checkout;
mod contact;
mod content;
pub mod countries;
mod home;
pub mod layout;
mod media;
mod orders;
pub mod page_cache;
mod personal_pages;
mod policies;
mod search;
mod seo;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse as _, Response};

use crate::app::AppState;
use crate::error::{AppError, ErrorMarker};
use crate::extract::{CurrentTenant, request_base_url};
use crate::routing::{Routes, get, post};
use layout::Shop;
use tower_sessions::Session;

/// Storefront routes.
pub fn router(state: &AppState) -> Routes {
    // Pages that show nothing of the shopper but their cart count: served from the
    // page cache when it holds them.
    let everyones = Routes::new()
        .route("/", get(home::show_home))
        .route("/collections/{handle}", get(catalog::show_collection))
        .route(
            "/collections/{collection}/products/{handle}",
            get(catalog::show_nested_product),
        )
        .route("/products/{handle}", get(catalog::show_product))
        .route("/policies/{handle}", get(policies::show_policy))
        .route("/pages/{handle}", get(content::show_page))
        .route("/blogs/{blog}", get(content::show_blog))
        .route("/blogs/{blog}/{handle}", get(content::show_article))
        .route("/sitemap.xml", get(seo::sitemap_index))
        .route("/sitemaps/products.xml", get(seo::products_sitemap))
        .route("/sitemaps/collections.xml", get(seo::collections_sitemap))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            page_cache::serve,
        ));
    // These load the shopper's session on their tenant transaction's connection
    // (`sessions::load_on`, in `Shop::load`, the page cache and the cart).
    let session_on_own_connection = everyones
        .route("/cart", get(cart::show_cart))
        .layer(from_fn(refuse_suspended));
    Routes::new()
        .route("/cart/add", post(cart::add_to_cart))
        .route("/cart/change", post(cart::change_cart))
        .route("/cart/remove", post(cart::remove_from_cart))
        .route(
            "/checkout",
            get(checkout::show_checkout).post(checkout::submit_checkout),
        )
        .route("/orders/{token}", get(orders::show_order))
        .route(
            "/orders/{token}/pay",
            get(orders::show_pay).post(orders::submit_pay),
        )
        .route("/orders/{token}/invoice", get(orders::show_invoice))
        .route(
            "/webhooks/{gateway}",
            post(crate::payments::webhook::receive),
        )
        .route(
            "/contact",
            get(contact::show_contact).post(contact::send_contact),
        )
        .route("/search", get(search::show_search))
        .route("/search/suggest.json", get(search::suggest))
        .route(
            "/account",
            get(account::show_account).post(account::update_profile),
        )
        .route(
            "/account/register",
            get(account::show_register).post(account::register),
        )
        .route(
            "/account/login",
            get(account::show_login).post(account::login),
        )
        .route("/account/logout", post(account::logout))
        .route("/account/password", post(account::change_password))
        .route(
            "/account/addresses",
            get(account::show_addresses).post(account::create_address),
        )
        .route("/account/addresses/{id}", post(account::update_address))
        .route(
            "/account/addresses/{id}/delete",
            post(account::delete_address),
        )
        .route("/robots.txt", get(seo::robots))
        .layer(from_fn(refuse_suspended))
        .layer(from_fn(load_session_first))
        .merge(session_on_own_connection)
        .route("/assets/{name}", get(assets::show_asset))
        .route("/__bench/baseline", get(bench::baseline))
        // Outside the suspension check: a suspended store's admin still shows its images.
        .route("/media/{*path}", get(media::show_media))
}

/// A shopper who reaches a page that doesn't exist (or a draft product, another store's
/// handle) gets the store's own 404 page, with its header, menus and a way back. The admin
/// and files keep the plain error page.
pub async fn branded_not_found(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let tenant = req.extensions().get::<CurrentTenant>().cloned();
    let session = req.extensions().get::<Session>().cloned();
    // Only the Host header is needed (for the page's links): not a copy of every header on
    // every request.
    let mut headers = axum::http::HeaderMap::new();
    if let Some(host) = req.headers().get(axum::http::header::HOST) {
        headers.insert(axum::http::header::HOST, host.clone());
    }
    let res = next.run(req).await;
    let not_found = res
        .extensions()
        .get::<ErrorMarker>()
        .is_some_and(|m| matches!(*m.0, AppError::NotFound));
    let shopper_page = !["/admin", "/media/", "/assets/", "/internal/"]
        .iter()
        .any(|p| path.starts_with(p));
    let (true, true, Some(tenant), Some(session)) = (not_found, shopper_page, tenant, session)
    else {
        return res;
    };
    let page = async {
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        let shop = Shop::load(&app, &mut tx, &session, request_base_url(&app, &headers)).await?;
        tx.end_read_only();
        layout::page_with_status(
            &app,
            &tenant,
            StatusCode::NOT_FOUND,
            "store/404.html",
            &serde_json::json!({ "shop": shop }),
        )
        .await
    };
    match page.await {
        Ok(page) => page,
        Err(e) => {
            tracing::warn!(error = %e, "rendering the store's 404 page");
            res
        }
    }
}

/// Loads the shopper's session (when there is a cookie) before the handler opens its tenant
/// transaction. The session store takes a pool connection of its own: loaded lazily inside
/// a transaction, every request would hold two connections at once, and a burst of
/// shoppers could exhaust the pool with each request waiting for its second connection.
async fn load_session_first(req: Request, next: Next) -> Response {
    if let Some(session) = req.extensions().get::<Session>()
        && let Err(e) = session.get::<uuid::Uuid>(layout::CART_KEY).await
    {
        return AppError::Internal(e.into()).into_response();
    }
    next.run(req).await
}

/// A suspended store shows shoppers a 503; its admin stays reachable.
async fn refuse_suspended(req: Request, next: Next) -> Response {
    let suspended = req
        .extensions()
        .get::<CurrentTenant>()
        .is_some_and(|t| t.status == "suspended");
    if suspended {
        return AppError::Unavailable("This store is unavailable at the moment.".into())
            .into_response();
    }
    next.run(req).await
}
