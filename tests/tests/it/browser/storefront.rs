//! A store's shopper pages in Chromium: search, sorting, variants, cart, contact and accounts.

use std::time::{Duration, Instant};

use platform::tenancy::Tenant;
use reqwest::multipart::{Form, Part};
use serde_json::json;
use storefront_tests::browser::Chrome;
use storefront_tests::{Browser, TestApp};
use tenant_store::catalog::{self, ProductInput, Status, VariantInput};
use uuid::Uuid;

const ARROW_DOWN: &str = "\u{E015}";
const ARROW_UP: &str = "\u{E013}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

/// An active product with one tracked variant.
fn simple(title: &str, price: i64, stock: i32) -> ProductInput {
    ProductInput {
        title: title.into(),
        status: Some(Status::Active),
        vendor: "Acme".into(),
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

/// The linen shirt: Size × Colour with a price per size, S/Navy sold out, M/Navy never made,
/// M/Sand with three left.
fn linen_shirt() -> ProductInput {
    let variant = |size: &str, colour: &str, price: i64, stock: i32, sku: &str| VariantInput {
        option_values: vec![size.into(), colour.into()],
        sku: sku.into(),
        price_minor: price,
        track_inventory: true,
        inventory_quantity: stock,
        ..VariantInput::default()
    };
    ProductInput {
        title: "Linen shirt".into(),
        status: Some(Status::Active),
        vendor: "Acme".into(),
        body: "<p>Washed linen, cut loose.</p>".into(),
        options: vec!["Size".into(), "Colour".into()],
        variants: vec![
            variant("S", "Sand", 4500, 10, "SHIRT-S-SAND"),
            variant("S", "Navy", 4500, 0, "SHIRT-S-NAVY"),
            variant("M", "Sand", 4800, 3, "SHIRT-M-SAND"),
        ],
        ..ProductInput::default()
    }
}

async fn create(app: &TestApp, tenant: &Tenant, input: ProductInput) -> catalog::Product {
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let product = catalog::create_product(&mut tx, input, "test", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    product
}

/// A store `sub` with its owner signed in over HTTP (for uploading photos).
async fn store<'a>(app: &'a TestApp, sub: &str) -> (Tenant, Browser<'a>) {
    app.store_with_owner(sub, &format!("{sub} goods")).await
}

/// Gives `product` a photo through the admin's upload form, as the merchant does.
async fn add_photo(app: &TestApp, owner: &mut Browser<'_>, product: Uuid, alt: &str) {
    let (_dir, file) = crate::browser::png_file(900, 600);
    let csrf = owner.get("/admin").await.csrf();
    let form = Form::new().text("alt", alt.to_owned()).part(
        "image",
        Part::bytes(std::fs::read(&file).unwrap())
            .file_name("photo.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!(
            "http://{}/admin/products/{product}/images?_csrf={csrf}",
            app.addr
        ))
        .multipart(form);
    let done = owner.send(request).await;
    assert_eq!(done.status, 303, "photo upload: {}", done.body);
}

/// Waits until the search index suggests `count` products for `q` (the outbox worker
/// indexes new products a moment after they are committed).
async fn indexed(app: &TestApp, host: &str, q: &str, count: usize) {
    let started = Instant::now();
    loop {
        let (status, body) = app
            .get_text(host, &format!("/search/suggest.json?q={q}"))
            .await;
        let found: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let n = found["products"].as_array().map_or(0, Vec::len);
        if status == 200 && n == count {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the index never suggested {count} products for {q}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Turns on customer accounts for the store, as the merchant does in its settings.
async fn accounts_on(app: &TestApp, tenant: &Tenant) {
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    sqlx::query("UPDATE settings SET customer_accounts = 'optional'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// The texts of every element matching `css`, in page order.
async fn texts(chrome: &Chrome, css: &str) -> Vec<String> {
    let found = chrome
        .js(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText.trim());",
            vec![json!(css)],
        )
        .await;
    serde_json::from_value(found).unwrap()
}

/// Marks the page so that [`same_page`] can tell it was not reloaded.
async fn mark_page(chrome: &Chrome) {
    chrome.js("window.__sameDocument = true;", vec![]).await;
}

async fn same_page(chrome: &Chrome) -> bool {
    chrome
        .js("return window.__sameDocument === true;", vec![])
        .await
        .as_bool()
        .unwrap_or(false)
}

/// What the search box's suggestion list shows, as a screen reader learns it: whether the
/// combobox says it is expanded, the options' texts, and which option is active.
#[derive(Debug, PartialEq)]
struct Suggestions {
    expanded: bool,
    options: Vec<String>,
    active: Option<String>,
}

async fn suggestions(chrome: &Chrome) -> Suggestions {
    let state = chrome
        .js(
            "const input = document.getElementById('site-search');
             const list = document.getElementById(input.getAttribute('aria-controls'));
             const shown = list && !list.hidden && list.checkVisibility();
             const options = shown ? Array.from(list.querySelectorAll('[role=option]')) : [];
             const id = input.getAttribute('aria-activedescendant');
             const active = id ? document.getElementById(id) : null;
             return {
               expanded: input.getAttribute('aria-expanded') === 'true' && !!shown,
               options: options.map(o => o.innerText.trim()),
               active: active && active.getAttribute('aria-selected') === 'true'
                 && list.contains(active) ? active.innerText.trim() : null,
             };",
            vec![],
        )
        .await;
    Suggestions {
        expanded: state["expanded"].as_bool().unwrap(),
        options: serde_json::from_value(state["options"].clone()).unwrap(),
        active: state["active"].as_str().map(str::to_owned),
    }
}

async fn wait_for_suggestions(chrome: &Chrome, count: usize) {
    chrome
        .wait_until(
            &format!("{count} search suggestions"),
            &format!(
                "const list = document.querySelector('[role=listbox]');
                 return !!list && !list.hidden && list.querySelectorAll('[role=option]').length === {count};"
            ),
        )
        .await;
}

#[tokio::test]
async fn a_shopper_searches_by_keyboard_and_by_the_search_page_and_sorts_the_results() {
    let app = TestApp::spawn().await;
    let (tenant, _) = store(&app, "finder").await;
    for (title, price) in [
        ("Stoneware mug", 1800),
        ("Enamel mug", 1200),
        ("Travel mug", 2600),
    ] {
        create(&app, &tenant, simple(title, price, 8)).await;
    }
    create(&app, &tenant, simple("Wool scarf", 3900, 4)).await;
    let host = TestApp::store_host("finder");
    indexed(&app, &host, "mug", 3).await;
    let mut chrome = app.chrome(&host, "storefront-search").await;
    chrome.visit("/").await;

    // The tab shows the store's own icon in its accent colour (no request for a missing
    // /favicon.ico, which the page check would report).
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let accent: String = sqlx::query_scalar("SELECT color_accent FROM settings")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    drop(tx);
    let icon = chrome.attr("link[rel=icon]", "href").await.unwrap();
    assert!(
        icon.starts_with("data:image/svg+xml,") && icon.contains(&accent.replace('#', "%23")),
        "{icon}"
    );

    // The search box is a combobox: a screen reader hears it, and it says what it controls.
    assert_eq!(
        chrome.attr("#site-search", "role").await.as_deref(),
        Some("combobox")
    );
    assert_eq!(
        chrome
            .attr("#site-search", "aria-autocomplete")
            .await
            .as_deref(),
        Some("list")
    );
    chrome.fill("#site-search", "mu").await;
    wait_for_suggestions(&chrome, 3).await;
    let open = suggestions(&chrome).await;
    assert!(open.expanded, "{open:?}");
    assert_eq!(
        open.active, None,
        "nothing is chosen before the arrows are used"
    );
    let mut offered = open.options.clone();
    offered.sort();
    assert_eq!(offered, ["Enamel mug", "Stoneware mug", "Travel mug"]);
    // axe judges the page with the list open.
    chrome.check().await;

    // ArrowDown and ArrowUp move the active option, wrapping round; Escape closes the list.
    chrome.press("#site-search", ARROW_DOWN).await;
    assert_eq!(
        suggestions(&chrome).await.active.as_ref(),
        Some(&open.options[0])
    );
    chrome.press("#site-search", ARROW_DOWN).await;
    assert_eq!(
        suggestions(&chrome).await.active.as_ref(),
        Some(&open.options[1])
    );
    chrome.press("#site-search", ARROW_UP).await;
    chrome.press("#site-search", ARROW_UP).await;
    assert_eq!(
        suggestions(&chrome).await.active.as_ref(),
        Some(&open.options[2])
    );
    chrome.press("#site-search", ESCAPE).await;
    let closed = suggestions(&chrome).await;
    assert!(!closed.expanded && closed.active.is_none(), "{closed:?}");
    assert_eq!(
        chrome.value("#site-search").await,
        "mu",
        "Escape keeps what was typed"
    );

    // ArrowDown opens it again; Enter opens the active suggestion's product.
    chrome.press("#site-search", ARROW_DOWN).await;
    assert_eq!(
        suggestions(&chrome).await.active.as_ref(),
        Some(&open.options[0])
    );
    chrome.press("#site-search", ARROW_DOWN).await;
    mark_page(&chrome).await;
    chrome.press("#site-search", ENTER).await;
    chrome
        .wait_until(
            "the suggested product's page",
            "return !window.__sameDocument && document.readyState === 'complete' && !!document.querySelector('h1');",
        )
        .await;
    chrome.check().await;
    assert_eq!(chrome.text_of("h1").await, open.options[1]);

    // A click on a suggestion opens it too.
    chrome.fill("#site-search", "scarf").await;
    wait_for_suggestions(&chrome, 1).await;
    chrome.follow("[role=option]").await;
    assert_eq!(chrome.path().await, "/products/wool-scarf");

    // The search button shows every match on the search page.
    chrome.fill("#site-search", "mug").await;
    chrome.submit("site-search").await;
    assert_eq!(chrome.path().await, "/search?q=mug");
    let mut hits = texts(&chrome, ".search-hit-title").await;
    hits.sort();
    assert_eq!(hits, ["Enamel mug", "Stoneware mug", "Travel mug"]);

    // Sorting by price orders them, and keeps the query.
    chrome.select("#search-sort", "Price, high to low").await;
    chrome.submit("search-sort").await;
    assert_eq!(chrome.path().await, "/search?q=mug&sort=price-desc");
    assert_eq!(
        texts(&chrome, ".search-hit-title").await,
        ["Travel mug", "Stoneware mug", "Enamel mug"]
    );
    assert_eq!(chrome.value("#search-q").await, "mug");

    // A new query from the search page keeps the chosen order; one that finds nothing says so.
    chrome.fill("#search-q", "scarf").await;
    chrome.submit("search-page").await;
    assert_eq!(texts(&chrome, ".search-hit-title").await, ["Wool scarf"]);
    assert!(chrome.path().await.contains("sort=price-desc"));
    chrome.fill("#search-q", "teapot").await;
    chrome.submit("search-page").await;
    assert!(
        chrome.text().await.contains("No results for “teapot”"),
        "{}",
        chrome.text().await
    );
    chrome.close().await;
}

#[tokio::test]
async fn a_shopper_picks_a_variant_fills_the_cart_and_empties_it() {
    let app = TestApp::spawn().await;
    let (tenant, mut owner) = store(&app, "linen").await;
    let shirt = create(&app, &tenant, linen_shirt()).await;
    add_photo(&app, &mut owner, shirt.id, "A sand linen shirt on a hanger").await;
    create(&app, &tenant, simple("Cotton socks", 900, 20)).await;
    create(&app, &tenant, simple("Silk tie", 6500, 2)).await;
    let mut chrome = app
        .chrome(&TestApp::store_host("linen"), "storefront-cart")
        .await;

    // The whole catalogue, cheapest first.
    chrome.visit("/collections/all").await;
    chrome.select("#sort_by", "Price, low to high").await;
    chrome.submit("collection-sort").await;
    assert_eq!(
        chrome.path().await,
        "/collections/all?sort_by=price-ascending"
    );
    assert_eq!(
        texts(&chrome, ".card-title").await,
        ["Cotton socks", "Linen shirt", "Silk tie"]
    );

    // Choosing options updates price, stock and the button in place, without a new page.
    chrome.follow(".card a[href='/products/linen-shirt']").await;
    assert!(chrome.text_of("[data-price]").await.contains("45.00"));
    mark_page(&chrome).await;
    chrome.select("#option1", "M").await;
    assert!(chrome.text_of("[data-price]").await.contains("48.00"));
    assert!(chrome.text_of("[data-stock]").await.contains("Only 3 left"));
    assert_eq!(chrome.text_of("button[data-add]").await, "Add to cart");
    chrome.select("#option2", "Navy").await;
    assert!(chrome.text_of("[data-stock]").await.contains("unavailable"));
    assert!(
        chrome
            .js(
                "return document.querySelector('form.buy-form button.button').disabled;",
                vec![]
            )
            .await
            .as_bool()
            .unwrap()
    );
    chrome.select("#option1", "S").await;
    assert!(chrome.text_of("[data-stock]").await.contains("Sold out"));
    chrome.select("#option2", "Sand").await;
    chrome.select("#option1", "M").await;
    assert!(
        same_page(&chrome).await,
        "the options changed the page in place"
    );
    assert!(chrome.text_of("[data-price]").await.contains("48.00"));
    // The address names the variant, so a reload or a shared link shows the same one.
    assert!(
        chrome
            .path()
            .await
            .starts_with("/products/linen-shirt?variant=")
    );
    chrome.check().await;

    // Two of M / Sand into the cart.
    chrome.fill("#quantity", "2").await;
    chrome.submit("cart-add").await;
    assert_eq!(chrome.path().await, "/cart");
    let line = chrome.text_of("tr[data-line]").await;
    assert!(
        line.contains("Linen shirt") && line.contains("M / Sand"),
        "{line}"
    );
    assert!(chrome.text_of("[data-subtotal]").await.contains("96.00"));
    assert_eq!(chrome.text_of("[data-cart-count]").await, "2");

    // Someone else buys one while the cart is open: asking for the three the page still
    // allows is refused next to the field, and the cart keeps its two.
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    sqlx::query("UPDATE variants SET inventory_quantity = 2 WHERE sku = 'SHIRT-M-SAND'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let quantity = "form[data-form='cart-change'] input[name='quantity']";
    chrome.fill(quantity, "3").await;
    chrome.expect_status(422).submit("cart-change").await;
    let error = chrome.field_error(quantity).await;
    assert!(error.contains('2'), "{error}");
    assert!(chrome.text_of("[data-subtotal]").await.contains("96.00"));

    chrome.fill(quantity, "1").await;
    chrome.submit("cart-change").await;
    assert_eq!(chrome.value(quantity).await, "1");
    assert!(chrome.text_of("[data-subtotal]").await.contains("48.00"));
    assert_eq!(chrome.text_of("[data-cart-count]").await, "1");

    chrome.submit("cart-remove").await;
    assert!(chrome.text().await.contains("Your cart is empty."));
    assert_eq!(chrome.text_of("[data-cart-count]").await, "0");
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_lines")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(lines, 0, "removed from the stored cart, not only the page");
    chrome.close().await;
}

#[tokio::test]
async fn a_shopper_on_a_phone_writes_to_the_store_and_reaches_checkout() {
    let app = TestApp::spawn().await;
    let (tenant, mut owner) = store(&app, "pocket").await;
    let shirt = create(&app, &tenant, linen_shirt()).await;
    add_photo(&app, &mut owner, shirt.id, "A sand linen shirt on a hanger").await;
    let mut phone = app
        .phone(&TestApp::store_host("pocket"), "storefront-phone")
        .await;

    // A message without an email address is sent back with the problem by its field.
    phone.visit("/contact").await;
    phone
        .fill_form(
            "contact",
            &[("name", "Ann Buyer"), ("body", "Do you ship to Norway?")],
        )
        .await;
    phone.expect_status(422).submit("contact").await;
    let error = phone.field_error("#contact-email").await;
    assert!(error.contains("email"), "{error}");
    assert_eq!(phone.value("#contact-body").await, "Do you ship to Norway?");
    phone
        .fill_form("contact", &[("email", "ann@buyer.example")])
        .await;
    phone.submit("contact").await;
    assert_eq!(phone.path().await, "/contact?sent=1");
    assert!(phone.text().await.contains("Your message was sent."));
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let kept: Vec<(String, String)> = sqlx::query_as("SELECT email, body FROM enquiries")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        kept,
        [(
            "ann@buyer.example".to_owned(),
            "Do you ship to Norway?".to_owned()
        )]
    );
    drop(tx);

    // A shared link to a combination that was never made says so; choosing another colour
    // replaces that word with the price and stock of the one chosen.
    phone
        .visit("/products/linen-shirt?option1=M&option2=Navy")
        .await;
    assert_eq!(
        phone.text_of("[data-selection]").await,
        "This combination is unavailable."
    );
    phone.select("#option2", "Sand").await;
    assert!(
        !phone.has("[data-selection]").await,
        "the stale word is gone"
    );
    assert!(phone.text_of("[data-price]").await.contains("48.00"));
    assert!(phone.text_of("[data-stock]").await.contains("Only 3 left"));
    assert_eq!(
        phone.text_of("form.buy-form button.button").await,
        "Add to cart"
    );

    // Into the cart, and on to the checkout.
    phone.submit("cart-add").await;
    assert!(phone.text_of("tr[data-line]").await.contains("M / Sand"));
    phone.follow("a.button[href='/checkout']").await;
    assert_eq!(phone.text_of("h1").await, "Checkout");
    phone.close().await;
}

#[tokio::test]
async fn a_shopper_keeps_an_account_with_details_and_addresses() {
    let app = TestApp::spawn().await;
    let (tenant, _) = store(&app, "member").await;
    accounts_on(&app, &tenant).await;
    let mut chrome = app
        .chrome(&TestApp::store_host("member"), "storefront-account")
        .await;

    // Registering: a bad address and a short password are shown by their fields.
    chrome.visit("/").await;
    chrome.follow(".utility a[href='/account']").await;
    assert_eq!(chrome.path().await, "/account/login");
    chrome.follow("a[href='/account/register']").await;
    chrome
        .fill_form(
            "account-register",
            &[
                ("first_name", "Ann"),
                ("last_name", "Buyer"),
                ("email", "ann"),
                ("password", "short"),
            ],
        )
        .await;
    chrome.expect_status(422).submit("account-register").await;
    assert!(chrome.has("[data-field='email']").await);
    assert!(chrome.has("[data-field='password']").await);
    assert_eq!(chrome.value("#f-first_name").await, "Ann");
    chrome
        .fill_form(
            "account-register",
            &[
                ("email", "Ann@Buyer.example"),
                ("password", "a long password 1"),
            ],
        )
        .await;
    chrome.submit("account-register").await;
    assert_eq!(chrome.path().await, "/account");
    assert_eq!(chrome.text_of("h1").await, "Hello, Ann");

    chrome
        .fill_form(
            "account-save",
            &[("first_name", "Anna"), ("phone", "+1 555 0100")],
        )
        .await;
    chrome.submit("account-save").await;
    assert!(chrome.text().await.contains("Your details were saved."));
    assert_eq!(chrome.text_of("h1").await, "Hello, Anna");
    assert_eq!(chrome.value("#f-phone").await, "+1 555 0100");

    chrome
        .fill_form(
            "account-password",
            &[
                ("current_password", "not it"),
                ("new_password", "a new password 2"),
            ],
        )
        .await;
    chrome.expect_status(422).submit("account-password").await;
    assert!(chrome.has("[data-field='current_password']").await);
    chrome
        .fill_form(
            "account-password",
            &[
                ("current_password", "a long password 1"),
                ("new_password", "a new password 2"),
            ],
        )
        .await;
    chrome.submit("account-password").await;
    assert!(chrome.text().await.contains("Your password was changed."));

    // Two addresses: the first is the default until the second is made it; one is deleted.
    chrome
        .follow(".account-nav a[href='/account/addresses']")
        .await;
    assert!(chrome.text().await.contains("No addresses saved yet."));
    let home = [
        ("first_name", "Anna"),
        ("last_name", "Buyer"),
        ("address1", "Torstraße 1"),
        ("city", "Berlin"),
        ("zip", "10119"),
        ("country", "Germany"),
    ];
    chrome.fill_form("address-add", &home).await;
    chrome.expect_status(422).submit("address-add").await;
    assert!(chrome.has("[data-field='country']").await);
    assert_eq!(chrome.value("#f-address1").await, "Torstraße 1");
    chrome.fill_form("address-add", &[("country", "de")]).await;
    chrome.submit("address-add").await;
    assert_eq!(chrome.path().await, "/account/addresses");
    chrome
        .fill_form(
            "address-add",
            &[
                ("first_name", "Anna"),
                ("last_name", "Buyer"),
                ("company", "Buyer & Co"),
                ("address1", "1 Market Street"),
                ("city", "Leeds"),
                ("zip", "LS1 6DT"),
                ("country", "GB"),
            ],
        )
        .await;
    chrome.submit("address-add").await;
    let shown = texts(&chrome, "[data-address]").await;
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(shown[0].contains("Torstraße 1") && shown[0].contains("(default)"));
    assert!(shown[1].contains("1 Market Street") && !shown[1].contains("(default)"));

    // The default comes first, with no "Make default" button of its own.
    chrome.submit("address-default").await;
    let shown = texts(&chrome, "[data-address]").await;
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(shown[0].contains("1 Market Street") && shown[0].contains("(default)"));
    assert!(!shown[0].contains("Make default"), "{shown:?}");
    assert!(shown[1].contains("Torstraße 1") && !shown[1].contains("(default)"));
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let default: String =
        sqlx::query_scalar("SELECT address1 FROM customer_addresses WHERE is_default")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(default, "1 Market Street");
    drop(tx);

    // The first Delete button is the Leeds address's: it goes, Berlin stays.
    chrome.submit("address-delete").await;
    let shown = texts(&chrome, "[data-address]").await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].contains("Torstraße 1"), "{shown:?}");
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let kept: Vec<String> = sqlx::query_scalar("SELECT address1 FROM customer_addresses")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(kept, ["Torstraße 1"]);
    drop(tx);

    // Signed out, the account is behind the sign-in page; the old password no longer works.
    chrome.submit("account-logout").await;
    assert_eq!(chrome.path().await, "/");
    chrome.visit("/account").await;
    assert_eq!(chrome.path().await, "/account/login");
    chrome
        .fill_form(
            "account-login",
            &[
                ("email", "ann@buyer.example"),
                ("password", "a long password 1"),
            ],
        )
        .await;
    chrome.expect_status(422).submit("account-login").await;
    assert!(
        chrome
            .text()
            .await
            .contains("The email address or password is not right.")
    );
    chrome
        .fill_form(
            "account-login",
            &[
                ("email", "ann@buyer.example"),
                ("password", "a new password 2"),
            ],
        )
        .await;
    chrome.submit("account-login").await;
    assert_eq!(chrome.path().await, "/account");
    assert_eq!(chrome.text_of("h1").await, "Hello, Anna");
    chrome.close().await;
}
