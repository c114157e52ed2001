//! The shopper storefront, on a store's own hostname.

mod home;
mod media;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::error::AppError;
use crate::extract::CurrentTenant;

/// Storefront routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::show_home))
        .layer(from_fn(refuse_suspended))
        // Outside the suspension check: a suspended store's admin still shows its images.
        .route("/media/{*path}", get(media::show_media))
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
