//! Every route, grouped by who calls it. Requests are split by Host first: the platform
//! domain gets the platform site, a store's hostname gets the store routes, health checks
//! answer on any host.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::from_fn;
use axum::routing::get;

use crate::app::AppState;
use crate::config::Environment;
use crate::error::AppError;
use crate::middleware::{self, Sites, dispatch_by_host};
use crate::{admin, api, csrf, health, internal, platform_site, sessions, storefront};

/// The whole application.
pub fn build(state: AppState) -> Router {
    let sites = Arc::new(Sites {
        platform: with_sessions(&state, platform_site::router()).with_state(state.clone()),
        store: with_sessions(&state, store_routes(&state)).with_state(state.clone()),
    });
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Caddy asks on localhost, before any store is known: not behind the host dispatch.
        .route("/internal/tls/ask", get(internal::ask_tls))
        .fallback(move |State(state): State<AppState>, req: Request| {
            dispatch_by_host(state, Arc::clone(&sites), req)
        })
        .with_state(state.clone());
    middleware::stack(state, routes)
}

/// Routes on a store's hostname: the shopper storefront and the merchant admin.
fn store_routes(state: &AppState) -> Router<AppState> {
    storefront::router(state)
        .merge(admin::router())
        .merge(api::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            storefront::branded_not_found,
        ))
}

/// Cookie sessions (host-only, in PostgreSQL) and the CSRF check on every unsafe request.
fn with_sessions(state: &AppState, routes: Router<AppState>) -> Router<AppState> {
    let secure = state.settings.environment == Environment::Production;
    routes
        .layer(from_fn(csrf::verify))
        .layer(sessions::layer(state.db.clone(), secure))
        .layer(from_fn(sessions::track))
}

/// The 404 for paths no route matches.
pub async fn not_found() -> AppError {
    AppError::NotFound
}
