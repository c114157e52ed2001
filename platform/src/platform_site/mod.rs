//! The platform site on the bare platform domain: landing page and merchant signup.

mod signup;

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::router::not_found;

/// Platform site routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(show_landing))
        .route(
            "/signup",
            get(signup::show_signup).post(signup::create_store),
        )
        .route("/signup/check", get(signup::check_subdomain))
        .merge(crate::operator::router())
        .fallback(not_found)
}

#[derive(Serialize)]
struct LandingView<'a> {
    platform_domain: &'a str,
}

/// `GET /`: what the platform is and where to start.
async fn show_landing(State(app): State<AppState>) -> Result<Html<String>, AppError> {
    let view = LandingView {
        platform_domain: app.hosts.platform_domain(),
    };
    Ok(Html(app.views.render("platform/landing.html", &view)?))
}
