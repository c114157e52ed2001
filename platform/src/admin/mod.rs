//! The merchant admin on a store's own host under `/admin`.

mod account;
mod audit;
mod blog;
mod chrome;
mod collections;
mod customers;
mod dashboard;
mod discounts;
mod domains;
mod enquiries;
mod form;
mod gateways;
mod images;
mod import_export;
mod inventory;
mod menus;
mod orders;
mod pages;
mod password;
mod products;
mod reports;
mod session;
mod settings;
mod shipping;
mod staff;
mod synonyms;
mod taxes;
mod theme;
mod tokens;

use axum::extract::DefaultBodyLimit;

use crate::routing::{Routes, get, post};

pub use account::{queue_verification_email, verify_email};
pub use session::LOGIN_LINK_TTL;

/// Admin routes (the JSON Admin API lives under `/admin/api/`).
pub fn router() -> Routes {
    Routes::new()
        .merge(import_export::router())
        .merge(orders::router())
        .merge(customers::router())
        .merge(reports::router())
        .merge(shipping::router())
        .merge(taxes::router())
        .merge(discounts::router())
        .merge(gateways::router())
        .route("/admin", get(dashboard::show_dashboard))
        .route(
            "/admin/login",
            get(session::show_login).post(session::create_session),
        )
        .route("/admin/login/link", post(session::send_sign_in_link))
        .route(
            "/admin/login/link/{token}",
            get(session::show_sign_in_link).post(session::use_sign_in_link),
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
        .route("/admin/theme", get(theme::list_templates))
        .route(
            "/admin/theme/edit",
            get(theme::edit_template).post(theme::save_template),
        )
        .route("/admin/theme/reset", post(theme::reset_template))
        .route(
            "/admin/settings",
            get(settings::show_settings).post(settings::update_settings),
        )
        .route(
            "/admin/settings/logo",
            post(settings::upload_logo).layer(DefaultBodyLimit::disable()),
        )
        .route("/admin/settings/logo/delete", post(settings::delete_logo))
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
        .route(
            "/admin/search/synonyms",
            get(synonyms::show_synonyms).post(synonyms::add_synonyms),
        )
        .route(
            "/admin/search/synonyms/{id}/delete",
            post(synonyms::delete_synonyms),
        )
        .route("/admin/enquiries", get(enquiries::list_enquiries))
        .route(
            "/admin/enquiries/{id}/handled",
            post(enquiries::mark_handled),
        )
        .route(
            "/admin/pages",
            get(pages::list_pages).post(pages::create_page),
        )
        .route("/admin/pages/new", get(pages::new_page))
        .route(
            "/admin/pages/{id}",
            get(pages::edit_page).post(pages::update_page),
        )
        .route("/admin/pages/{id}/delete", post(pages::delete_page))
        .route(
            "/admin/blogs/{blog}/articles",
            get(blog::list_articles).post(blog::create_article),
        )
        .route("/admin/blogs/{blog}/articles/new", get(blog::new_article))
        .route(
            "/admin/blogs/{blog}/articles/{id}",
            get(blog::edit_article).post(blog::update_article),
        )
        .route(
            "/admin/blogs/{blog}/articles/{id}/delete",
            post(blog::delete_article),
        )
        .route(
            "/admin/menus",
            get(menus::list_menus).post(menus::create_menu),
        )
        .route("/admin/menus/new", get(menus::new_menu))
        .route(
            "/admin/menus/{id}",
            get(menus::edit_menu).post(menus::update_menu),
        )
        .route("/admin/menus/{id}/delete", post(menus::delete_menu))
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
