//! `/admin/api/v1/openapi.json`: the OpenAPI document, generated from the handlers' and
//! types' annotations so it cannot drift from the code.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{articles, collections, inventory, pages, products};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Storefront Admin API",
        version = "v1",
        description = "A store's catalog and content as JSON, in the shapes and field names of Shopify's \
                       Admin REST API. Every path also answers with a `.json` suffix \
                       (`/admin/api/v1/products.json`). Authenticate with a token created in \
                       the admin (Settings → API tokens) or with `storefront token create`, \
                       sent as `Authorization: Bearer <token>` or `X-Shopify-Access-Token`. \
                       Errors are `{\"error\": {code, message, fields, request_id}, \"errors\": ...}`."
    ),
    paths(
        products::list_products,
        products::count_products,
        products::show_product,
        products::create_product,
        products::update_product,
        products::delete_product,
        inventory::set_inventory_level,
        inventory::list_inventory_levels,
        pages::list_pages,
        pages::count_pages,
        pages::show_page,
        pages::create_page,
        pages::update_page,
        pages::delete_page,
        articles::list_blogs,
        articles::list_articles,
        articles::show_article,
        articles::create_article,
        articles::update_article,
        articles::delete_article,
        collections::list_custom_collections,
        collections::list_smart_collections,
        collections::show_custom_collection,
        collections::show_smart_collection,
        collections::show_collection,
    ),
    components(schemas(
        products::ProductEnvelope,
        products::ProductList,
        products::ProductCount,
        products::ProductJson,
        products::VariantJson,
        products::OptionJson,
        products::ImageJson,
        products::ProductRequest,
        products::ProductFields,
        products::VariantFields,
        products::OptionInput,
        products::TagsInput,
        products::Decimal,
        inventory::SetInventoryLevel,
        inventory::InventoryLevel,
        inventory::InventoryLevelEnvelope,
        inventory::InventoryLevelList,
        pages::PageJson,
        pages::PageEnvelope,
        pages::PageList,
        pages::PageCount,
        pages::PageRequest,
        pages::PageFields,
        articles::BlogJson,
        articles::BlogList,
        articles::ArticleImage,
        articles::ArticleJson,
        articles::ArticleEnvelope,
        articles::ArticleList,
        articles::ArticleRequest,
        articles::ArticleFields,
        collections::RuleJson,
        collections::CollectionJson,
        collections::CustomCollectionList,
        collections::SmartCollectionList,
        collections::CustomCollectionEnvelope,
        collections::SmartCollectionEnvelope,
        collections::CollectionEnvelope,
    )),
    modifiers(&TokenSchemes),
    tags(
        (name = "products", description = "Products with their variants, options and images"),
        (name = "inventory", description = "Stock levels (one location per store)"),
        (name = "collections", description = "Manual (custom) and automatic (smart) collections"),
        (name = "pages", description = "Content pages (About, FAQ, ...)"),
        (name = "articles", description = "Blogs and their articles"),
    )
)]
struct ApiDoc;

/// The two ways to present a token.
struct TokenSchemes;

impl Modify for TokenSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "shopify_access_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Shopify-Access-Token"))),
        );
    }
}

/// The document, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"the OpenAPI document failed: {e}\"}}"))
});

/// `GET /admin/api/v1/openapi.json`. Public: it describes the API, not a store's data.
pub async fn serve_openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_resource_path() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        for path in [
            "/admin/api/v1/products",
            "/admin/api/v1/products/{id}",
            "/admin/api/v1/products/count",
            "/admin/api/v1/inventory_levels/set",
            "/admin/api/v1/inventory_levels",
            "/admin/api/v1/pages",
            "/admin/api/v1/pages/{id}",
            "/admin/api/v1/blogs/{blog_id}/articles/{id}",
            "/admin/api/v1/custom_collections",
            "/admin/api/v1/smart_collections/{id}",
            "/admin/api/v1/collections/{id}",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
    }
}
