//! `/policies/{handle}`: the store's refund, shipping and privacy policies and terms of
//! service, as written in the settings (Shopify's paths).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use tower_sessions::Session;

use super::layout::{self, Shop};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};

#[derive(Serialize)]
struct PolicyView {
    shop: Shop,
    title: &'static str,
    body_html: String,
    canonical_url: String,
}

/// `GET /policies/{handle}`; a policy the merchant hasn't written is a 404.
pub async fn show_policy(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let shop = Shop::load(&app, &mut tx, &session, base.clone()).await?;
    tx.end_read_only();
    let s = shop.settings();
    let (title, body_html) = match handle.as_str() {
        "refund-policy" => ("Refund policy", s.refund_policy_html.clone()),
        "shipping-policy" => ("Shipping policy", s.shipping_policy_html.clone()),
        "privacy-policy" => ("Privacy policy", s.privacy_policy_html.clone()),
        "terms-of-service" => ("Terms of service", s.terms_of_service_html.clone()),
        _ => return Err(AppError::NotFound),
    };
    if body_html.trim().is_empty() {
        return Err(AppError::NotFound);
    }
    let view = PolicyView {
        canonical_url: format!("{base}/policies/{handle}"),
        shop,
        title,
        body_html,
    };
    layout::page(&app, &tenant, &headers, "store/policy.html", &view).await
}
