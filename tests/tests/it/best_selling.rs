//! "Best selling" and "You may also like" from orders, through HTTP: orders placed and paid
//! at checkout with the test card, cancelled from the admin; the collection page's sort
//! (keyset pages included), a collection whose own order is best selling, the product
//! page's suggestions, and that another store's orders change nothing here.

use super::checkout::{address_fields, field_value, token_of};
use super::fixtures::{Item, product};

use platform::tenancy::Tenant;
use storefront_tests::{Browser, TestApp};
use tenant_store::pricing::ShippingRule;
use tenant_store::shipping::{self, ShippingRateInput};
use uuid::Uuid;

/// A store whose shoppers can pay with the test card and ship anywhere for 5.00.
async fn open_for_business(app: &TestApp, t: &Tenant) {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    tenant_store::payments::save_gateway(
        &mut tx,
        "test",
        true,
        "Card (test)",
        &serde_json::json!({"gateway": "test"}),
    )
    .await
    .unwrap();
    shipping::create_rate(
        &mut tx,
        &ShippingRateInput {
            name: "Standard".into(),
            countries: Vec::new(),
            rule: ShippingRule::Flat { price_minor: 500 },
            position: 0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// `count` products "`prefix` 01", "`prefix` 02", ..., created (so published) in that order.
async fn products(app: &TestApp, t: &Tenant, prefix: &str, count: usize) -> Vec<Item> {
    let mut items = Vec::new();
    for i in 1..=count {
        items.push(product(app, t, &format!("{prefix} {i:02}"), 1000 + i as i64, 50).await);
    }
    items
}

/// A shopper on `sub`'s storefront puts `lines` in the cart and places the order; with
/// `pay`, pays it with the test card. Returns the order's id.
async fn buy(app: &TestApp, t: &Tenant, sub: &str, lines: &[(&Item, u32)], pay: bool) -> Uuid {
    let mut shopper = app.browser(&TestApp::store_host(sub));
    for (item, quantity) in lines {
        let added = shopper
            .post_form(
                "/cart/add",
                &[
                    ("product", &item.handle),
                    ("id", &item.variant.to_string()),
                    ("quantity", &quantity.to_string()),
                ],
            )
            .await;
        assert_eq!(added.status, 303, "{}", added.body);
    }
    let page = shopper.get("/checkout").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (csrf, key) = (page.csrf(), field_value(&page, "checkout_key"));
    let mut fields = address_fields(&csrf, &key, "test");
    fields.push(("action", "pay"));
    let placed = shopper.post_form("/checkout", &fields).await;
    assert_eq!(placed.status, 303, "{}", placed.body);
    let pay_url = placed.location.unwrap();
    let token = token_of(&pay_url);
    if pay {
        let form = shopper.get(&pay_url).await;
        let paid = shopper
            .post_form(
                &pay_url,
                &[
                    ("_csrf", &form.csrf()),
                    ("card_number", "4242 4242 4242 4242"),
                ],
            )
            .await;
        assert_eq!(paid.status, 303, "{}", paid.body);
    }
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query_scalar("SELECT id FROM orders WHERE token = $1")
        .bind(&token)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

/// The merchant cancels an order from the admin (a paid one is refunded in full).
async fn cancel(owner: &mut Browser<'_>, order_id: Uuid) {
    let page = owner.get(&format!("/admin/orders/{order_id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = owner
        .post_form(
            &format!("/admin/orders/{order_id}/cancel"),
            &[("_csrf", &page.csrf()), ("reason", "customer changed mind")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
}

/// The merchant refunds `amount` of an order from the admin, without restocking.
async fn refund(owner: &mut Browser<'_>, order_id: Uuid, amount: &str) {
    let page = owner.get(&format!("/admin/orders/{order_id}")).await;
    let done = owner
        .post_form(
            &format!("/admin/orders/{order_id}/refund"),
            &[("_csrf", &page.csrf()), ("amount", amount)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
}

/// The product card titles in `html`, in page order.
fn titles(html: &str) -> Vec<String> {
    html.split("<span class=\"card-title\">")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect()
}

/// The titles "You may also like" shows on a product page.
fn suggested(page: &str) -> Vec<String> {
    page.find("You may also like")
        .map(|at| titles(&page[at..]))
        .unwrap_or_default()
}

/// The `rel` ("next" / "prev") link of a listing page, as a path.
fn link(page: &str, rel: &str) -> Option<String> {
    page.split(&format!("<a rel=\"{rel}\" href=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
}

async fn get_ok(app: &TestApp, sub: &str, path: &str) -> String {
    let (status, body) = app.get_text(&TestApp::store_host(sub), path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn names(prefix: &str, numbers: &[usize]) -> Vec<String> {
    numbers.iter().map(|n| format!("{prefix} {n:02}")).collect()
}

#[tokio::test]
async fn best_selling_counts_paid_units_only_and_pages_by_keyset() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("bs-sort", "Best Sellers").await;
    open_for_business(&app, &t).await;
    let items = products(&app, &t, "Item", 26).await;

    let three = buy(&app, &t, "bs-sort", &[(&items[0], 3)], true).await;
    buy(&app, &t, "bs-sort", &[(&items[1], 2), (&items[2], 1)], true).await;
    // Placed, never paid: not a sale.
    buy(&app, &t, "bs-sort", &[(&items[3], 5)], false).await;
    // Paid, then cancelled: no longer a sale.
    let cancelled = buy(&app, &t, "bs-sort", &[(&items[4], 4)], true).await;
    let before_cancel = get_ok(&app, "bs-sort", "/collections/all?sort_by=best-selling").await;
    assert_eq!(titles(&before_cancel)[0], "Item 05", "4 paid units lead");
    cancel(&mut owner, cancelled).await;

    let first = get_ok(&app, "bs-sort", "/collections/all?sort_by=best-selling").await;
    assert!(
        first.contains("<option value=\"best-selling\" selected>Best selling</option>"),
        "the sort menu offers and shows it"
    );
    // 3, 2 and 1 units sold, then every other product newest first (ties: newest).
    let mut expected = names("Item", &[1, 2, 3]);
    expected.extend(names("Item", &(6..=26).rev().collect::<Vec<_>>()));
    assert_eq!(titles(&first), expected);

    let next = link(&first, "next").expect("a second page");
    assert!(next.contains("sort_by=best-selling"), "{next}");
    let second = get_ok(&app, "bs-sort", &next).await;
    assert_eq!(titles(&second), names("Item", &[5, 4]));
    assert!(link(&second, "next").is_none());
    let back = get_ok(
        &app,
        "bs-sort",
        &link(&second, "prev").expect("a previous page"),
    )
    .await;
    assert_eq!(titles(&back), expected);

    // A cursor of another shape is no page of this list.
    let (status, _) = app
        .get_text(
            &TestApp::store_host("bs-sort"),
            &format!(
                "/collections/all?sort_by=best-selling&after=12~{}",
                Uuid::nil()
            ),
        )
        .await;
    assert_eq!(status, 404);

    // A partial refund keeps the sale (3 × 10.01 + 5.00 shipping = 35.03); a full one ends it.
    refund(&mut owner, three, "5.00").await;
    let after_partial = get_ok(&app, "bs-sort", "/collections/all?sort_by=best-selling").await;
    assert_eq!(titles(&after_partial), expected);
    refund(&mut owner, three, "30.03").await;
    let after_full = get_ok(&app, "bs-sort", "/collections/all?sort_by=best-selling").await;
    let mut expected = names("Item", &[2, 3]);
    expected.extend(names("Item", &(5..=26).rev().collect::<Vec<_>>()));
    assert_eq!(titles(&after_full), expected);
    let rest = get_ok(&app, "bs-sort", &link(&after_full, "next").unwrap()).await;
    assert_eq!(titles(&rest), names("Item", &[4, 1]));
}

#[tokio::test]
async fn a_collection_sorted_by_best_selling_shows_it_as_featured() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("bs-coll", "Best Sellers").await;
    open_for_business(&app, &t).await;
    let items = products(&app, &t, "Mug", 4).await;
    // The merchant's own order: 04, 03, 02, 01; the collection sorts by best selling.
    let page = owner.get("/admin/collections/new").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let handles = [3, 2, 1, 0].map(|i| items[i].handle.as_str()).join("\n");
    let created = owner
        .post_form(
            "/admin/collections",
            &[
                ("_csrf", &page.csrf()),
                ("title", "Mugs"),
                ("kind", "manual"),
                ("sort_order", "best-selling"),
                ("published", "on"),
                ("products", &handles),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);

    // No sales yet: ties all round, newest first.
    let featured = get_ok(&app, "bs-coll", "/collections/mugs").await;
    assert_eq!(titles(&featured), names("Mug", &[4, 3, 2, 1]));

    buy(&app, &t, "bs-coll", &[(&items[0], 2)], true).await;
    buy(&app, &t, "bs-coll", &[(&items[1], 1)], true).await;
    buy(&app, &t, "bs-coll", &[(&items[2], 9)], false).await;
    let featured = get_ok(&app, "bs-coll", "/collections/mugs").await;
    assert_eq!(titles(&featured), names("Mug", &[1, 2, 4, 3]));
    // Another sort still applies when asked for.
    let by_title = get_ok(&app, "bs-coll", "/collections/mugs?sort_by=title-ascending").await;
    assert_eq!(titles(&by_title), names("Mug", &[1, 2, 3, 4]));
}

#[tokio::test]
async fn you_may_also_like_shows_what_is_bought_together_then_the_collection() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("bs-like", "Kitchen").await;
    open_for_business(&app, &t).await;
    let anchor = product(&app, &t, "Teapot", 3000, 50).await;
    let items = products(&app, &t, "Cup", 6).await;
    let page = owner.get("/admin/collections/new").await;
    let handles = [&anchor, &items[0], &items[1], &items[2], &items[3]]
        .map(|i| i.handle.as_str())
        .join("\n");
    let created = owner
        .post_form(
            "/admin/collections",
            &[
                ("_csrf", &page.csrf()),
                ("title", "Tea"),
                ("kind", "manual"),
                ("sort_order", "manual"),
                ("published", "on"),
                ("products", &handles),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let teapot = format!("/products/{}", anchor.handle);

    // No orders: the products after it in its collection.
    let page = get_ok(&app, "bs-like", &teapot).await;
    assert_eq!(suggested(&page), names("Cup", &[1, 2, 3, 4]));

    // Cup 06 is bought with the teapot twice, Cup 05 once; Cup 04 three times but unpaid.
    buy(&app, &t, "bs-like", &[(&anchor, 1), (&items[5], 1)], true).await;
    buy(&app, &t, "bs-like", &[(&items[5], 2), (&anchor, 1)], true).await;
    buy(&app, &t, "bs-like", &[(&anchor, 1), (&items[4], 3)], true).await;
    for _ in 0..3 {
        buy(&app, &t, "bs-like", &[(&anchor, 1), (&items[3], 1)], false).await;
    }
    // Bought without the teapot: not "together".
    buy(&app, &t, "bs-like", &[(&items[2], 7)], true).await;
    let page = get_ok(&app, "bs-like", &teapot).await;
    assert_eq!(suggested(&page), names("Cup", &[6, 5, 1, 2]));
    assert!(!suggested(&page).contains(&"Teapot".to_owned()));
    // From the other side too, and without duplicates once the collection fills in.
    let cup6 = get_ok(&app, "bs-like", &format!("/products/{}", items[5].handle)).await;
    let s = suggested(&cup6);
    assert_eq!(s[0], "Teapot");
    assert_eq!(s.len(), 4);
    let mut unique = s.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{s:?}");
}

#[tokio::test]
async fn another_stores_orders_change_nothing_here() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("bs-iso-a", "Store A").await;
    let b = app.create_tenant("bs-iso-b", "Store B").await;
    open_for_business(&app, &a).await;
    open_for_business(&app, &b).await;
    let in_a = products(&app, &a, "Lamp", 3).await;
    let in_b = products(&app, &b, "Lamp", 3).await;

    // Store B sells Lamp 01 (5 units) with Lamp 03; store A sells one Lamp 02.
    buy(&app, &b, "bs-iso-b", &[(&in_b[0], 5), (&in_b[2], 1)], true).await;
    buy(&app, &a, "bs-iso-a", &[(&in_a[1], 1)], true).await;

    let listing_a = get_ok(&app, "bs-iso-a", "/collections/all?sort_by=best-selling").await;
    assert_eq!(titles(&listing_a), names("Lamp", &[2, 3, 1]));
    let listing_b = get_ok(&app, "bs-iso-b", "/collections/all?sort_by=best-selling").await;
    assert_eq!(titles(&listing_b), names("Lamp", &[1, 3, 2]));

    // In A nothing was bought with Lamp 01: the newest products; in B, Lamp 03 first.
    let page_a = get_ok(&app, "bs-iso-a", &format!("/products/{}", in_a[0].handle)).await;
    assert_eq!(suggested(&page_a), names("Lamp", &[3, 2]));
    let page_b = get_ok(&app, "bs-iso-b", &format!("/products/{}", in_b[0].handle)).await;
    assert_eq!(suggested(&page_b), names("Lamp", &[3, 2]));
    // Lamp 02 was bought in A only, alone: nothing "together" anywhere, the newest.
    let page_b2 = get_ok(&app, "bs-iso-b", &format!("/products/{}", in_b[1].handle)).await;
    assert_eq!(suggested(&page_b2), names("Lamp", &[3, 1]));
    let page_a2 = get_ok(&app, "bs-iso-a", &format!("/products/{}", in_a[1].handle)).await;
    assert_eq!(suggested(&page_a2), names("Lamp", &[3, 1]));
}
