//! The catalog domain in tenant-store, through real tenant transactions.

use platform::tenancy::Tenant;
use storefront_tests::TestApp;
use tenant_store::StoreError;
use tenant_store::catalog::{
    self, Found, ProductFilter, ProductInput, Status, VariantInput, inventory,
};

fn shirt() -> ProductInput {
    let variant = |size: &str, colour: &str, sku: &str, price: i64, qty: i32| VariantInput {
        option_values: vec![size.into(), colour.into()],
        sku: sku.into(),
        price_minor: price,
        track_inventory: true,
        inventory_quantity: qty,
        ..VariantInput::default()
    };
    ProductInput {
        title: "Blue Cotton Shirt".into(),
        body: "**Soft** cotton <script>alert(1)</script>".into(),
        body_format: catalog::BodyFormat::Markdown,
        status: Some(Status::Active),
        vendor: "Acme".into(),
        product_type: "Shirts".into(),
        tags: vec![
            "summer".into(),
            " Summer ".into(),
            "cotton".into(),
            "".into(),
        ],
        options: vec!["Size".into(), "Colour".into()],
        variants: vec![
            variant("S", "Blue", "SHIRT-S-BLU", 2500, 3),
            variant("M", "Blue", "SHIRT-M-BLU", 2500, 10),
            variant("L", "Blue", "", 2700, 0),
        ],
        ..ProductInput::default()
    }
}

async fn begin(app: &TestApp, t: &Tenant) -> tenant_store::TenantTx {
    tenant_store::begin(&app.pool, &t.schema).await.unwrap()
}

fn fields(e: StoreError) -> Vec<(String, String)> {
    match e {
        StoreError::Fields(f) => f,
        StoreError::Invalid { field, message } => vec![(field.into(), message)],
        other => panic!("expected field errors, got {other}"),
    }
}

#[tokio::test]
async fn a_product_is_created_with_options_variants_stock_history_and_an_event() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let mut tx = begin(&app, &t).await;
    let p = catalog::create_product(&mut tx, shirt(), "owner@alpha", None)
        .await
        .unwrap();
    assert_eq!(p.handle, "blue-cotton-shirt");
    assert_eq!(p.body_html, "<p><strong>Soft</strong> cotton </p>\n");
    assert_eq!(p.tags, ["summer", "cotton"]);
    assert_eq!(p.options, ["Size", "Colour"]);
    assert_eq!(p.variants.len(), 3);
    assert_eq!(p.variants[1].title(), "M / Blue");
    assert_eq!(p.variants[1].inventory_quantity, 10);
    assert!(!p.variants[2].available());
    assert!(p.published_at.is_some());

    let history = inventory::history(&mut tx, p.variants[1].id, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].delta, history[0].reason.as_str()),
        (10, "initial stock")
    );
    let topics: Vec<String> = sqlx::query_scalar("SELECT topic FROM outbox ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(topics.iter().filter(|t| *t == "product.created").count(), 1);
    assert_eq!(
        topics.iter().filter(|t| *t == "inventory.changed").count(),
        2
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn handles_are_derived_unique_and_old_ones_redirect() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let mut tx = begin(&app, &t).await;
    let first = catalog::create_product(&mut tx, shirt(), "a", None)
        .await
        .unwrap();
    let mut again = shirt();
    for v in &mut again.variants {
        v.sku.clear();
    }
    let second = catalog::create_product(&mut tx, again.clone(), "a", None)
        .await
        .unwrap();
    assert_eq!(second.handle, "blue-cotton-shirt-2");
    tx.commit().await.unwrap();

    // An explicit handle that is taken is a field error (and the transaction is spent).
    let mut tx = begin(&app, &t).await;
    again.handle = Some("blue-cotton-shirt".into());
    let err = catalog::create_product(&mut tx, again.clone(), "a", None)
        .await
        .unwrap_err();
    assert_eq!(
        fields(err),
        [(
            "handle".to_owned(),
            "is already used by another product".to_owned()
        )]
    );
    drop(tx);

    // Renaming the handle keeps the old one as a redirect.
    let mut tx = begin(&app, &t).await;
    let mut edit = shirt();
    edit.handle = Some("classic-shirt".into());
    for (v, old) in edit.variants.iter_mut().zip(&first.variants) {
        v.id = Some(old.id);
    }
    let renamed = catalog::update_product(&mut tx, first.id, edit, "a")
        .await
        .unwrap();
    assert_eq!(renamed.handle, "classic-shirt");
    match catalog::find_by_handle(&mut tx, "blue-cotton-shirt")
        .await
        .unwrap()
    {
        Found::MovedTo(h) => assert_eq!(h, "classic-shirt"),
        Found::Product(_) => panic!("the old handle redirects"),
    }
    assert!(matches!(
        catalog::find_by_handle(&mut tx, "classic-shirt")
            .await
            .unwrap(),
        Found::Product(_)
    ));
    assert!(matches!(
        catalog::find_by_handle(&mut tx, "nothing").await,
        Err(StoreError::NotFound)
    ));
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn bad_input_names_each_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let mut tx = begin(&app, &t).await;
    let mut bad = shirt();
    bad.title = "  ".into();
    bad.handle = Some("Bad Handle!".into());
    bad.variants[0].price_minor = -1;
    bad.variants[1].option_values = vec!["S".into(), "Blue".into()];
    bad.variants[2].option_values = vec!["XL".into()];
    let errors = fields(
        catalog::create_product(&mut tx, bad, "a", None)
            .await
            .unwrap_err(),
    );
    let names: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        names,
        [
            "title",
            "handle",
            "variants[0].price",
            "variants[1].options",
            "variants[2].options"
        ]
    );

    let mut four = shirt();
    four.options = vec!["A".into(), "B".into(), "C".into(), "D".into()];
    assert!(
        fields(
            catalog::create_product(&mut tx, four, "a", None)
                .await
                .unwrap_err()
        )
        .iter()
        .any(|(f, m)| f == "options" && m.contains("at most 3"))
    );
    assert_eq!(catalog::count_products(&mut tx).await.unwrap(), 0);

    // A SKU used by another product is named by its variant.
    catalog::create_product(&mut tx, shirt(), "a", None)
        .await
        .unwrap();
    let mut clash = shirt();
    clash.title = "Other".into();
    clash.variants[0].sku = "fresh".into();
    let errors = fields(
        catalog::create_product(&mut tx, clash, "a", None)
            .await
            .unwrap_err(),
    );
    assert_eq!(errors[0].0, "variants[1].sku");
}

#[tokio::test]
async fn updating_variants_keeps_ids_records_stock_changes_and_allows_swaps() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let mut tx = begin(&app, &t).await;
    let p = catalog::create_product(&mut tx, shirt(), "a", None)
        .await
        .unwrap();
    let mut edit = shirt();
    // Swap S and M values, drop L, add XL.
    edit.variants = vec![
        VariantInput {
            id: Some(p.variants[0].id),
            option_values: vec!["M".into(), "Blue".into()],
            sku: "SHIRT-S-BLU".into(),
            price_minor: 2500,
            track_inventory: true,
            inventory_quantity: 7,
            ..Default::default()
        },
        VariantInput {
            id: Some(p.variants[1].id),
            option_values: vec!["S".into(), "Blue".into()],
            sku: "SHIRT-M-BLU".into(),
            price_minor: 2500,
            track_inventory: true,
            inventory_quantity: 10,
            ..Default::default()
        },
        VariantInput {
            option_values: vec!["XL".into(), "Blue".into()],
            sku: "SHIRT-XL".into(),
            price_minor: 2900,
            track_inventory: true,
            inventory_quantity: 2,
            ..Default::default()
        },
    ];
    let after = catalog::update_product(&mut tx, p.id, edit, "clerk")
        .await
        .unwrap();
    assert_eq!(after.variants.len(), 3);
    assert_eq!(after.variants[0].id, p.variants[0].id);
    assert_eq!(after.variants[0].option1.as_deref(), Some("M"));
    let history = inventory::history(&mut tx, p.variants[0].id, 10)
        .await
        .unwrap();
    assert_eq!(
        (
            history[0].delta,
            history[0].quantity_after,
            history[0].actor.as_str()
        ),
        (4, 7, "clerk")
    );
    assert_eq!(
        inventory::history(&mut tx, p.variants[1].id, 10)
            .await
            .unwrap()
            .len(),
        1,
        "unchanged stock records nothing"
    );

    let mut foreign = shirt();
    foreign.variants.truncate(1);
    foreign.variants[0].id = Some(uuid::Uuid::now_v7());
    let errors = fields(
        catalog::update_product(&mut tx, p.id, foreign, "a")
            .await
            .unwrap_err(),
    );
    assert_eq!(errors[0].0, "variants[0].id");
}

#[tokio::test]
async fn stock_adjustments_are_logged_and_crossing_the_threshold_raises_low_stock() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let mut tx = begin(&app, &t).await;
    let p = catalog::create_product(&mut tx, shirt(), "a", None)
        .await
        .unwrap();
    let m = p.variants[1].id; // 10 in stock, threshold 5
    assert_eq!(
        inventory::adjust(&mut tx, m, -4, "sold at market", "owner")
            .await
            .unwrap(),
        6
    );
    assert_eq!(
        inventory::set_quantity(&mut tx, m, 5, "stock count", "owner")
            .await
            .unwrap(),
        5
    );
    assert!(matches!(
        inventory::adjust(&mut tx, m, 1, " ", "owner").await,
        Err(StoreError::Invalid { .. })
    ));
    let lows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE topic = 'inventory.low'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        lows, 1,
        "only M crossed from above the threshold (S started under it)"
    );
    let low = inventory::low_stock(&mut tx, 10).await.unwrap();
    let skus: Vec<&str> = low.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(skus, ["", "SHIRT-S-BLU", "SHIRT-M-BLU"]);
}

#[tokio::test]
async fn the_list_filters_and_pages_by_keyset() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let mut tx = begin(&app, &t).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut p = shirt();
        p.title = format!("Item {i}");
        p.status = Some(if i % 2 == 0 {
            Status::Active
        } else {
            Status::Draft
        });
        for v in &mut p.variants {
            v.sku = format!("{}-{i}", v.sku);
            if v.sku.starts_with('-') {
                v.sku.clear();
            }
        }
        ids.push(
            catalog::create_product(&mut tx, p, "a", None)
                .await
                .unwrap()
                .id,
        );
    }
    let mut seen = Vec::new();
    let mut filter = ProductFilter {
        limit: 3,
        ..Default::default()
    };
    loop {
        let page = catalog::list_products(&mut tx, &filter).await.unwrap();
        seen.extend(page.products.iter().map(|p| p.id));
        match page.next {
            Some(c) => filter.after = Some(catalog::Cursor::decode(&c.encode()).unwrap()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "every product once, newest first");

    let active = catalog::list_products(
        &mut tx,
        &ProductFilter {
            status: Some(Status::Active),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(active.products.len(), 4);
    let by_sku = catalog::list_products(
        &mut tx,
        &ProductFilter {
            query: Some("shirt-m-blu-3".into()),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(by_sku.products.len(), 1);
    assert_eq!(by_sku.products[0].title, "Item 3");
    assert_eq!(by_sku.products[0].inventory, 13);
    assert_eq!(by_sku.products[0].price_min_minor, Some(2500));
    assert!(catalog::Cursor::decode("garbage").is_err());

    assert_eq!(
        catalog::set_status(&mut tx, &ids, Status::Archived)
            .await
            .unwrap(),
        7
    );
    catalog::delete_product(&mut tx, ids[0]).await.unwrap();
    assert_eq!(catalog::count_products(&mut tx).await.unwrap(), 6);
}

#[tokio::test]
async fn the_plan_limit_holds_under_concurrent_creation() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let attempts = (0..6).map(|i| {
        let (pool, schema) = (app.pool.clone(), t.schema.clone());
        async move {
            let mut tx = tenant_store::begin(&pool, &schema).await.unwrap();
            let mut p = shirt();
            p.title = format!("P{i}");
            for v in &mut p.variants {
                v.sku.clear();
            }
            let r = catalog::create_product(&mut tx, p, "a", Some(4)).await;
            if r.is_ok() {
                tx.commit().await.unwrap();
            }
            r.map(|_| ())
        }
    });
    let results = futures::future::join_all(attempts).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::LimitReached { limit: 4, .. })))
        .count();
    assert_eq!(
        (results.iter().filter(|r| r.is_ok()).count(), refused),
        (4, 2)
    );
}

#[tokio::test]
async fn another_tenant_never_sees_a_product() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let bravo = app.create_tenant("bravo", "Bravo").await;
    let mut a = begin(&app, &alpha).await;
    let p = catalog::create_product(&mut a, shirt(), "a", None)
        .await
        .unwrap();
    a.commit().await.unwrap();
    let mut b = begin(&app, &bravo).await;
    assert!(matches!(
        catalog::get_product(&mut b, p.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        catalog::find_by_handle(&mut b, &p.handle).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        catalog::list_products(
            &mut b,
            &ProductFilter {
                limit: 50,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .products
        .is_empty()
    );
    assert!(matches!(
        inventory::adjust(&mut b, p.variants[0].id, 1, "x", "b").await,
        Err(StoreError::NotFound)
    ));
}

fn collection(
    title: &str,
    kind: catalog::collections::Kind,
) -> catalog::collections::CollectionInput {
    catalog::collections::CollectionInput {
        title: title.into(),
        handle: None,
        body_html: "<p>Nice</p><script>x</script>".into(),
        kind,
        sort_order: "manual".into(),
        published: true,
        disjunctive: false,
        rules: vec![],
        product_handles: vec![],
    }
}

fn rule(field: &str, relation: &str, value: &str) -> catalog::collections::Rule {
    catalog::collections::Rule {
        field: field.into(),
        relation: relation.into(),
        value: value.into(),
    }
}

#[tokio::test]
async fn manual_collections_keep_the_chosen_order_and_refuse_unknown_handles() {
    use catalog::collections::{self, Kind};
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let mut tx = begin(&app, &t).await;
    for title in ["Apple", "Banana", "Cherry"] {
        let mut p = shirt();
        p.title = title.into();
        p.variants.truncate(1);
        p.variants[0].sku.clear();
        p.options.truncate(2);
        catalog::create_product(&mut tx, p, "a", None)
            .await
            .unwrap();
    }
    let mut input = collection("Fruit Picks", Kind::Manual);
    input.product_handles = vec!["cherry".into(), "apple".into(), "cherry".into()];
    let c = collections::create_collection(&mut tx, input.clone())
        .await
        .unwrap();
    assert_eq!(c.handle, "fruit-picks");
    assert_eq!(c.body_html, "<p>Nice</p>");
    assert_eq!(c.product_handles, ["cherry", "apple"]);
    let in_it = catalog::list_products(
        &mut tx,
        &ProductFilter {
            collection_id: Some(c.id),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(in_it.products.len(), 2);
    tx.commit().await.unwrap();

    let mut tx = begin(&app, &t).await;
    input.product_handles = vec!["banana".into(), "durian".into()];
    let errors = fields(
        collections::update_collection(&mut tx, c.id, input)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        errors,
        [(
            "products[1]".to_owned(),
            "no product has the handle “durian”".to_owned()
        )]
    );
}

#[tokio::test]
async fn automatic_collections_follow_their_rules_as_products_change() {
    use catalog::collections::{self, Kind};
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let mut tx = begin(&app, &t).await;
    let mut cheap = shirt();
    cheap.title = "Cheap Tee".into();
    for v in &mut cheap.variants {
        v.sku.clear();
        v.price_minor = 900;
    }
    let cheap = catalog::create_product(&mut tx, cheap, "a", None)
        .await
        .unwrap();
    let dear = catalog::create_product(&mut tx, shirt(), "a", None)
        .await
        .unwrap(); // 2500, tag summer

    let mut summer = collection("Summer", Kind::Automatic);
    assert!(
        fields(
            collections::create_collection(&mut tx, summer.clone())
                .await
                .unwrap_err()
        )
        .iter()
        .any(|(f, _)| f == "rules")
    );
    summer.rules = vec![
        rule("tag", "equals", "SUMMER"),
        rule("price", "greater_than", "1000"),
    ];
    let c = collections::create_collection(&mut tx, summer.clone())
        .await
        .unwrap();
    assert_eq!(
        c.product_handles,
        [dear.handle.as_str()],
        "both rules must hold"
    );

    summer.disjunctive = true;
    let c = collections::update_collection(&mut tx, c.id, summer)
        .await
        .unwrap();
    assert_eq!(c.product_handles.len(), 2, "either rule is enough");

    // A product edited out of the rules leaves the collection.
    let mut edit = shirt();
    edit.tags = vec!["winter".into()];
    edit.title = "Cheap Tee".into();
    for (v, old) in edit.variants.iter_mut().zip(&cheap.variants) {
        v.id = Some(old.id);
        v.sku.clear();
        v.price_minor = 900;
    }
    catalog::update_product(&mut tx, cheap.id, edit, "a")
        .await
        .unwrap();
    let c = collections::get_collection(&mut tx, c.id).await.unwrap();
    assert_eq!(c.product_handles, [dear.handle.as_str()]);

    let bad = collections::CollectionInput {
        rules: vec![
            rule("colour", "equals", "x"),
            rule("price", "contains", "1"),
            rule("price", "less_than", "cheap"),
        ],
        ..collection("Bad", Kind::Automatic)
    };
    let names: Vec<String> = fields(
        collections::create_collection(&mut tx, bad)
            .await
            .unwrap_err(),
    )
    .into_iter()
    .map(|(f, _)| f)
    .collect();
    assert_eq!(
        names,
        ["rules[0].field", "rules[1].relation", "rules[2].value"]
    );
}
