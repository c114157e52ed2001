//! The shopper storefront, on a store's own hostname.

mod home;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

/// Storefront routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home::show_home))
}
