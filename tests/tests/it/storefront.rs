//! The shopper storefront through HTTP on a store's host: home, collections (sort,
//! pagination), product pages (variant form, drafts, other stores' handles), the cart
//! (stock refusals, price and stock re-checks), SEO files and caching headers.

use storefront_tests::{Browser, Page, TestApp};
use tenant_store::catalog::collections::{self, CollectionInput, Kind};
use tenant_store::catalog::{self, ProductInput, Status, VariantInput};
use uuid::Uuid;

fn host(sub: &str) -> String {
    TestApp::store_host(sub)
}

struct Seeded {
    tenant: platform::tenancy::Tenant,
}

/// A product with Size × Colour variants; stock per variant as given.
fn shirt(title: &str, status: Status, stock: [i32; 4]) -> ProductInput {
    let combos = [("S", "Red"), ("S", "Blue"), ("M", "Red"), ("M", "Blue")];
    ProductInput {
        title: title.into(),
        status: Some(status),
        vendor: "Acme".into(),
        options: vec!["Size".into(), "Colour".into()],
        variants: combos
            .iter()
            .zip(stock)
            .enumerate()
            .map(|(i, ((size, colour), qty))| VariantInput {
                option_values: vec![(*size).into(), (*colour).into()],
                sku: format!("{}-{i}", title.to_uppercase().replace(' ', "-")),
                price_minor: 2000 + i as i64 * 100,
                track_inventory: true,
                inventory_quantity: qty,
                ..VariantInput::default()
            })
            .collect(),
        ..ProductInput::default()
    }
}

fn simple(title: &str, price: i64, stock: i32) -> ProductInput {
    ProductInput {
        title: title.into(),
        status: Some(Status::Active),
        variants: vec![VariantInput {
            sku: title.to_uppercase().replace(' ', "-"),
            price_minor: price,
            track_inventory: true,
            inventory_quantity: stock,
            ..VariantInput::default()
        }],
        ..ProductInput::default()
    }
}

async fn seed(app: &TestApp, sub: &str, products: Vec<ProductInput>) -> Seeded {
    let tenant = app.create_tenant(sub, &format!("{sub} store")).await;
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    for p in products {
        catalog::create_product(&mut tx, p, "test", None)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    Seeded { tenant }
}

async fn variant_id(app: &TestApp, s: &Seeded, sku: &str) -> Uuid {
    let mut tx = tenant_store::begin(&app.pool, &s.tenant.schema)
        .await
        .unwrap();
    let id = sqlx::query_scalar("SELECT id FROM variants WHERE sku = $1")
        .bind(sku)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// The page's JSON-LD block, parsed: it ends at the first `</script>`, as in a browser.
fn json_ld(page: &str) -> serde_json::Value {
    let start = page
        .find(r#"<script type="application/ld+json">"#)
        .expect("a JSON-LD block")
        + r#"<script type="application/ld+json">"#.len();
    let end = start + page[start..].find("</script>").expect("the block's end");
    serde_json::from_str(&page[start..end]).expect("JSON-LD parses")
}

async fn add(b: &mut Browser<'_>, fields: &[(&str, &str)]) -> Page {
    b.post_form("/cart/add", fields).await
}

#[tokio::test]
async fn home_and_product_pages_show_active_products_only() {
    let app = TestApp::spawn().await;
    seed(
        &app,
        "alpha",
        vec![
            shirt("Linen Shirt", Status::Active, [5, 0, 3, 2]),
            shirt("Secret Draft", Status::Draft, [1, 1, 1, 1]),
            shirt("Old Archive", Status::Archived, [1, 1, 1, 1]),
            simple("Tee </script><b>Bold</b>", 1500, 1),
        ],
    )
    .await;
    seed(&app, "bravo", vec![simple("Bravo Only Mug", 900, 4)]).await;

    let (status, home) = app.get_text(&host("alpha"), "/").await;
    assert_eq!(status, 200);
    assert!(home.contains("alpha store"));
    assert!(home.contains("/products/linen-shirt"));
    assert!(home.contains("From $20.00"), "variants differ in price");
    assert!(!home.contains("Secret Draft"));
    assert!(!home.contains("Old Archive"));

    let (status, page) = app.get_text(&host("alpha"), "/products/linen-shirt").await;
    assert_eq!(status, 200);
    assert!(page.contains("<h1>Linen Shirt</h1>"));
    assert!(page.contains(
        r#"<link rel="canonical" href="http://alpha.storefront.test/products/linen-shirt">"#
    ));
    assert!(page.contains(r#"property="og:title" content="Linen Shirt""#));
    // What a search engine reads: the product with an offer per variant, each with its
    // price, currency, stock and address.
    let ld = json_ld(&page);
    assert_eq!(ld["@context"], "https://schema.org");
    assert_eq!(ld["@type"], "Product");
    assert_eq!(ld["name"], "Linen Shirt");
    assert_eq!(ld["brand"]["name"], "Acme");
    let offers = ld["offers"].as_array().expect("offers");
    assert_eq!(offers.len(), 4);
    assert_eq!(offers[0]["@type"], "Offer");
    assert_eq!(offers[0]["price"], "20.00");
    assert_eq!(offers[1]["price"], "21.00");
    assert_eq!(offers[0]["priceCurrency"], "USD");
    assert_eq!(offers[0]["sku"], "LINEN-SHIRT-0");
    assert_eq!(offers[0]["availability"], "https://schema.org/InStock");
    assert_eq!(offers[1]["availability"], "https://schema.org/OutOfStock");
    assert!(
        offers[0]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://alpha.storefront.test/products/linen-shirt?variant="),
        "{}",
        offers[0]["url"]
    );
    // A title that closes the script element stays inside it.
    let (status, page) = app
        .get_text(&host("alpha"), "/products/tee-script-b-bold-b")
        .await;
    assert_eq!(status, 200);
    assert_eq!(json_ld(&page)["name"], "Tee </script><b>Bold</b>");

    for path in [
        "/products/secret-draft",
        "/products/old-archive",
        "/products/bravo-only-mug",
        "/products/nope",
    ] {
        let (status, body) = app.get_text(&host("alpha"), path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("Bravo Only Mug"));
    }
    let (status, _) = app
        .get_text(&host("bravo"), "/products/bravo-only-mug")
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_variant_form_picks_the_right_variant_and_says_when_a_combination_is_unavailable() {
    let app = TestApp::spawn().await;
    let mut incomplete = shirt("Linen Shirt", Status::Active, [5, 0, 3, 2]);
    incomplete.variants.pop(); // no M / Blue
    let s = seed(&app, "alpha", vec![incomplete]).await;

    let (_, page) = app
        .get_text(
            &host("alpha"),
            "/products/linen-shirt?option1=M&option2=Red",
        )
        .await;
    assert!(page.contains("$22.00"), "M / Red is the third variant");
    assert!(page.contains("Only 3 left"));
    assert!(page.contains("SKU LINEN-SHIRT-2"));
    assert!(page.contains(r#"<option value="M" selected>"#));

    let (_, page) = app
        .get_text(
            &host("alpha"),
            "/products/linen-shirt?option1=S&option2=Blue",
        )
        .await;
    assert!(page.contains("Sold out"));
    assert!(page.contains("disabled>Sold out</button>"));

    let (_, page) = app
        .get_text(
            &host("alpha"),
            "/products/linen-shirt?option1=M&option2=Blue",
        )
        .await;
    assert!(page.contains("This combination is unavailable."));
    assert!(page.contains("disabled>Unavailable</button>"));

    // Posting the plain form adds exactly the chosen variant.
    let mut shopper = app.browser(&host("alpha"));
    let added = add(
        &mut shopper,
        &[
            ("product", "linen-shirt"),
            ("option1", "M"),
            ("option2", "Red"),
            ("quantity", "2"),
        ],
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(added.location.as_deref(), Some("/cart"));
    let cart = shopper.get("/cart").await;
    assert!(cart.body.contains("M / Red"));
    assert!(cart.body.contains("$44.00"), "2 × $22.00");
    let m_red = variant_id(&app, &s, "LINEN-SHIRT-2").await;
    assert!(cart.body.contains(&format!(r#"data-line="{m_red}""#)));
    assert!(cart.body.contains(r#"aria-label="2 items in your cart""#));
}

#[tokio::test]
async fn the_cart_refuses_more_than_the_stock_and_rechecks_price_and_stock() {
    let app = TestApp::spawn().await;
    let s = seed(
        &app,
        "alpha",
        vec![simple("Red Mug", 1200, 3), simple("Blue Mug", 800, 10)],
    )
    .await;
    let mut shopper = app.browser(&host("alpha"));

    let refused = add(&mut shopper, &[("product", "red-mug"), ("quantity", "4")]).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("Only 3 of Red Mug left in stock; you asked for 4.")
    );
    assert!(
        refused.body.contains(r#"value="4""#),
        "the quantity typed is kept"
    );

    assert_eq!(
        add(&mut shopper, &[("product", "red-mug"), ("quantity", "2")])
            .await
            .status,
        303
    );
    let refused = add(&mut shopper, &[("product", "red-mug"), ("quantity", "2")]).await;
    assert_eq!(refused.status, 422, "2 in the cart + 2 more is beyond 3");
    assert_eq!(
        add(&mut shopper, &[("product", "blue-mug"), ("quantity", "1")])
            .await
            .status,
        303
    );

    // Changing a line beyond the stock is refused next to the line; nothing changes.
    let red = variant_id(&app, &s, "RED-MUG").await;
    let page = shopper
        .post_form(
            "/cart/change",
            &[("id", &red.to_string()), ("quantity", "9")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("Only 3 of Red Mug left in stock; you asked for 9.")
    );
    assert!(
        page.body.contains(r#"aria-label="3 items in your cart""#),
        "2 red + 1 blue"
    );

    // The merchant raises the price and sells stock elsewhere: the cart says so, once.
    let mut tx = tenant_store::begin(&app.pool, &s.tenant.schema)
        .await
        .unwrap();
    sqlx::query("UPDATE variants SET price_minor = 1500, inventory_quantity = 1 WHERE id = $1")
        .bind(red)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE products SET status = 'draft' WHERE handle = 'blue-mug'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let cart = shopper.get("/cart").await;
    assert!(
        cart.body
            .contains("The price of Red Mug changed from $12.00 to $15.00."),
        "{}",
        cart.body
    );
    assert!(
        cart.body
            .contains("Only 1 of Red Mug left in stock: your cart now holds 1 instead of 2.")
    );
    assert!(
        cart.body
            .contains("Blue Mug is no longer available and was removed from your cart.")
    );
    assert!(cart.body.contains(r#"data-subtotal>$15.00"#));
    let again = shopper.get("/cart").await;
    assert!(!again.body.contains("changed from"), "a notice shows once");

    // Removing empties the cart.
    let removed = shopper
        .post_form("/cart/remove", &[("id", &red.to_string())])
        .await;
    assert_eq!(removed.status, 303);
    assert!(
        shopper
            .get("/cart")
            .await
            .body
            .contains("Your cart is empty.")
    );
}

#[tokio::test]
async fn a_cart_survives_an_app_restart_and_is_read_by_another_node() {
    let app = TestApp::spawn().await;
    seed(&app, "alpha", vec![simple("Red Mug", 1200, 3)]).await;
    let mut shopper = app.browser(&host("alpha"));
    assert_eq!(
        add(&mut shopper, &[("product", "red-mug")]).await.status,
        303
    );
    let cookie = shopper.cookie.clone();

    let other = TestApp::spawn_node(app.db.clone()).await;
    let mut same_shopper = other.browser(&host("alpha"));
    same_shopper.cookie = cookie;
    let cart = same_shopper.get("/cart").await;
    assert!(cart.body.contains("Red Mug"));
    assert!(cart.body.contains("$12.00"));
}

#[tokio::test]
async fn another_stores_cart_and_products_stay_out_of_reach() {
    let app = TestApp::spawn().await;
    seed(&app, "alpha", vec![simple("Alpha Mug", 1200, 3)]).await;
    let bravo = seed(&app, "bravo", vec![simple("Bravo Mug", 900, 3)]).await;
    let bravo_variant = variant_id(&app, &bravo, "BRAVO-MUG").await;
    let mut shopper = app.browser(&host("alpha"));
    // Bravo's handle and variant id mean nothing on Alpha's host.
    let page = add(&mut shopper, &[("product", "bravo-mug")]).await;
    assert_eq!(page.status, 404);
    let page = add(
        &mut shopper,
        &[("product", "alpha-mug"), ("id", &bravo_variant.to_string())],
    )
    .await;
    assert_eq!(
        page.status, 303,
        "an unknown variant id falls back to the product's own"
    );
    let cart = shopper.get("/cart").await;
    assert!(cart.body.contains("Alpha Mug"));
    assert!(!cart.body.contains("Bravo Mug"));

    // The session cookie sent to Bravo's host by hand: the session's cart is Alpha's, and
    // Bravo's cart page doesn't show it.
    let mut replay = app.browser(&host("bravo"));
    replay.cookie = shopper.cookie.clone();
    let cart = replay.get("/cart").await;
    assert_eq!(cart.status, 200);
    assert!(!cart.body.contains("Alpha Mug"));
    assert!(cart.body.contains("Your cart is empty."));
}

#[tokio::test]
async fn collections_sort_paginate_by_keyset_and_hide_when_empty() {
    let app = TestApp::spawn().await;
    let products: Vec<ProductInput> = (1..=30)
        .map(|i| simple(&format!("Mug {i:02}"), 100 * (31 - i), 5))
        .collect();
    let s = seed(&app, "alpha", products).await;
    let mut tx = tenant_store::begin(&app.pool, &s.tenant.schema)
        .await
        .unwrap();
    collections::create_collection(
        &mut tx,
        CollectionInput {
            title: "Mugs".into(),
            handle: None,
            body_html: String::new(),
            kind: Kind::Automatic,
            sort_order: "title-asc".into(),
            published: true,
            disjunctive: false,
            rules: vec![collections::Rule {
                field: "title".into(),
                relation: "contains".into(),
                value: "Mug".into(),
            }],
            product_handles: Vec::new(),
        },
    )
    .await
    .unwrap();
    collections::create_collection(
        &mut tx,
        CollectionInput {
            title: "Empty".into(),
            handle: None,
            body_html: String::new(),
            kind: Kind::Manual,
            sort_order: "manual".into(),
            published: true,
            disjunctive: false,
            rules: Vec::new(),
            product_handles: Vec::new(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (status, first) = app.get_text(&host("alpha"), "/collections/mugs").await;
    assert_eq!(status, 200);
    assert!(first.contains("Mug 01") && first.contains("Mug 24") && !first.contains("Mug 25"));
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(2)
        .and_then(|s| s.split('"').next())
        .expect("a next-page link")
        .replace("&amp;", "&");
    let (status, second) = app.get_text(&host("alpha"), &next).await;
    assert_eq!(status, 200);
    assert!(second.contains("Mug 25") && second.contains("Mug 30") && !second.contains("Mug 24"));
    assert!(second.contains("← Previous page"));
    let previous = second
        .split("rel=\"prev\" href=\"")
        .nth(2)
        .and_then(|s| s.split('"').next())
        .expect("a previous-page link")
        .replace("&amp;", "&");
    let (_, back) = app.get_text(&host("alpha"), &previous).await;
    assert!(back.contains("Mug 01") && back.contains("Mug 24") && !back.contains("Mug 25"));

    // Price, low to high: Mug 30 costs $1.00.
    let (_, cheap) = app
        .get_text(&host("alpha"), "/collections/mugs?sort_by=price-ascending")
        .await;
    let first_card = cheap.find("Mug 30").unwrap();
    assert!(first_card < cheap.find("Mug 29").unwrap());
    assert!(first_card < cheap.find("Mug 01").unwrap_or(usize::MAX));

    let (status, _) = app.get_text(&host("alpha"), "/collections/empty").await;
    assert_eq!(
        status, 404,
        "a collection with nothing on sale is not shown"
    );
    let (status, _) = app
        .get_text(&host("alpha"), "/collections/mugs?after=garbage")
        .await;
    assert_eq!(status, 404);
    let (status, all) = app.get_text(&host("alpha"), "/collections/all").await;
    assert_eq!(status, 200);
    assert!(all.contains("All products"));
}

#[tokio::test]
async fn pages_carry_validators_and_answer_not_modified() {
    let app = TestApp::spawn().await;
    seed(&app, "alpha", vec![simple("Red Mug", 1200, 3)]).await;
    let res = app.get(&host("alpha"), "/products/red-mug").await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let again = app
        .get_with(
            &host("alpha"),
            "/products/red-mug",
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status(), 304);

    let home = app.get(&host("alpha"), "/").await.text().await.unwrap();
    let css = home
        .split("href=\"/assets/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(css.starts_with("theme.") && css.ends_with(".css"), "{css}");
    let asset = app.get(&host("alpha"), &format!("/assets/{css}")).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn robots_and_sitemaps_list_what_shoppers_may_see() {
    let app = TestApp::spawn().await;
    seed(
        &app,
        "alpha",
        vec![
            simple("Red Mug", 1200, 3),
            shirt("Secret Draft", Status::Draft, [1, 1, 1, 1]),
        ],
    )
    .await;
    let (status, robots) = app.get_text(&host("alpha"), "/robots.txt").await;
    assert_eq!(status, 200);
    assert!(robots.contains("Disallow: /admin"));
    assert!(robots.contains("Sitemap: http://alpha.storefront.test/sitemap.xml"));
    let (_, index) = app.get_text(&host("alpha"), "/sitemap.xml").await;
    let products = index
        .split("<loc>http://alpha.storefront.test")
        .nth(1)
        .unwrap()
        .split("</loc>")
        .next()
        .unwrap()
        .to_owned();
    assert!(products.starts_with("/sitemaps/products.xml?from="));
    let (status, sitemap) = app.get_text(&host("alpha"), &products).await;
    assert_eq!(status, 200);
    assert!(sitemap.contains("/products/red-mug</loc>"));
    assert!(!sitemap.contains("secret-draft"));
}

#[tokio::test]
async fn the_contact_form_stores_the_message_mails_the_merchant_and_keeps_spam_out() {
    use secrecy::SecretString;
    use storefront_tests::smtp::SmtpReceiver;

    let smtp = SmtpReceiver::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(|s| s.smtp_url = Some(SecretString::from(url))).await;
    let (_, mut admin) = app.store_with_owner("alpha", "Alpha").await;
    let mut shopper = app.browser(&host("alpha"));

    let form = shopper.get("/contact").await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains(r#"name="website""#),
        "the honeypot field is there"
    );

    // Mistakes are shown next to their fields, with what was typed kept.
    let bad = shopper
        .post_form(
            "/contact",
            &[("name", "Ann"), ("email", "not-an-email"), ("body", "")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains(r#"data-field="email""#));
    assert!(bad.body.contains(r#"data-field="body""#));
    assert!(bad.body.contains(r#"value="Ann""#));

    let sent = shopper
        .post_form(
            "/contact",
            &[
                ("name", "Ann Buyer"),
                ("email", "ann@buyer.example"),
                ("body", "Do you ship to Norway?"),
                ("website", ""),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert!(
        shopper
            .get("/contact?sent=1")
            .await
            .body
            .contains("Your message was sent")
    );

    let mail = smtp.wait_for(1, std::time::Duration::from_secs(10)).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].subject(), "New message from Ann Buyer via Alpha");
    assert!(mail[0].text_body().contains("Do you ship to Norway?"));
    assert_eq!(
        mail[0].parsed().header("Reply-To"),
        Some("ann@buyer.example")
    );

    let inbox = admin.get("/admin/enquiries").await;
    assert!(inbox.body.contains("Do you ship to Norway?"));
    assert!(inbox.body.contains("ann@buyer.example"));

    // A bot fills in the hidden field: it looks sent, but nothing is kept or mailed.
    let bot = shopper
        .post_form(
            "/contact",
            &[
                ("name", "Bot"),
                ("email", "bot@spam.example"),
                ("body", "Cheap pills"),
                ("website", "http://spam.example"),
            ],
        )
        .await;
    assert_eq!(bot.status, 303);
    assert!(
        !admin
            .get("/admin/enquiries")
            .await
            .body
            .contains("Cheap pills")
    );

    // Another store's admin doesn't see Alpha's messages.
    let (_, mut bravo) = app.store_with_owner("bravo", "Bravo").await;
    assert!(!bravo.get("/admin/enquiries").await.body.contains("Norway"));

    // The sixth message within the hour from one address is refused.
    for i in 0..4 {
        let ok = shopper
            .post_form(
                "/contact",
                &[
                    ("name", "Ann"),
                    ("email", "ann@buyer.example"),
                    ("body", &format!("Message {i}")),
                ],
            )
            .await;
        assert_eq!(ok.status, 303);
    }
    let limited = shopper
        .post_form(
            "/contact",
            &[
                ("name", "Ann"),
                ("email", "ann@buyer.example"),
                ("body", "One more"),
            ],
        )
        .await;
    assert_eq!(limited.status, 429);
    assert!(
        !admin
            .get("/admin/enquiries")
            .await
            .body
            .contains("One more")
    );
}

#[tokio::test]
async fn missing_pages_get_the_stores_own_404_and_policies_show_when_written() {
    let app = TestApp::spawn().await;
    let (_, mut admin) = app.store_with_owner("alpha", "Alpha Goods").await;
    let (status, body) = app
        .get_text(&host("alpha"), "/products/does-not-exist")
        .await;
    assert_eq!(status, 404);
    assert!(body.contains("Page not found"));
    assert!(
        body.contains("Alpha Goods"),
        "the store's header is on its 404 page"
    );
    let (status, _) = app.get_text(&host("alpha"), "/no/such/path").await;
    assert_eq!(status, 404);

    let (status, _) = app
        .get_text(&host("alpha"), "/policies/refund-policy")
        .await;
    assert_eq!(status, 404, "no refund policy written yet");
    let csrf = admin.get("/admin/settings").await.csrf();
    let saved = admin
        .post_form(
            "/admin/settings",
            &[
                ("_csrf", csrf.as_str()),
                ("name", "Alpha Goods"),
                ("contact_email", "owner@alpha.example.com"),
                ("currency", "USD"),
                ("timezone", "UTC"),
                ("low_stock_threshold", "5"),
                ("color_accent", "#2d6a4f"),
                ("color_text", "#1d1d1f"),
                ("color_background", "#ffffff"),
                ("customer_accounts", "disabled"),
                ("refund_policy", "Full refund within **30 days**."),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (status, body) = app
        .get_text(&host("alpha"), "/policies/refund-policy")
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("<strong>30 days</strong>"));
    let (_, home) = app.get_text(&host("alpha"), "/").await;
    assert!(
        home.contains(r#"href="/policies/refund-policy""#),
        "the footer links the policy"
    );
    assert!(
        home.contains("--accent: #2d6a4f"),
        "the store's colours theme the page"
    );
}

#[tokio::test]
async fn pages_posts_and_menus_show_when_published_and_stay_in_their_store() {
    use tenant_store::content::{self, ArticleInput, MenuInput, MenuItemInput, PageInput};

    let app = TestApp::spawn().await;
    let alpha = seed(&app, "alpha", vec![simple("Red Mug", 1200, 3)]).await;
    seed(&app, "bravo", vec![]).await;
    let mut tx = tenant_store::begin(&app.pool, &alpha.tenant.schema)
        .await
        .unwrap();
    let about = content::pages::create_page(
        &mut tx,
        PageInput {
            title: "About us".into(),
            body: "We make **mugs**.".into(),
            body_format: catalog::BodyFormat::Markdown,
            published: true,
            ..PageInput::default()
        },
    )
    .await
    .unwrap();
    content::pages::create_page(
        &mut tx,
        PageInput {
            title: "Hidden plans".into(),
            body: "Not yet.".into(),
            published: false,
            ..PageInput::default()
        },
    )
    .await
    .unwrap();
    let news = content::blog::get_blog(&mut tx, "news").await.unwrap();
    content::blog::create_article(
        &mut tx,
        news.id,
        ArticleInput {
            title: "Spring collection is here".into(),
            body: "Fresh colours.".into(),
            summary: "Fresh colours for spring.".into(),
            author: "Ann".into(),
            published: true,
            ..ArticleInput::default()
        },
    )
    .await
    .unwrap();
    let main: Uuid = sqlx::query_scalar("SELECT id FROM menus WHERE handle = 'main-menu'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    content::menus::update_menu(
        &mut tx,
        main,
        MenuInput {
            title: "Main menu".into(),
            handle: None,
            items: vec![
                MenuItemInput {
                    title: "Shop".into(),
                    kind: "url".into(),
                    target: "/collections/all".into(),
                    nested: false,
                },
                MenuItemInput {
                    title: "Red Mug".into(),
                    kind: "product".into(),
                    target: "red-mug".into(),
                    nested: true,
                },
                MenuItemInput {
                    title: "About".into(),
                    kind: "page".into(),
                    target: "about-us".into(),
                    nested: false,
                },
                MenuItemInput {
                    title: "Plans".into(),
                    kind: "page".into(),
                    target: "hidden-plans".into(),
                    nested: false,
                },
            ],
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (status, page) = app.get_text(&host("alpha"), "/pages/about-us").await;
    assert_eq!(status, 200);
    assert!(page.contains("<strong>mugs</strong>"));
    let (status, _) = app.get_text(&host("alpha"), "/pages/hidden-plans").await;
    assert_eq!(status, 404, "an unpublished page is not shown");
    let (status, _) = app.get_text(&host("bravo"), "/pages/about-us").await;
    assert_eq!(status, 404, "another store's page is not on this host");

    let (_, home) = app.get_text(&host("alpha"), "/").await;
    assert!(
        home.contains(r#"<a href="/pages/about-us">About</a>"#),
        "the main menu links the page"
    );
    assert!(
        home.contains(r#"<a href="/products/red-mug">Red Mug</a>"#),
        "nested link"
    );
    assert!(
        !home.contains("Plans</a>"),
        "a link to an unpublished page is left out"
    );
    assert!(
        home.contains("Spring collection is here"),
        "latest news on the home page"
    );

    let (status, blog) = app.get_text(&host("alpha"), "/blogs/news").await;
    assert_eq!(status, 200);
    assert!(blog.contains(r#"href="/blogs/news/spring-collection-is-here""#));
    let (status, post) = app
        .get_text(&host("alpha"), "/blogs/news/spring-collection-is-here")
        .await;
    assert_eq!(status, 200);
    assert!(post.contains("Fresh colours."));
    let (status, _) = app
        .get_text(&host("bravo"), "/blogs/news/spring-collection-is-here")
        .await;
    assert_eq!(status, 404);

    // A renamed page keeps answering at its old address with a 301.
    let mut tx = tenant_store::begin(&app.pool, &alpha.tenant.schema)
        .await
        .unwrap();
    content::pages::update_page(
        &mut tx,
        about.id,
        PageInput {
            title: "About us".into(),
            handle: Some("our-story".into()),
            body: "We make **mugs**.".into(),
            body_format: catalog::BodyFormat::Markdown,
            published: true,
            ..PageInput::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let res = app.get(&host("alpha"), "/pages/about-us").await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "/pages/our-story");
}
