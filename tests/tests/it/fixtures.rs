//! Catalog fixtures the order, checkout and report tests share.

use platform::tenancy::Tenant;
use storefront_tests::TestApp;
use tenant_store::catalog::{self, ProductInput, Status, VariantInput};
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
