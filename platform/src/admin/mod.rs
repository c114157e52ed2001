//! The merchant admin on a store's own host under `/admin`.

mod dashboard;
mod session;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

pub use session::LOGIN_LINK_TTL;

/// Admin routes (the JSON Admin API lives under `/admin/api/`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard::show_dashboard))
        .route(
            "/admin/login",
            get(session::show_login).post(session::create_session),
        )
        .route("/admin/logout", post(session::destroy_session))
        .route(
            "/admin/logout/everywhere",
            post(session::destroy_all_sessions),
        )
        .route("/admin/session/{token}", get(session::redeem_login_link))
}
