//! Catalog and order fixtures the order, checkout, page cache and report tests share.

use std::time::Duration;

use platform::tenancy::Tenant;
use storefront_tests::TestApp;
use tenant_store::catalog::{self, ProductInput, Status, VariantInput};
use tenant_store::customers::Address;
use tenant_store::orders::{Items, LineRequest, PlaceOrder};
use uuid::Uuid;

/// A product on sale: its one variant and its handle.
pub struct Item {
    /// The variant.
    pub variant: Uuid,
    /// The product's handle (for `/cart/add` and `/products/{handle}`).
    pub handle: String,
}

/// An active product titled `title` with one tracked variant (SKU from the title, 250 g)
/// at `price` minor units with `stock` units.
pub async fn product(app: &TestApp, t: &Tenant, title: &str, price: i64, stock: i32) -> Item {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let created = catalog::create_product(
        &mut tx,
        ProductInput {
            title: title.into(),
            status: Some(Status::Active),
            variants: vec![VariantInput {
                sku: title.to_uppercase().replace(' ', "-"),
                price_minor: price,
                weight_grams: 250,
                track_inventory: true,
                inventory_quantity: stock,
                ..VariantInput::default()
            }],
            ..ProductInput::default()
        },
        "test",
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    Item {
        variant: created.variants[0].id,
        handle: created.handle,
    }
}

/// A variant's stock now.
pub async fn stock(app: &TestApp, t: &Tenant, variant_id: Uuid) -> i32 {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query_scalar("SELECT inventory_quantity FROM variants WHERE id = $1")
        .bind(variant_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

/// An order of `lines` (variant, quantity) by ada@example.com, shipped to California
/// without a shipping rate, paid in USD, with idempotency key `key`.
pub fn order(lines: &[(Uuid, i32)], key: &str) -> PlaceOrder {
    PlaceOrder {
        items: Items::Lines(
            lines
                .iter()
                .map(|(variant_id, quantity)| LineRequest {
                    variant_id: *variant_id,
                    quantity: *quantity,
                })
                .collect(),
        ),
        email: "ada@example.com".into(),
        customer_id: None,
        shipping_address: Address {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            address1: "1 Analytical Way".into(),
            city: "London".into(),
            province: "CA".into(),
            zip: "N1".into(),
            country: "US".into(),
            ..Address::default()
        },
        billing_address: None,
        shipping_rate_id: None,
        discount_code: None,
        idempotency_key: key.into(),
        currency: "USD".into(),
        reservation_ttl: Duration::from_secs(900),
    }
}
