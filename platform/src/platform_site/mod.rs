//! The platform site on the bare platform domain: landing page and merchant signup.

mod login;
mod pricing;
mod signup;

use axum::http::HeaderMap;

use crate::config::Environment;

use axum::extract::State;
use axum::response::Html;
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::router::not_found;
use crate::routing::{Routes, get};

/// Platform site routes.
pub fn router() -> Routes {
    Routes::new()
        .route("/", get(show_landing))
        .route(
            "/signup",
            get(signup::show_signup).post(signup::create_store),
        )
        .route("/signup/check", get(signup::check_subdomain))
        .route("/login", get(login::show_login).post(login::find_stores))
        .route("/pricing", get(pricing::show_pricing))
        .route("/account/verify/{token}", get(crate::admin::verify_email))
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

/// The scheme (`https` in production) and the port the visitor used (`:8080`, so links
/// work in development) for links between the platform host and store hosts.
fn scheme_and_port(app: &AppState, headers: &HeaderMap) -> (&'static str, String) {
    let scheme = match app.settings.environment {
        Environment::Production => "https",
        Environment::Development => "http",
    };
    let port = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .filter(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, p)| format!(":{p}"))
        .unwrap_or_default();
    (scheme, port)
}

/// Builds `scheme://<sub>.<platform domain>[:port]` for links to a store's host.
pub fn store_base_url(app: &AppState, headers: &HeaderMap) -> impl Fn(&str) -> String {
    let (scheme, port) = scheme_and_port(app, headers);
    let domain = app.hosts.platform_domain().to_owned();
    move |sub: &str| format!("{scheme}://{sub}.{domain}{port}")
}

/// `scheme://<platform domain>[:port]`, for links to the platform host.
pub fn platform_base_url(app: &AppState, headers: &HeaderMap) -> String {
    let (scheme, port) = scheme_and_port(app, headers);
    format!("{scheme}://{}{port}", app.hosts.platform_domain())
}
