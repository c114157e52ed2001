//! The merchant admin's catalog, content and order forms, submitted in Chrome as a merchant does.

use std::time::{Duration, Instant};

use platform::tenancy::Tenant;
use storefront_tests::TestApp;
use storefront_tests::browser::Chrome;
use tenant_store::customers;
use tenant_store::enquiries::{self, EnquiryInput};
use tenant_store::orders::{self, Order, PlaceOrder};
use uuid::Uuid;

use super::{png_file, signed_in_owner};
use crate::fixtures;

/// One value of the store's database (`sql` returns one row and column).
async fn scalar<T>(app: &TestApp, t: &Tenant, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let value = sqlx::query_scalar(sql)
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.unwrap();
    value
}

/// The storefront's answer to `path`, as a shopper's browser gets it.
async fn storefront(app: &TestApp, chrome: &Chrome, path: &str) -> (u16, String) {
    app.get_text(&chrome.host, path).await
}

/// Reads `path` on the storefront until `done` holds (the search index follows writes a
/// moment later), for up to ten seconds.
async fn storefront_until(
    app: &TestApp,
    chrome: &Chrome,
    path: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let started = Instant::now();
    loop {
        let (_, body) = storefront(app, chrome, path).await;
        if done(&body) || started.elapsed() > Duration::from_secs(10) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `data-product` handles the admin's product list shows.
async fn listed_products(chrome: &Chrome) -> Vec<String> {
    let handles = chrome
        .js(
            "return Array.from(document.querySelectorAll('tr[data-product]')).map(r => r.dataset.product);",
            vec![],
        )
        .await;
    serde_json::from_value(handles).unwrap()
}

/// A small Shopify product export: two products and one row whose price is not a price.
const SHOPIFY_CSV: &str = "\
Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Variant SKU,Variant Grams,Variant Inventory Tracker,Variant Inventory Qty,Variant Price,Status
enamel-mug,Enamel Mug,<p>A camp mug.</p>,Acme,Mugs,camp,true,Title,Default Title,MUG-EN,300,shopify,12,14.00,active
tea-towel,Tea Towel,<p>Linen.</p>,Acme,Linen,,true,Title,Default Title,TOWEL-1,100,shopify,5,9.50,active
broken-bowl,Broken Bowl,,Acme,Bowls,,true,Title,Default Title,BOWL-1,400,shopify,1,abc,active
";

#[tokio::test]
async fn the_merchant_manages_products_images_collections_stock_and_imports() {
    let app = TestApp::spawn().await;
    let (t, mut chrome) = signed_in_owner(&app, "catalog", "admin-catalog-products").await;
    let shirt = fixtures::product(&app, &t, "Linen Shirt", 4_990, 8).await;
    fixtures::product(&app, &t, "Wool Hat", 2_500, 4).await;
    fixtures::product(&app, &t, "Old Mug", 900, 2).await;

    // Searching narrows the list to what matches.
    chrome.visit("/admin/products").await;
    assert_eq!(listed_products(&chrome).await.len(), 3);
    chrome.fill_form("products-search", &[("q", "hat")]).await;
    chrome.submit("products-search").await;
    assert_eq!(listed_products(&chrome).await, ["wool-hat"]);
    assert_eq!(
        chrome.value("#q").await,
        "hat",
        "the search stays in its box"
    );

    // Archiving two products at once takes them off the storefront.
    chrome.visit("/admin/products").await;
    for handle in ["wool-hat", "old-mug"] {
        chrome
            .set_checked(
                &format!("tr[data-product=\"{handle}\"] input[name=ids]"),
                true,
            )
            .await;
    }
    chrome.select("#action", "Archive").await;
    chrome.submit("products-bulk").await;
    assert_eq!(chrome.path().await, "/admin/products");
    assert_eq!(
        chrome
            .text_of("tr[data-product=\"wool-hat\"] td:nth-child(3)")
            .await,
        "archived"
    );
    assert_eq!(
        scalar::<i64>(
            &app,
            &t,
            "SELECT count(*) FROM products WHERE status = 'archived'"
        )
        .await,
        2
    );
    assert_eq!(storefront(&app, &chrome, "/products/wool-hat").await.0, 404);
    assert_eq!(
        storefront(&app, &chrome, "/products/linen-shirt").await.0,
        200
    );

    // Deleting a product from its editor.
    chrome.follow("tr[data-product=\"old-mug\"] a").await;
    chrome.submit("product-delete").await;
    assert_eq!(chrome.path().await, "/admin/products");
    let mut left = listed_products(&chrome).await;
    left.sort();
    assert_eq!(left, ["linen-shirt", "wool-hat"]);
    assert_eq!(
        scalar::<i64>(
            &app,
            &t,
            "SELECT count(*) FROM products WHERE handle = 'old-mug'"
        )
        .await,
        0
    );

    // An image: uploaded, described for screen readers, then deleted.
    chrome.follow("tr[data-product=\"linen-shirt\"] a").await;
    let editor = chrome.path().await;
    let (_dir, picture) = png_file(640, 480);
    chrome.upload("#image", &picture).await;
    chrome.submit("image-upload").await;
    assert_eq!(chrome.path().await, editor);
    assert!(chrome.text_of("#images").await.contains("640×480 pixels"));
    chrome
        .fill_form("image-alt", &[("alt", "The shirt folded on a chair")])
        .await;
    chrome.submit("image-alt").await;
    assert_eq!(
        chrome.attr("li[data-image] img", "alt").await.as_deref(),
        Some("The shirt folded on a chair")
    );
    let (status, page) = storefront(&app, &chrome, "/products/linen-shirt").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("alt=\"The shirt folded on a chair\""),
        "shoppers' screen readers get the text: {page}"
    );
    chrome.submit("image-delete").await;
    assert!(chrome.text_of("#images").await.contains("No images yet."));
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM product_images").await,
        0
    );

    // A collection made and deleted: its storefront page goes with it.
    chrome.visit("/admin/collections/new").await;
    chrome
        .fill_form(
            "collection-save",
            &[("title", "Summer picks"), ("products", "linen-shirt")],
        )
        .await;
    chrome.set_checked("input[name=published]", true).await;
    chrome.submit("collection-save").await;
    let (status, page) = storefront(&app, &chrome, "/collections/summer-picks").await;
    assert_eq!(status, 200);
    assert!(page.contains("Linen Shirt"), "{page}");
    chrome.submit("collection-delete").await;
    assert_eq!(chrome.path().await, "/admin/collections");
    assert!(chrome.text().await.contains("No collections yet."));
    assert_eq!(
        storefront(&app, &chrome, "/collections/summer-picks")
            .await
            .0,
        404
    );

    // Stock: find a variant by SKU, count it again, and the history says why.
    chrome.visit("/admin/inventory").await;
    chrome
        .fill_form("inventory-search", &[("q", "LINEN-SHIRT")])
        .await;
    chrome.submit("inventory-search").await;
    let rows = chrome
        .js(
            "return document.querySelectorAll('tr[data-variant]').length;",
            vec![],
        )
        .await;
    assert_eq!(rows, 1, "{}", chrome.text().await);
    chrome
        .fill_form(
            "inventory-set",
            &[("quantity", "3"), ("reason", "recounted the shelf")],
        )
        .await;
    chrome.submit("inventory-set").await;
    assert_eq!(
        chrome.path().await,
        format!("/admin/inventory/{}", shirt.variant)
    );
    let history = chrome.text_of("tr.adjustment").await;
    assert!(
        history.contains("-5") && history.contains("recounted the shelf"),
        "{history}"
    );
    assert_eq!(fixtures::stock(&app, &t, shirt.variant).await, 3);

    // A Shopify CSV: the good products arrive, the bad row is reported by line and column.
    // The products table is held locked meanwhile, so the merchant first meets the progress
    // page, which must follow the import to its end without reloading.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("products_export.csv");
    std::fs::write(&csv, SHOPIFY_CSV).unwrap();
    chrome.visit("/admin/products/import").await;
    chrome.upload("#file", &csv).await;
    let mut hold = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query("LOCK TABLE products IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *hold)
        .await
        .unwrap();
    chrome.submit("products-import").await;
    assert!(chrome.path().await.starts_with("/admin/products/import/"));
    assert!(
        chrome
            .text_of("[data-status=running]")
            .await
            .contains("Importing: 0 of"),
        "{}",
        chrome.text().await
    );
    chrome.js("window.__samePage = true;", vec![]).await;
    hold.rollback().await.unwrap();
    chrome
        .wait_until(
            "the import's page to show the finished import",
            "return document.querySelector('[data-status=done]') !== null;",
        )
        .await;
    assert_eq!(
        chrome
            .js("return window.__samePage === true;", vec![])
            .await,
        true,
        "the page followed the import in place, without a reload"
    );
    chrome.check().await;
    assert_eq!(chrome.text_of("[data-count=created]").await, "2");
    assert_eq!(chrome.text_of("[data-count=failed]").await, "1");
    let error = chrome.text_of("[data-error-line=\"4\"]").await;
    assert!(
        error.contains("Variant Price") && error.contains("abc"),
        "{error}"
    );
    chrome.visit("/admin/products/import").await;
    assert_eq!(
        chrome.text_of("tr[data-job] td:nth-child(5)").await,
        "2",
        "the recent imports list what each created"
    );
    chrome.visit("/admin/products?q=acme").await;
    assert_eq!(listed_products(&chrome).await.len(), 2);
    assert_eq!(
        storefront(&app, &chrome, "/products/enamel-mug").await.0,
        200
    );
    assert_eq!(
        storefront(&app, &chrome, "/products/broken-bowl").await.0,
        404
    );

    chrome.close().await;
}

/// The source of a home page with `marker` in it, as a merchant types it.
fn home_with(marker: &str) -> String {
    format!(
        "{{% extends \"store/base.html\" %}}\n{{% block content %}}\n<h1>{marker}</h1>\n{{% endblock content %}}\n"
    )
}

#[tokio::test]
async fn the_merchant_writes_pages_posts_menus_synonyms_and_the_theme() {
    let app = TestApp::spawn().await;
    let (t, mut chrome) = signed_in_owner(&app, "content", "admin-catalog-content").await;
    fixtures::product(&app, &t, "Velvet Sofa", 89_000, 1).await;

    // A page refused for its blank title: the message stands by the field, nothing is saved.
    chrome.visit("/admin/pages/new").await;
    chrome
        .fill_form(
            "page-save",
            &[("title", " "), ("body", "We ship **every** weekday.")],
        )
        .await;
    chrome.expect_status(422).submit("page-save").await;
    let error = chrome.field_error("#title").await;
    assert!(error.contains("can't be blank"), "{error}");
    assert_eq!(chrome.value("#body").await, "We ship **every** weekday.");
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM pages").await,
        0
    );

    // Corrected, it is saved and published.
    chrome
        .fill_form("page-save", &[("title", "Shipping")])
        .await;
    chrome.set_checked("input[name=published]", true).await;
    chrome.submit("page-save").await;
    assert_eq!(chrome.value("#handle").await, "shipping");
    let (status, page) = storefront(&app, &chrome, "/pages/shipping").await;
    assert_eq!(status, 200);
    assert!(page.contains("<strong>every</strong>"), "{page}");
    chrome.submit("page-delete").await;
    assert_eq!(chrome.path().await, "/admin/pages");
    assert!(chrome.text().await.contains("No pages yet."));
    assert_eq!(storefront(&app, &chrome, "/pages/shipping").await.0, 404);

    // A blog post, published then deleted.
    chrome.visit("/admin/blogs/news/articles/new").await;
    chrome
        .fill_form(
            "article-save",
            &[
                ("title", "Autumn sale"),
                ("body", "Everything *half* price."),
            ],
        )
        .await;
    chrome.set_checked("input[name=published]", true).await;
    chrome.submit("article-save").await;
    let (status, post) = storefront(&app, &chrome, "/blogs/news/autumn-sale").await;
    assert_eq!(status, 200);
    assert!(post.contains("<em>half</em>"), "{post}");
    chrome.visit("/admin/blogs/news/articles").await;
    chrome.follow("tr[data-article=\"autumn-sale\"] a").await;
    chrome.submit("article-delete").await;
    assert_eq!(chrome.path().await, "/admin/blogs/news/articles");
    assert!(chrome.text().await.contains("No posts yet."));
    assert_eq!(
        storefront(&app, &chrome, "/blogs/news/autumn-sale").await.0,
        404
    );

    // A menu of its own, then gone; the theme's own menus stay.
    chrome.visit("/admin/menus/new").await;
    chrome
        .fill_form(
            "menu-save",
            &[
                ("title", "Help"),
                ("i0_title", "Search"),
                ("i0_kind", "url"),
                ("i0_target", "/search"),
            ],
        )
        .await;
    chrome.submit("menu-save").await;
    chrome.visit("/admin/menus").await;
    assert_eq!(
        chrome.text_of("tr[data-menu=help] td:nth-child(3)").await,
        "1"
    );
    chrome.follow("tr[data-menu=help] a").await;
    chrome.submit("menu-delete").await;
    assert_eq!(chrome.path().await, "/admin/menus");
    assert!(!chrome.has("tr[data-menu=help]").await);
    assert!(chrome.has("tr[data-menu=main-menu]").await);

    // Synonyms widen the storefront's search, and deleting them narrows it again.
    let finds_sofa = |body: &str| body.contains("href=\"/products/velvet-sofa\"");
    assert!(finds_sofa(
        &storefront_until(&app, &chrome, "/search?q=sofa", finds_sofa).await
    ));
    assert!(!finds_sofa(
        &storefront(&app, &chrome, "/search?q=couch").await.1
    ));
    chrome.visit("/admin/search/synonyms").await;
    chrome
        .fill_form("synonyms-add", &[("terms", "sofa, couch")])
        .await;
    chrome.submit("synonyms-add").await;
    assert!(
        chrome
            .text_of("li[data-group]")
            .await
            .contains("sofa, couch")
    );
    assert!(finds_sofa(
        &storefront_until(&app, &chrome, "/search?q=couch", finds_sofa).await
    ));
    chrome.submit("synonyms-delete").await;
    assert!(chrome.text().await.contains("No synonyms yet."));
    assert!(!finds_sofa(
        &storefront_until(&app, &chrome, "/search?q=couch", |b| !finds_sofa(b)).await
    ));

    // The theme: a home page of the merchant's own shows on the store.
    chrome.visit("/admin/theme").await;
    chrome
        .follow("tr[data-template=\"store/home.html\"] a")
        .await;
    chrome
        .fill_form(
            "theme-save",
            &[("source", &home_with("Handmade since 1999"))],
        )
        .await;
    chrome.submit("theme-save").await;
    assert!(
        chrome
            .text_of("[role=status]")
            .await
            .contains("Saved store/home.html")
    );
    assert!(
        chrome
            .text_of("tr[data-template=\"store/home.html\"]")
            .await
            .contains("Customised")
    );
    assert!(
        storefront(&app, &chrome, "/")
            .await
            .1
            .contains("<h1>Handmade since 1999</h1>")
    );

    // A syntax error is shown with its line; the store keeps the saved version.
    chrome.visit("/admin/theme/edit?name=store/home.html").await;
    let broken = "{% extends \"store/base.html\" %}\n{% block content %}\n<h1>Broken</h1>\n{% if %}\n{% endblock content %}\n";
    chrome.fill_form("theme-save", &[("source", broken)]).await;
    chrome.expect_status(422).submit("theme-save").await;
    let error = chrome.field_error("#source").await;
    assert!(error.contains("Not saved: line 4"), "{error}");
    assert!(
        chrome.value("#source").await.contains("<h1>Broken</h1>"),
        "the text is kept"
    );
    let home = storefront(&app, &chrome, "/").await.1;
    assert!(
        home.contains("Handmade since 1999") && !home.contains("Broken"),
        "{home}"
    );
    assert_eq!(
        scalar::<String>(&app, &t, "SELECT source FROM theme_templates").await,
        home_with("Handmade since 1999")
    );

    // Reset from the editor, then from the list.
    chrome.visit("/admin/theme/edit?name=store/home.html").await;
    chrome.submit("theme-reset").await;
    assert!(
        chrome
            .text_of("[role=status]")
            .await
            .contains("back to the default")
    );
    assert!(
        !storefront(&app, &chrome, "/")
            .await
            .1
            .contains("Handmade since 1999")
    );
    chrome.visit("/admin/theme/edit?name=store/page.html").await;
    chrome
        .fill_form(
            "theme-save",
            &[("source", &home_with("Our own page frame"))],
        )
        .await;
    chrome.submit("theme-save").await;
    chrome.submit("themes-reset").await;
    assert!(
        chrome
            .text_of("[role=status]")
            .await
            .contains("store/page.html is back")
    );
    assert!(!chrome.text().await.contains("Customised"));
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM theme_templates").await,
        0
    );

    chrome.close().await;
}

/// Places an order of `quantity` units of `variant` by `email`, the customer on record.
async fn place(app: &TestApp, t: &Tenant, variant: Uuid, quantity: i32, email: &str) -> Order {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let name = email.split('@').next().unwrap();
    let customer = customers::ensure_for_checkout(&mut tx, email, name, "Tester")
        .await
        .unwrap();
    let input = PlaceOrder {
        email: email.into(),
        customer_id: Some(customer),
        ..fixtures::order(&[(variant, quantity)], &Uuid::new_v4().to_string())
    };
    let order = orders::place_order(&mut tx, &input).await.unwrap();
    tx.commit().await.unwrap();
    order
}

/// The order as stored now.
async fn reload(app: &TestApp, t: &Tenant, id: Uuid) -> Order {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    orders::get_order(&mut tx, id).await.unwrap()
}

#[tokio::test]
async fn the_merchant_handles_orders_customers_and_messages() {
    let app = TestApp::spawn().await;
    let (t, mut chrome) = signed_in_owner(&app, "orders", "admin-catalog-orders").await;
    let mug = fixtures::product(&app, &t, "Mug", 1_200, 10).await.variant;
    let ada = place(&app, &t, mug, 1, "ada@example.com").await;
    let grace = place(&app, &t, mug, 3, "grace@example.com").await;
    assert_eq!(fixtures::stock(&app, &t, mug).await, 6);

    // Search finds one order by the customer's email.
    chrome.visit("/admin/orders").await;
    chrome.fill_form("orders-search", &[("q", "grace")]).await;
    chrome.submit("orders-search").await;
    let listed = chrome
        .js(
            "return Array.from(document.querySelectorAll('tr[data-order]')).map(r => r.dataset.order);",
            vec![],
        )
        .await;
    assert_eq!(listed, serde_json::json!([grace.number.to_string()]));

    // A bank transfer arrived: marked paid, with a note for the team.
    chrome.visit(&format!("/admin/orders/{}", ada.id)).await;
    chrome.submit("order-mark-paid").await;
    assert_eq!(chrome.text_of("[data-financial-status]").await, "Paid");
    assert!(!chrome.has("form[data-form=order-mark-paid]").await);
    chrome
        .fill_form("order-note", &[("note", "Paid by transfer, ref 4411")])
        .await;
    chrome.submit("order-note").await;
    assert!(
        chrome
            .text_of("li[data-event=note]")
            .await
            .contains("Paid by transfer, ref 4411")
    );
    let paid = reload(&app, &t, ada.id).await;
    assert_eq!(paid.financial_status, "paid");

    // Grace's order is cancelled: its units go back on the shelf.
    chrome.visit(&format!("/admin/orders/{}", grace.id)).await;
    chrome
        .fill_form("order-cancel", &[("reason", "Customer changed their mind")])
        .await;
    chrome.submit("order-cancel").await;
    assert!(
        chrome
            .text_of("dd[data-status]")
            .await
            .contains("Customer changed their mind")
    );
    assert_eq!(reload(&app, &t, grace.id).await.status, "cancelled");
    assert_eq!(fixtures::stock(&app, &t, mug).await, 9);

    // Store credit for Ada: an amount that is no amount is refused by its field, then a
    // real one is added.
    chrome.visit("/admin/customers").await;
    chrome.fill_form("customers-search", &[("q", "ada@")]).await;
    chrome.submit("customers-search").await;
    let rows = chrome
        .js(
            "return document.querySelectorAll('tr[data-customer]').length;",
            vec![],
        )
        .await;
    assert_eq!(rows, 1, "{}", chrome.text().await);
    chrome.follow("tr[data-customer] a").await;
    let customer_page = chrome.path().await;
    chrome
        .fill_form(
            "customer-credit",
            &[("amount", "lots"), ("reason", "Late parcel")],
        )
        .await;
    chrome.expect_status(422).submit("customer-credit").await;
    let error = chrome.field_error("#amount").await;
    assert!(error.contains("“lots” is not an amount"), "{error}");
    assert_eq!(
        chrome.value("#reason").await,
        "Late parcel",
        "the input is kept"
    );
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM store_credit_ledger").await,
        0
    );
    chrome
        .fill_form("customer-credit", &[("amount", "25.00")])
        .await;
    chrome.submit("customer-credit").await;
    assert_eq!(chrome.path().await, customer_page);
    assert_eq!(chrome.text_of(".credit-balance").await, "25.00 USD");
    assert!(
        chrome
            .text_of("tr.ledger-entry")
            .await
            .contains("Late parcel")
    );

    // A shopper's message, marked handled and open again.
    {
        let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
        enquiries::create(
            &mut tx,
            &EnquiryInput {
                name: "Linus".into(),
                email: "linus@example.org".into(),
                body: "Do you ship to Finland?".into(),
                ..EnquiryInput::default()
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    chrome.visit("/admin/enquiries").await;
    assert!(chrome.text_of("tr[data-enquiry]").await.contains("Open"));
    chrome.submit("enquiry-handled").await;
    assert!(chrome.text_of("tr[data-enquiry]").await.contains("Handled"));
    assert_eq!(
        scalar::<i64>(
            &app,
            &t,
            "SELECT count(*) FROM enquiries WHERE handled_at IS NOT NULL"
        )
        .await,
        1
    );
    chrome
        .submit_button("enquiry-handled", "Mark as open")
        .await;
    assert_eq!(
        scalar::<i64>(
            &app,
            &t,
            "SELECT count(*) FROM enquiries WHERE handled_at IS NOT NULL"
        )
        .await,
        0
    );

    // The audit log says who did what to the orders and the customer.
    chrome.visit("/admin/audit").await;
    let audit = chrome.text_of("table").await;
    for action in ["order.mark_paid", "order.cancel", "customer.credit.adjust"] {
        assert!(
            audit.contains(&format!("owner@orders.example.com\t{action}")),
            "{action}: {audit}"
        );
    }

    chrome.close().await;
}
