//! The storefront page cache through HTTP: pages are stored per store, address and cart
//! count, and a committed change to anything a page shows (by any writer) is on the next
//! page; one shopper's cart count never shows on another's page, nor one store's page on
//! another's.

use std::time::Duration;

use platform::tenancy::Tenant;
use storefront_tests::TestApp;
use tenant_store::orders;
use uuid::Uuid;

use crate::fixtures::{order, product};

fn host(sub: &str) -> String {
    TestApp::store_host(sub)
}

async fn app_with_page_cache() -> TestApp {
    let app = TestApp::spawn_with(|s| s.page_cache_mb = 16).await;
    for _ in 0..500 {
        if app.state.pages.is_listening() {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the page cache never started following changes");
}

/// Runs `sql` in the store's schema, and waits until this node has heard of the change.
async fn change(app: &TestApp, t: &Tenant, sql: &str) {
    let before = app.state.pages.epoch(t.schema.as_str());
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    for _ in 0..500 {
        if app.state.pages.epoch(t.schema.as_str()) != before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no change announced for {sql}");
}

/// Waits until this node has heard of a change to the store (after `before`).
async fn announced(app: &TestApp, t: &Tenant, before: u64) {
    for _ in 0..500 {
        if app.state.pages.epoch(t.schema.as_str()) != before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no change announced for {}", t.schema.as_str());
}

/// Waits until this node has heard of every change committed so far, so that a page
/// stored from now on is not orphaned by a late announcement of the test's own setup.
/// Announcements arrive in commit order: once a marker sent now has arrived, so has
/// everything before it.
async fn settled(app: &TestApp) {
    let marker = format!("settled_{}", Uuid::new_v4().simple());
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind("storefront_pages")
        .bind(&marker)
        .execute(&app.pool)
        .await
        .unwrap();
    for _ in 0..500 {
        if app.state.pages.epoch(&marker) != 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the marker announcement never arrived");
}

/// Places and pays an order of one unit, as checkout does.
async fn sell_one(app: &TestApp, t: &Tenant, variant_id: Uuid) {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let key = Uuid::new_v4().to_string();
    let order = orders::place_order(&mut tx, &order(&[(variant_id, 1)], &key))
        .await
        .unwrap();
    orders::mark_paid(&mut tx, order.id, "pay_1", order.total_minor)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Runs `sql` in the store's schema with triggers off: a change nobody announces, so a page
/// that does not show it came from the cache.
async fn change_silently(app: &TestApp, t: &Tenant, sql: &str) {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn pages_come_from_the_cache_until_something_they_show_changes() {
    let app = app_with_page_cache().await;
    let t = app.create_tenant("alpha", "Alpha Goods").await;
    product(&app, &t, "Red Mug", 1200, 3).await;
    settled(&app).await;

    let (status, page) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert_eq!(status, 200);
    assert!(page.contains("<h1>Red Mug</h1>"));
    assert!(!app.state.pages.is_empty().await, "the page was stored");

    change_silently(&app, &t, "UPDATE products SET title = 'Blue Mug'").await;
    let (_, page) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert!(
        page.contains("<h1>Red Mug</h1>"),
        "an unannounced change is not seen: the page came from the cache"
    );

    // Stock taken (as a checkout does) is announced: the page is rendered afresh.
    change(&app, &t, "UPDATE variants SET inventory_quantity = 0").await;
    let (_, page) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert!(
        page.contains("<h1>Blue Mug</h1>"),
        "rendered from the database"
    );
    assert!(page.contains("Sold out"), "{page}");

    // Validators still work on stored pages.
    let res = app.get(&host("alpha"), "/products/red-mug").await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .get_with(
            &host("alpha"),
            "/products/red-mug",
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status(), 304);

    // Unpublished: gone at once, from the product page and the home page.
    let (_, home) = app.get_text(&host("alpha"), "/").await;
    assert!(home.contains("Blue Mug"));
    change(&app, &t, "UPDATE products SET status = 'draft'").await;
    let (status, _) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert_eq!(status, 404);
    let (_, home) = app.get_text(&host("alpha"), "/").await;
    assert!(!home.contains("Blue Mug"));

    // Settings (the store's name in every header) too.
    change(&app, &t, "UPDATE settings SET name = 'Alpha Renamed'").await;
    let (_, home) = app.get_text(&host("alpha"), "/").await;
    assert!(home.contains("Alpha Renamed"), "{home}");
}

#[tokio::test]
async fn sales_leave_stored_pages_alone_until_the_stock_they_tell_changes() {
    let app = app_with_page_cache().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let bravo = app.create_tenant("bravo", "Bravo Wares").await;
    let mug = product(&app, &alpha, "Red Mug", 1200, 7).await;
    product(&app, &bravo, "Mug", 900, 3).await;
    settled(&app).await;
    let (_, page) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert!(page.contains("In stock"), "{page}");

    // Two sales (7 → 5 left would tell; 7 → 6 doesn't): an order, its lines, the stock
    // taken, the units counted as sold. Then a change in another store: notifications
    // arrive in commit order, so once it is heard, one of the sale would have been too.
    let before = app.state.pages.epoch(alpha.schema.as_str());
    sell_one(&app, &alpha, mug.variant).await;
    change(&app, &bravo, "UPDATE products SET title = 'Bravo Mug'").await;
    assert_eq!(
        app.state.pages.epoch(alpha.schema.as_str()),
        before,
        "a sale that leaves more than five on the shelf drops no page"
    );
    change_silently(&app, &alpha, "UPDATE products SET title = 'Blue Mug'").await;
    let (_, page) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert!(page.contains("<h1>Red Mug</h1>"), "served from the cache");
    assert!(page.contains("In stock"));

    // The next sale leaves five: the page tells "Only 5 left", rendered afresh.
    sell_one(&app, &alpha, mug.variant).await;
    announced(&app, &alpha, before).await;
    let (_, page) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert!(
        page.contains("<h1>Blue Mug</h1>"),
        "rendered from the database"
    );
    assert!(page.contains("Only 5 left"), "{page}");
    assert!(
        page.contains(r#"max="5""#),
        "the quantity field offers what is left"
    );
}

#[tokio::test]
async fn every_shopper_sees_their_own_cart_count_on_stored_pages() {
    let app = app_with_page_cache().await;
    let t = app.create_tenant("alpha", "Alpha Goods").await;
    product(&app, &t, "Red Mug", 1200, 3).await;
    settled(&app).await;
    let count = |page: &str| {
        page.split("data-cart-count")
            .nth(1)
            .and_then(|rest| rest.split('>').nth(1))
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_default()
            .to_owned()
    };

    let (_, anonymous) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert_eq!(count(&anonymous), "0");

    let mut shopper = app.browser(&host("alpha"));
    shopper
        .post_form("/cart/add", &[("product", "red-mug"), ("quantity", "2")])
        .await;
    let page = shopper.get("/products/red-mug").await;
    assert_eq!(count(&page.body), "2", "the shopper's own count");
    let page = shopper.get("/").await;
    assert_eq!(count(&page.body), "2");

    let (_, anonymous) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert_eq!(
        count(&anonymous),
        "0",
        "the shopper's cart is not everyone's"
    );
    let (_, anonymous) = app.get_text(&host("alpha"), "/").await;
    assert_eq!(count(&anonymous), "0");

    // Pages are stored per cart count: the shopper's page came from the cache too...
    change_silently(&app, &t, "UPDATE products SET title = 'Blue Mug'").await;
    let page = shopper.get("/products/red-mug").await;
    assert!(
        page.body.contains("<h1>Red Mug</h1>"),
        "stored under count 2"
    );
    assert_eq!(count(&page.body), "2");
    // ... and a cart that changes is another page, rendered with the new count.
    shopper
        .post_form("/cart/add", &[("product", "red-mug"), ("quantity", "1")])
        .await;
    let page = shopper.get("/products/red-mug").await;
    assert_eq!(count(&page.body), "3");
    assert!(page.body.contains("<h1>Blue Mug</h1>"), "rendered afresh");
    // Another shopper's count is theirs.
    let mut other = app.browser(&host("alpha"));
    other
        .post_form("/cart/add", &[("product", "red-mug"), ("quantity", "1")])
        .await;
    let page = other.get("/products/red-mug").await;
    assert_eq!(count(&page.body), "1");
    let (_, anonymous) = app.get_text(&host("alpha"), "/products/red-mug").await;
    assert!(anonymous.contains("<h1>Red Mug</h1>") && count(&anonymous) == "0");
}

#[tokio::test]
async fn a_shoppers_cart_page_is_kept_for_their_next_look_and_never_outlives_what_it_shows() {
    let app = app_with_page_cache().await;
    let t = app.create_tenant("alpha", "Alpha Goods").await;
    product(&app, &t, "Red Mug", 1200, 3).await;
    settled(&app).await;
    let mut shopper = app.browser(&host("alpha"));
    shopper
        .post_form("/cart/add", &[("product", "red-mug"), ("quantity", "2")])
        .await;

    let stored = app.state.pages.len().await;
    let first = shopper.get("/cart").await;
    assert_eq!(first.status, 200);
    assert!(first.body.contains("Red Mug"), "{}", first.body);
    assert_eq!(app.state.pages.len().await, stored + 1, "the page was kept");
    let again = shopper.get("/cart").await;
    assert_eq!(again.body, first.body);
    assert_eq!(app.state.pages.len().await, stored + 1, "and shown again");

    // Whatever the cart shows is read on every look: a change, announced or not, is on
    // the next one.
    change_silently(&app, &t, "UPDATE products SET title = 'Blue Mug'").await;
    let page = shopper.get("/cart").await;
    assert!(
        page.body.contains("Blue Mug") && !page.body.contains("Red Mug"),
        "{}",
        page.body
    );
    change_silently(&app, &t, "UPDATE variants SET price_minor = 1500").await;
    let page = shopper.get("/cart").await;
    assert!(
        page.body.contains("The price of Blue Mug changed"),
        "{}",
        page.body
    );
    let page = shopper.get("/cart").await;
    assert!(!page.body.contains("changed from"), "a notice shows once");
    change_silently(&app, &t, "UPDATE variants SET inventory_quantity = 1").await;
    let page = shopper.get("/cart").await;
    assert!(
        page.body.contains("Only 1 of Blue Mug left in stock"),
        "{}",
        page.body
    );
    let page = shopper.get("/cart").await;
    assert!(page.body.contains(r#"value="1""#) && !page.body.contains("left in stock"));
    change(&app, &t, "UPDATE settings SET name = 'Alpha Renamed'").await;
    let page = shopper.get("/cart").await;
    assert!(page.body.contains("Alpha Renamed"), "{}", page.body);

    // Another shopper's cart, and another store's, are their own.
    let mut other = app.browser(&host("alpha"));
    let page = other.get("/cart").await;
    assert!(page.body.contains("Your cart is empty"), "{}", page.body);
    let bravo = app.create_tenant("bravo", "Bravo Supplies").await;
    product(&app, &bravo, "Red Mug", 900, 5).await;
    change_silently(&app, &bravo, "UPDATE products SET title = 'Bravo Mug'").await;
    settled(&app).await;
    let mut elsewhere = app.browser(&host("bravo"));
    elsewhere
        .post_form("/cart/add", &[("product", "red-mug"), ("quantity", "1")])
        .await;
    let page = elsewhere.get("/cart").await;
    assert!(
        page.body.contains("Bravo Mug") && !page.body.contains("Blue Mug"),
        "{}",
        page.body
    );
    let page = shopper.get("/cart").await;
    assert!(page.body.contains("Blue Mug") && !page.body.contains("Bravo Mug"));
}

#[tokio::test]
async fn stores_never_share_cached_pages() {
    let app = app_with_page_cache().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let bravo = app.create_tenant("bravo", "Bravo Wares").await;
    product(&app, &alpha, "Mug", 1200, 3).await;
    product(&app, &bravo, "Mug", 900, 3).await;
    settled(&app).await;
    change(&app, &bravo, "UPDATE products SET body_html = 'Bravo only'").await;

    for _ in 0..2 {
        let (_, a) = app.get_text(&host("alpha"), "/products/mug").await;
        let (_, b) = app.get_text(&host("bravo"), "/products/mug").await;
        assert!(a.contains("$12.00") && !a.contains("$9.00") && !a.contains("Bravo only"));
        assert!(b.contains("$9.00") && !b.contains("$12.00") && b.contains("Bravo only"));
        let (_, a) = app.get_text(&host("alpha"), "/").await;
        let (_, b) = app.get_text(&host("bravo"), "/").await;
        assert!(a.contains("Alpha Goods") && !a.contains("Bravo Wares"));
        assert!(b.contains("Bravo Wares") && !b.contains("Alpha Goods"));
    }

    // A change in one store leaves the other's pages where they are.
    let before = app.state.pages.epoch(alpha.schema.as_str());
    change(&app, &bravo, "UPDATE products SET title = 'Bravo Mug'").await;
    assert_eq!(app.state.pages.epoch(alpha.schema.as_str()), before);
}

/// Tables pages never read: writing them leaves every cached page valid.
const NOT_ON_PAGES: &[&str] = &[
    "schema_migrations",
    "outbox",
    "inventory_adjustments",
    "audit_log",
    "import_jobs",
    "carts",
    "cart_lines",
    "enquiries",
    "customers",
    "customer_addresses",
    "search_consumers",
    "shipping_rates",
    "tax_rates",
    "discount_codes",
    "order_events",
    "fulfillments",
    "stock_reservations",
    "payment_gateways",
    "webhook_inbox",
    "store_credit_ledger",
];

/// Tables pages read only for sales figures (the "best selling" order, products bought
/// together): they announce nothing, so every order doesn't drop a store's pages, and
/// what they feed may lag by `PAGE_CACHE_SECS`.
const SALES_FIGURES: &[&str] = &["orders", "order_lines"];

#[tokio::test]
async fn every_store_table_announces_its_changes_or_is_never_on_a_page() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha Goods").await;
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, EXISTS (SELECT 1 FROM pg_trigger g \
                 WHERE g.tgrelid = c.oid AND g.tgname = 'storefront_pages_changed') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .bind(t.schema.as_str())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(rows.len() > 20, "{rows:?}");
    let unclassified: Vec<&str> = rows
        .iter()
        .filter(|(name, announces)| {
            !announces
                && !NOT_ON_PAGES.contains(&name.as_str())
                && !SALES_FIGURES.contains(&name.as_str())
        })
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        unclassified.is_empty(),
        "tables without the storefront_pages_changed trigger that pages may read: {unclassified:?}"
    );
    let announcing: Vec<&str> = rows
        .iter()
        .filter(|(_, announces)| *announces)
        .map(|(name, _)| name.as_str())
        .collect();
    for table in [
        "products",
        "variants",
        "settings",
        "menus",
        "theme_templates",
        "search_synonyms",
    ] {
        assert!(announcing.contains(&table), "{table}: {announcing:?}");
    }
}
