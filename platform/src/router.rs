//! Every route, grouped by who calls it. Requests are split by Host first: the platform
//! domain gets the platform site, a store's hostname gets the store routes, health checks
//! answer on any host.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::get;

use crate::app::AppState;
use crate::error::AppError;
use crate::middleware::{self, Sites, dispatch_by_host};
use crate::{health, platform_site, storefront};

/// The whole application.
pub fn build(state: AppState) -> Router {
    let sites = Arc::new(Sites {
        platform: platform_site::router().with_state(state.clone()),
        store: store_routes().with_state(state.clone()),
    });
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(move |State(state): State<AppState>, req: Request| {
            dispatch_by_host(state, Arc::clone(&sites), req)
        })
        .with_state(state.clone());
    middleware::stack(state, routes)
}

/// Routes on a store's hostname: the shopper storefront (later the admin and its API).
fn store_routes() -> Router<AppState> {
    storefront::router().fallback(not_found)
}

/// The 404 for paths no route matches.
pub async fn not_found() -> AppError {
    AppError::NotFound
}
