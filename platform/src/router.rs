//! Every route, grouped by who calls it. Requests are split by Host first: the platform
//! domain gets the platform site, a store's hostname gets the store routes, health checks
//! answer on any host.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::from_fn;

use crate::app::AppState;
use crate::config::Environment;
use crate::error::AppError;
use crate::middleware::{self, Sites, dispatch_by_host};
use crate::routing::{Endpoint, Routes, get};
use crate::{admin, api, csrf, health, internal, platform_site, sessions, storefront};

/// The whole application.
pub fn build(state: AppState) -> Router {
    assemble(state).0
}

/// Which hosts a route answers on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Site {
    /// Every host (health checks, the TLS ask endpoint).
    Any,
    /// The bare platform domain: the platform site and the operator console.
    Platform,
    /// A store's hostname: the storefront, the admin and the Admin API.
    Store,
}

/// One route of the application: where it answers, its method and its path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// The hosts it answers on.
    pub site: Site,
    /// The HTTP method.
    pub method: Method,
    /// The path pattern (`/products/{handle}`).
    pub path: &'static str,
}

/// Every route [`build`] serves, from the same registrations: a new route is listed here
/// without anyone editing a list.
pub fn route_table(state: &AppState) -> Vec<RouteEntry> {
    assemble(state.clone()).1
}

fn assemble(state: AppState) -> (Router, Vec<RouteEntry>) {
    let (platform, platform_endpoints) = platform_site::router().into_parts();
    let (store, store_endpoints) = store_routes(&state).into_parts();
    let sites = Arc::new(Sites {
        platform: with_sessions(&state, platform).with_state(state.clone()),
        store: with_sessions(&state, store).with_state(state.clone()),
    });
    let (any_host, any_endpoints) = Routes::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Caddy asks on localhost, before any store is known: not behind the host dispatch.
        .route("/internal/tls/ask", get(internal::ask_tls))
        .into_parts();
    let routes = any_host
        .fallback(move |State(state): State<AppState>, req: Request| {
            dispatch_by_host(state, Arc::clone(&sites), req)
        })
        .with_state(state.clone());
    let listed = |site: Site, endpoints: Vec<Endpoint>| {
        endpoints.into_iter().map(move |e| RouteEntry {
            site,
            method: e.method,
            path: e.path,
        })
    };
    let table = listed(Site::Any, any_endpoints)
        .chain(listed(Site::Platform, platform_endpoints))
        .chain(listed(Site::Store, store_endpoints))
        .collect();
    (middleware::stack(state, routes), table)
}

/// Routes on a store's hostname: the shopper storefront and the merchant admin.
fn store_routes(state: &AppState) -> Routes {
    storefront::router(state)
        .merge(admin::router())
        .merge(api::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            storefront::branded_not_found,
        ))
}

/// Cookie sessions (host-only, in PostgreSQL) and the CSRF check on every unsafe request,
/// behind the rate limits' shield (see [`crate::rate_limit::shield`]).
fn with_sessions(state: &AppState, routes: Router<AppState>) -> Router<AppState> {
    let secure = state.settings.environment == Environment::Production;
    routes
        .layer(from_fn(csrf::verify))
        .layer(sessions::layer(state.db.clone(), secure))
        .layer(from_fn(sessions::track))
        // Outermost: a flood of posts already refused is answered before any session work.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::rate_limit::shield,
        ))
}

/// The 404 for paths no route matches.
pub async fn not_found() -> AppError {
    AppError::NotFound
}
