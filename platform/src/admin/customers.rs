//! Admin: customers and store credit.

use axum::Router;

use crate::app::AppState;

/// Routes of this part of the admin.
pub fn router() -> Router<AppState> {
    Router::new()
}
