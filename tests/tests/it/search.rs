//! Catalog search through HTTP: typo tolerance, accents, prefixes, SKUs, facets, drafts,
//! the outbox worker keeping the index current, rebuilds, and tenant isolation.

use std::time::{Duration, Instant};

use platform::tenancy::Tenant;
use storefront_tests::TestApp;
use tenant_store::catalog::{self, ProductInput, Status, VariantInput, search_feed};

fn product(title: &str, vendor: &str, sku: &str, price: i64, stock: i32) -> ProductInput {
    ProductInput {
        title: title.into(),
        body: format!("<p>The <strong>{title}</strong>, chosen with care by {vendor}.</p>"),
        status: Some(Status::Active),
        vendor: vendor.into(),
        product_type: "Goods".into(),
        tags: vec!["featured".into()],
        variants: vec![VariantInput {
            sku: sku.into(),
            price_minor: price,
            track_inventory: true,
            inventory_quantity: stock,
            ..VariantInput::default()
        }],
        ..ProductInput::default()
    }
}

async fn create(app: &TestApp, t: &Tenant, input: ProductInput) -> catalog::Product {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let p = catalog::create_product(&mut tx, input, "test", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    p
}

fn search_path(q: &str) -> String {
    format!(
        "/search?q={}",
        url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    )
}

/// Fetches `/search?q=` until `done` holds for the page (or `within` passes); returns the
/// last page and how long it took.
async fn search_until(
    app: &TestApp,
    host: &str,
    q: &str,
    within: Duration,
    done: impl Fn(&str) -> bool,
) -> (String, Duration) {
    let started = Instant::now();
    loop {
        let (status, body) = app.get_text(host, &search_path(q)).await;
        if (status == 200 && done(&body)) || started.elapsed() > within {
            assert_eq!(status, 200, "search page failed: {body}");
            return (body, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn link(handle: &str) -> String {
    format!("href=\"/products/{handle}\"")
}

/// Product links in result order.
fn result_links(body: &str) -> Vec<String> {
    body.split("class=\"search-hit-title\" href=\"/products/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        .collect()
}

/// The count shown next to a facet link with this label.
fn facet_count(body: &str, label: &str) -> Option<i64> {
    let marker = format!(">{label}</a> <span class=\"facet-count\">(");
    let at = body.find(&marker)? + marker.len();
    body[at..].split(')').next()?.parse().ok()
}

const WAIT: Duration = Duration::from_secs(10);

async fn shop_with_catalog(app: &TestApp, sub: &str) -> (Tenant, String) {
    let t = app.create_tenant(sub, "Search Shop").await;
    let host = TestApp::store_host(sub);
    create(
        app,
        &t,
        product("Apple iPhone 15", "Apple", "IPH-15-BLK", 99_900, 3),
    )
    .await;
    create(
        app,
        &t,
        product("Café Crème Mug", "Acme", "MUG-CAFE", 1_250, 10),
    )
    .await;
    create(
        app,
        &t,
        product("Running Shoes", "Fleet", "RUN-42", 7_999, 0),
    )
    .await;
    create(app, &t, product("Blue Mug", "Acme", "MUG-BLUE", 900, 5)).await;
    let (body, _) = search_until(app, &host, "mug", WAIT, |b| result_links(b).len() == 2).await;
    assert_eq!(
        result_links(&body).len(),
        2,
        "catalog never indexed: {body}"
    );
    (t, host)
}

#[tokio::test]
async fn typos_accents_prefixes_and_skus_find_products() {
    let app = TestApp::spawn().await;
    let (_t, host) = shop_with_catalog(&app, "finder").await;

    let (_, body) = app.get_text(&host, &search_path("iphnoe")).await;
    assert_eq!(result_links(&body), ["apple-iphone-15"], "typo: {body}");
    assert!(
        body.contains("Apple <mark>iPhone</mark> 15"),
        "highlight: {body}"
    );

    let (_, body) = app.get_text(&host, &search_path("cafe creme")).await;
    assert_eq!(result_links(&body), ["cafe-creme-mug"], "accents: {body}");

    let (_, body) = app.get_text(&host, &search_path("runn")).await;
    assert_eq!(result_links(&body), ["running-shoes"], "prefix: {body}");

    let (_, body) = app.get_text(&host, &search_path("mug-blue")).await;
    assert_eq!(result_links(&body)[0], "blue-mug", "sku first: {body}");

    let (_, body) = app.get_text(&host, &search_path("bleu mog")).await;
    assert!(body.contains("No results"), "{body}");
    assert!(
        body.contains("Did you mean"),
        "a correction is offered: {body}"
    );
    assert!(body.contains(">blue mug</a>"), "{body}");

    let res = app.get(&host, "/search/suggest.json?q=iph").await;
    assert_eq!(res.status().as_u16(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["products"][0]["title"], "Apple iPhone 15");
    assert_eq!(json["products"][0]["url"], "/products/apple-iphone-15");
}

#[tokio::test]
async fn facet_counts_equal_the_database_and_filters_narrow() {
    let app = TestApp::spawn().await;
    let (t, host) = shop_with_catalog(&app, "facets").await;
    for (i, vendor) in ["Acme", "Acme", "Fleet", "Orchard"].iter().enumerate() {
        create(
            &app,
            &t,
            product(
                &format!("Stoneware Mug {i}"),
                vendor,
                "",
                1_000 + i as i64,
                i as i32,
            ),
        )
        .await;
    }
    let (body, _) = search_until(&app, &host, "mug", WAIT, |b| result_links(b).len() == 6).await;
    assert_eq!(result_links(&body).len(), 6, "{body}");

    let by_vendor: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT vendor, count(*) FROM {}.products WHERE status = 'active' AND title ILIKE '%mug%' \
         GROUP BY vendor",
        t.schema
    ))
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(by_vendor.len(), 3);
    for (vendor, count) in by_vendor {
        assert_eq!(
            facet_count(&body, &vendor),
            Some(count),
            "vendor {vendor}: {body}"
        );
    }
    let in_stock: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {0}.products p WHERE p.status = 'active' AND p.title ILIKE '%mug%' \
         AND EXISTS (SELECT 1 FROM {0}.variants v WHERE v.product_id = p.id AND v.inventory_quantity > 0)",
        t.schema
    ))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(facet_count(&body, "In stock"), Some(in_stock));

    // Facets are links: following one narrows the results.
    let (_, body) = app
        .get_text(&host, "/search?q=mug&vendor=Acme&in_stock=1")
        .await;
    let mut links = result_links(&body);
    links.sort();
    assert_eq!(
        links,
        ["blue-mug", "cafe-creme-mug", "stoneware-mug-1"],
        "{body}"
    );
    assert!(body.contains("Remove filter Acme"), "{body}");
    let (_, body) = app.get_text(&host, "/search?q=mug&sort=price-asc").await;
    assert_eq!(result_links(&body)[0], "blue-mug", "cheapest first: {body}");
    let (_, body) = app.get_text(&host, "/search?q=mug&sort=price-desc").await;
    assert_eq!(
        result_links(&body)[0],
        "cafe-creme-mug",
        "dearest first: {body}"
    );
}

#[tokio::test]
async fn drafts_never_appear_and_edits_and_deletes_follow_the_outbox_quickly() {
    let app = TestApp::spawn().await;
    let (t, host) = shop_with_catalog(&app, "live").await;
    let mut draft = product("Secret Prototype Lantern", "Acme", "PROTO-1", 5_000, 1);
    draft.status = Some(Status::Draft);
    let draft = create(&app, &t, draft).await;
    let mut archived = product("Retired Prototype Lamp", "Acme", "PROTO-2", 5_000, 1);
    archived.status = Some(Status::Archived);
    create(&app, &t, archived).await;
    let shoes = create(
        &app,
        &t,
        product("Trail Boots", "Fleet", "BOOT-1", 12_000, 2),
    )
    .await;
    search_until(&app, &host, "trail", WAIT, |b| {
        b.contains(&link("trail-boots"))
    })
    .await;
    for q in ["prototype", "lantern", "PROTO-1"] {
        let (_, body) = app.get_text(&host, &search_path(q)).await;
        assert!(
            body.contains("No results"),
            "draft or archived shown for {q}: {body}"
        );
    }
    let (_, body) = app.get_text(&host, "/search/suggest.json?q=proto").await;
    assert!(!body.contains("Prototype"), "{body}");

    // An edit is searchable within 2 seconds.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let mut input = product("Trail Boots Waterproof", "Fleet", "BOOT-1", 12_000, 2);
    input.variants[0].id = Some(shoes.variants[0].id);
    catalog::update_product(&mut tx, shoes.id, input, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (body, took) = search_until(&app, &host, "waterproof", Duration::from_secs(2), |b| {
        b.contains(&link("trail-boots"))
    })
    .await;
    assert!(
        body.contains(&link("trail-boots")),
        "edit not searchable after {took:?}"
    );
    assert!(took <= Duration::from_secs(2), "took {took:?}");

    // Publishing the draft shows it; deleting a product removes it.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    catalog::set_status(&mut tx, &[draft.id], Status::Active)
        .await
        .unwrap();
    catalog::delete_product(&mut tx, shoes.id).await.unwrap();
    tx.commit().await.unwrap();
    let (body, _) = search_until(&app, &host, "lantern", Duration::from_secs(2), |b| {
        b.contains(&link("secret-prototype-lantern"))
    })
    .await;
    assert!(body.contains(&link("secret-prototype-lantern")), "{body}");
    let (body, _) = search_until(&app, &host, "trail", Duration::from_secs(2), |b| {
        b.contains("No results")
    })
    .await;
    assert!(
        body.contains("No results"),
        "deleted product still found: {body}"
    );

    // Nothing is left behind: the lag reported on /readyz drains to zero.
    let started = Instant::now();
    let ready = loop {
        let (_, ready) = app.get_text("storefront.test", "/readyz").await;
        let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
        if ready["search"]["lag_events"] == 0 || started.elapsed() > Duration::from_secs(2) {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(ready["search"]["lag_events"], 0, "{ready}");
    assert_eq!(ready["search"]["tenants_behind"], 0, "{ready}");
}

#[tokio::test]
async fn a_rebuild_gives_the_same_results_as_incremental_updates() {
    let app = TestApp::spawn().await;
    let (t, host) = shop_with_catalog(&app, "rebuilt").await;
    // Some churn, applied incrementally.
    let gone = create(&app, &t, product("Gone Mug", "Acme", "GONE-1", 100, 1)).await;
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    catalog::delete_product(&mut tx, gone.id).await.unwrap();
    tx.commit().await.unwrap();
    create(
        &app,
        &t,
        product("Green Mug", "Orchard", "MUG-GREEN", 1_100, 0),
    )
    .await;
    // Every change applied: the new mug is there and the deleted one gone (three results
    // alone can also be the moment before the delete and the new mug arrive).
    search_until(&app, &host, "mug", WAIT, |b| {
        let links = result_links(b);
        links.iter().any(|l| l == "green-mug") && !links.iter().any(|l| l == "gone-mug")
    })
    .await;
    let queries = [
        "mug",
        "acme",
        "iphnoe",
        "sho",
        "mug&sort=price-desc",
        "&in_stock=1",
        "mug&vendor=Acme",
    ];
    let mut before = Vec::new();
    for q in queries {
        let (_, body) = app.get_text(&host, &format!("/search?q={q}")).await;
        before.push((
            result_links(&body),
            facet_count(&body, "Acme"),
            facet_count(&body, "In stock"),
        ));
    }
    let indexed = app
        .state
        .search
        .rebuild(&t.schema, |_, _| {})
        .await
        .unwrap();
    assert_eq!(indexed, 5);
    let mut after = Vec::new();
    for q in queries {
        let (_, body) = app.get_text(&host, &format!("/search?q={q}")).await;
        after.push((
            result_links(&body),
            facet_count(&body, "Acme"),
            facet_count(&body, "In stock"),
        ));
    }
    assert_eq!(before, after);
    assert_eq!(before[0].0.len(), 3);

    // Replaying changes nothing: the index is at the store's last event.
    let synced = app.state.search.sync(&t.schema).await.unwrap();
    assert_eq!((synced.applied, synced.pending), (0, 0));

    // The command line rebuilds too (into its own DATA_DIR).
    let (result, out) = app
        .cli(&["search", "rebuild", "--tenant", "rebuilt"], "")
        .await;
    result.unwrap();
    assert!(out.contains("rebuilt: indexed 5 product(s)"), "{out}");
}

#[tokio::test]
async fn one_store_never_finds_another_stores_products() {
    let app = TestApp::spawn().await;
    let (_a, host_a) = shop_with_catalog(&app, "shop-a").await;
    let b = app.create_tenant("shop-b", "Shop B").await;
    let host_b = TestApp::store_host("shop-b");
    create(&app, &b, product("Wooden Spoon", "Oak", "SPOON-1", 500, 1)).await;
    search_until(&app, &host_b, "spoon", WAIT, |body| {
        body.contains(&link("wooden-spoon"))
    })
    .await;
    // Misspelt and unfinished words asked of shop A first (what its index segments matched
    // is then kept in the node's memory) still find nothing in shop B.
    for q in ["iphnoe", "ipho", "runing", "runn"] {
        let (_, body) = app.get_text(&host_a, &search_path(q)).await;
        assert!(
            body.contains(&link("apple-iphone-15")) || body.contains(&link("running-shoes")),
            "shop A found nothing for {q}: {body}"
        );
    }
    for q in [
        "iphnoe",
        "ipho",
        "runing",
        "runn",
        "iphone",
        "mug",
        "IPH-15-BLK",
        "apple",
    ] {
        let (_, body) = app.get_text(&host_b, &search_path(q)).await;
        assert!(body.contains("No results"), "shop B found {q}: {body}");
    }
    let (_, body) = app.get_text(&host_a, &search_path("spoon")).await;
    assert!(
        body.contains("No results"),
        "shop A found the spoon: {body}"
    );
    let (_, body) = app.get_text(&host_b, "/search/suggest.json?q=iph").await;
    assert!(!body.contains("iPhone"), "{body}");
}

#[tokio::test]
async fn merchant_synonyms_widen_a_search() {
    let app = TestApp::spawn().await;
    let (t, host) = shop_with_catalog(&app, "synonyms").await;
    let (_, body) = app.get_text(&host, &search_path("sneakers")).await;
    assert!(body.contains("No results"), "{body}");
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    search_feed::add_synonym_group(&mut tx, &["sneakers".into(), "running shoes".into()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (_, body) = app.get_text(&host, &search_path("sneakers")).await;
    assert_eq!(result_links(&body), ["running-shoes"], "{body}");
}

#[tokio::test]
async fn the_admin_product_search_uses_the_index_and_shows_every_status() {
    let app = TestApp::spawn().await;
    let (result, _) = app
        .cli(
            &[
                "tenant",
                "create",
                "--subdomain",
                "adminsearch",
                "--name",
                "Admin Search",
                "--owner-email",
                "owner@adminsearch.example",
                "--owner-password",
                "owner password 1",
            ],
            "",
        )
        .await;
    result.unwrap();
    let t = platform::tenancy::find_by_subdomain(&app.pool, "adminsearch")
        .await
        .unwrap()
        .unwrap();
    let host = TestApp::store_host("adminsearch");
    let mut draft = product("Secret Prototype Lantern", "Acme", "PROTO-1", 5_000, 1);
    draft.status = Some(Status::Draft);
    create(&app, &t, draft).await;
    create(&app, &t, product("Blue Mug", "Acme", "MUG-BLUE", 900, 5)).await;
    let mut admin = app.browser(&host);
    let csrf = admin.get("/admin/login").await.csrf();
    let page = admin
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &csrf),
                ("email", "owner@adminsearch.example"),
                ("password", "owner password 1"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    // A typo finds the draft (the storefront never shows it), once the worker indexed it.
    let started = Instant::now();
    let list = loop {
        let list = admin.get("/admin/products?q=prototpye").await;
        if list
            .body
            .contains("data-product=\"secret-prototype-lantern\"")
            || started.elapsed() > WAIT
        {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(
        list.body
            .contains("data-product=\"secret-prototype-lantern\""),
        "{}",
        list.body
    );
    assert!(!list.body.contains("data-product=\"blue-mug\""));
    // What the index cannot match (part of a SKU) still falls back to a substring match.
    let list = admin.get("/admin/products?q=UG-BLU").await;
    assert!(
        list.body.contains("data-product=\"blue-mug\""),
        "{}",
        list.body
    );
}

#[tokio::test]
async fn a_corrupt_index_is_rebuilt_from_the_database_on_its_own() {
    let app = TestApp::spawn().await;
    let (t, host) = shop_with_catalog(&app, "repaired").await;
    app.state.search.close(&t.schema);
    let dir = app
        .state
        .settings
        .data_dir
        .join("search")
        .join(t.schema.as_str());
    std::fs::write(dir.join("meta.json"), b"{ not json").unwrap();

    let (body, _) = search_until(&app, &host, "iphnoe", WAIT, |b| {
        b.contains(&link("apple-iphone-15"))
    })
    .await;
    assert!(body.contains(&link("apple-iphone-15")), "{body}");
    let (_, body) = app.get_text(&host, &search_path("mug")).await;
    assert_eq!(result_links(&body).len(), 2, "{body}");
}

#[tokio::test]
async fn the_merchant_manages_synonyms_in_the_admin_and_search_follows() {
    let app = TestApp::spawn().await;
    let (t, mut admin) = app.store_with_owner("syn", "Syn Shop").await;
    let host = TestApp::store_host("syn");
    create(
        &app,
        &t,
        product("Running Shoes", "Fleet", "RUN-1", 7_999, 3),
    )
    .await;
    search_until(&app, &host, "running", WAIT, |b| {
        !result_links(b).is_empty()
    })
    .await;
    let (_, body) = app.get_text(&host, &search_path("sneakers")).await;
    assert!(result_links(&body).is_empty());

    let csrf = admin.get("/admin/search/synonyms").await.csrf();
    let refused = admin
        .post_form(
            "/admin/search/synonyms",
            &[("_csrf", &csrf), ("terms", "sneakers")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"data-field="terms""#));
    assert!(
        refused.body.contains(r#"value="sneakers""#),
        "the input is kept"
    );

    let added = admin
        .post_form(
            "/admin/search/synonyms",
            &[("_csrf", &csrf), ("terms", "Sneakers, running shoes")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let (_, body) = app.get_text(&host, &search_path("sneakers")).await;
    assert_eq!(result_links(&body), ["running-shoes"], "{body}");

    let page = admin.get("/admin/search/synonyms").await;
    assert!(page.body.contains("sneakers, running shoes"));
    let id = page
        .body
        .split("data-group=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();

    // Another store's owner can't delete it; a clerk without products can't see the page.
    let (_, mut other) = app.store_with_owner("other", "Other").await;
    let their_csrf = other.get("/admin/search/synonyms").await.csrf();
    let theirs = other
        .post_form(
            &format!("/admin/search/synonyms/{id}/delete"),
            &[("_csrf", &their_csrf)],
        )
        .await;
    assert_eq!(theirs.status, 404);
    let mut clerk = app
        .staff_member("syn", "clerk@syn.example.com", &["orders"])
        .await;
    assert_eq!(clerk.get("/admin/search/synonyms").await.status, 403);

    let deleted = admin
        .post_form(
            &format!("/admin/search/synonyms/{id}/delete"),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, 303);
    let (_, body) = app.get_text(&host, &search_path("sneakers")).await;
    assert!(result_links(&body).is_empty(), "{body}");
}
