//! `/admin/api/v1/openapi.json`: the OpenAPI document, generated from the handlers' and
//! types' annotations so it cannot drift from the code.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{articles, collections, customers, inventory, orders, pages, products};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Storefront Admin API",
        version = "v1",
        description = "A store's catalog, content, orders and customers as JSON, in the shapes and \
                       field names of Shopify's Admin REST API. Orders can be listed, read, \
                       cancelled, fulfilled and refunded; customers listed, searched and read. \
                       Every path also answers with a `.json` suffix \
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
        orders::list_orders,
        orders::count_orders,
        orders::show_order,
        orders::cancel_order,
        orders::create_fulfillment,
        orders::create_refund,
        customers::list_customers,
        customers::count_customers,
        customers::search_customers,
        customers::show_customer,
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
        orders::OrderJson,
        orders::OrderEnvelope,
        orders::OrderList,
        orders::OrderListItemJson,
        orders::OrderCount,
        orders::AddressJson,
        orders::LineItemJson,
        orders::ShippingLineJson,
        orders::DiscountCodeJson,
        orders::TaxLineJson,
        orders::OrderCustomerJson,
        customers::CustomerJson,
        customers::CustomerList,
        customers::CustomerEnvelope,
        customers::CustomerCount,
    )),
    modifiers(&TokenSchemes),
    tags(
        (name = "products", description = "Products with their variants, options and images"),
        (name = "inventory", description = "Stock levels (one location per store)"),
        (name = "collections", description = "Manual (custom) and automatic (smart) collections"),
        (name = "pages", description = "Content pages (About, FAQ, ...)"),
        (name = "articles", description = "Blogs and their articles"),
        (name = "orders", description = "Orders, and cancelling, fulfilling and refunding them"),
        (name = "customers", description = "Customers with their order count, total spent and store credit"),
    )
)]
struct ApiDoc;

/// `{"fulfillment": {...}}`: the answer of `orders/{id}/fulfillments`, which the handler
/// builds as JSON (only the document needs this type).
#[derive(ToSchema)]
pub(super) struct FulfillmentEnvelope<T> {
    /// The units shipped.
    #[expect(dead_code, reason = "never built: it only describes the answer")]
    pub fulfillment: T,
}

/// `{"refund": {...}}`: the answer of `orders/{id}/refunds` (see [`FulfillmentEnvelope`]).
#[derive(ToSchema)]
pub(super) struct RefundEnvelope<T> {
    /// The refund given.
    #[expect(dead_code, reason = "never built: it only describes the answer")]
    pub refund: T,
}

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
            "/admin/api/v1/orders",
            "/admin/api/v1/orders/{id}",
            "/admin/api/v1/orders/count",
            "/admin/api/v1/orders/{id}/cancel",
            "/admin/api/v1/orders/{id}/fulfillments",
            "/admin/api/v1/orders/{id}/refunds",
            "/admin/api/v1/customers",
            "/admin/api/v1/customers/{id}",
            "/admin/api/v1/customers/count",
            "/admin/api/v1/customers/search",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
    }

    #[test]
    fn order_actions_answer_their_envelopes() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let schemas = &doc["components"]["schemas"];
        for (path, field) in [
            ("/admin/api/v1/orders/{id}/fulfillments", "fulfillment"),
            ("/admin/api/v1/orders/{id}/refunds", "refund"),
        ] {
            let post = &doc["paths"][path]["post"];
            assert_eq!(post["tags"][0], "orders", "{path}");
            let reference =
                post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path} answers no schema"));
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(
                schemas[name]["properties"][field].is_object(),
                "{path}: {name} has no {field}"
            );
        }
        for schema in [
            "OrderEnvelope",
            "OrderList",
            "CustomerEnvelope",
            "CustomerList",
        ] {
            assert!(schemas[schema].is_object(), "{schema} missing");
        }
        let description = doc["info"]["description"].as_str().unwrap();
        assert!(description.contains("orders and customers"));
    }
}
