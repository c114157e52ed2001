//! The merchant admin on a store's own host under `/admin`.

mod account;
mod audit;
mod chrome;
mod collections;
mod dashboard;
mod domains;
mod images;
mod import_export;
mod inventory;
mod password;
mod products;
mod session;
mod staff;
mod tokens;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::app::AppState;

pub use account::{queue_verification_email, verify_email};
pub use session::LOGIN_LINK_TTL;

/// Admin routes (the JSON Admin API lives under `/admin/api/`).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(import_export::router())
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
        .route(
            "/admin/password/forgot",
            get(password::show_forgot).post(password::send_reset_link),
        )
        .route(
            "/admin/password/reset/{token}",
            get(password::show_reset).post(password::reset_password),
        )
        .route(
            "/admin/products",
            get(products::list_products).post(products::create_product),
        )
        .route("/admin/products/new", get(products::new_product))
        .route("/admin/products/bulk", post(products::bulk_update))
        .route(
            "/admin/products/{id}",
            get(products::edit_product).post(products::update_product),
        )
        .route(
            "/admin/products/{id}/delete",
            post(products::delete_product),
        )
        // The upload reads its own, configured body limit (axum's default is 2 MB).
        .route(
            "/admin/products/{id}/images",
            post(images::upload_image).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/admin/products/{id}/images/{image_id}/alt",
            post(images::update_image_alt),
        )
        .route(
            "/admin/products/{id}/images/{image_id}/delete",
            post(images::delete_image),
        )
        .route(
            "/admin/settings/api-tokens",
            get(tokens::list_tokens).post(tokens::create_token),
        )
        .route(
            "/admin/settings/api-tokens/{id}/revoke",
            post(tokens::revoke_token),
        )
        .route(
            "/admin/collections",
            get(collections::list_collections).post(collections::create_collection),
        )
        .route("/admin/collections/new", get(collections::new_collection))
        .route(
            "/admin/collections/{id}",
            get(collections::edit_collection).post(collections::update_collection),
        )
        .route(
            "/admin/collections/{id}/delete",
            post(collections::delete_collection),
        )
        .route("/admin/inventory", get(inventory::list_inventory))
        .route(
            "/admin/inventory/{variant_id}",
            get(inventory::show_history).post(inventory::adjust_inventory),
        )
        .route("/admin/audit", get(audit::show_audit))
        .route("/admin/staff", get(staff::list_staff))
        .route("/admin/staff/invitations", post(staff::create_invitation))
        .route(
            "/admin/staff/invitations/{id}/revoke",
            post(staff::revoke_invitation),
        )
        .route(
            "/admin/staff/members/{user_id}/remove",
            post(staff::remove_member),
        )
        .route(
            "/admin/invitations/{token}",
            get(staff::show_invitation).post(staff::accept_invitation),
        )
        .route(
            "/admin/account/verification",
            post(account::resend_verification),
        )
        .route(
            "/admin/settings/domains",
            get(domains::show_domains).post(domains::add_domain),
        )
        .route(
            "/admin/settings/domains/verify",
            post(domains::check_domain),
        )
        .route(
            "/admin/settings/domains/primary",
            post(domains::make_primary),
        )
        .route(
            "/admin/settings/domains/remove",
            post(domains::remove_domain),
        )
}
