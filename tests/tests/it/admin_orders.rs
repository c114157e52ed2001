//! The merchant admin's order screens: the list with its filters and search, an order's
//! page, and the actions on it (mark paid, fulfil, refund, cancel, notes) with the emails
//! they send, permissions and tenant isolation.

use super::fixtures::{order, product, stock};
use std::time::Duration;

use platform::tenancy::Tenant;
use secrecy::SecretString;
use storefront_tests::smtp::{ReceivedMail, SmtpReceiver};
use storefront_tests::{Browser, Page, TestApp};
use tenant_store::customers::Address;
use tenant_store::orders::{self, Order, PlaceOrder};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(10);

async fn app_with_smtp() -> (TestApp, SmtpReceiver) {
    let smtp = SmtpReceiver::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(|s| s.smtp_url = Some(SecretString::from(url))).await;
    (app, smtp)
}

/// Places an order for `lines` by `email` shipping to `first last`.
async fn place(
    app: &TestApp,
    t: &Tenant,
    lines: &[(Uuid, i32)],
    email: &str,
    (first, last): (&str, &str),
) -> Order {
    let standard = order(lines, &Uuid::new_v4().to_string());
    let input = PlaceOrder {
        email: email.into(),
        shipping_address: Address {
            first_name: first.into(),
            last_name: last.into(),
            ..standard.shipping_address.clone()
        },
        ..standard
    };
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let order = orders::place_order(&mut tx, &input).await.unwrap();
    tx.commit().await.unwrap();
    order
}

/// Makes the order pay by bank transfer through the store's manual gateway.
async fn pay_manually(app: &TestApp, t: &Tenant, order: &Order) {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    tenant_store::payments::save_gateway(
        &mut tx,
        "manual",
        true,
        "Bank transfer",
        &serde_json::json!({"gateway": "manual", "instructions": "Pay to IBAN X"}),
    )
    .await
    .unwrap();
    orders::set_payment(
        &mut tx,
        order.id,
        "manual",
        &format!("manual_{}", order.id.simple()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn reload(app: &TestApp, t: &Tenant, id: Uuid) -> Order {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    orders::get_order(&mut tx, id).await.unwrap()
}

/// Posts an action form of the order page with the page's CSRF token.
async fn act(
    owner: &mut Browser<'_>,
    order_id: Uuid,
    action: &str,
    fields: &[(&str, &str)],
) -> Page {
    let page = owner.get(&format!("/admin/orders/{order_id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    owner
        .post_form(&format!("/admin/orders/{order_id}/{action}"), &all)
        .await
}

/// Like [`act`], expecting the redirect back to the order.
async fn act_ok(owner: &mut Browser<'_>, order_id: Uuid, action: &str, fields: &[(&str, &str)]) {
    let done = act(owner, order_id, action, fields).await;
    assert_eq!(done.status, 303, "{action}: {}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/admin/orders/{order_id}").as_str())
    );
}

/// Waits for a message to `to` whose subject contains `needle`.
async fn wait_for_mail(smtp: &SmtpReceiver, to: &str, needle: &str) -> ReceivedMail {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(m) = smtp
            .messages()
            .into_iter()
            .find(|m| m.to.iter().any(|r| r.contains(to)) && m.subject().contains(needle))
        {
            return m;
        }
        if tokio::time::Instant::now() >= deadline {
            let subjects: Vec<String> = smtp.messages().iter().map(|m| m.subject()).collect();
            panic!("no mail to {to} with {needle:?} within {WAIT:?}; got {subjects:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The order numbers a list page shows, in order.
fn listed(page: &Page) -> Vec<i64> {
    page.body
        .split("data-order=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn list_filters_and_search_find_the_right_orders() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("ordlist", "Order List").await;
    let mug = product(&app, &t, "Mug", 1200, 50).await.variant;
    let ada = place(
        &app,
        &t,
        &[(mug, 1)],
        "ada@example.com",
        ("Ada", "Lovelace"),
    )
    .await;
    let grace = place(
        &app,
        &t,
        &[(mug, 2)],
        "grace@example.com",
        ("Grace", "Hopper"),
    )
    .await;
    let linus = place(
        &app,
        &t,
        &[(mug, 1)],
        "linus@example.org",
        ("Linus", "Torvalds"),
    )
    .await;
    {
        let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
        orders::mark_paid(&mut tx, grace.id, "ref_grace", grace.total_minor)
            .await
            .unwrap();
        orders::cancel(&mut tx, linus.id, "duplicate")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let (a, g, l) = (ada.number, grace.number, linus.number);

    let all = owner.get("/admin/orders").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(listed(&all), vec![l, g, a], "newest first");
    assert!(all.body.contains("grace@example.com"));
    assert!(all.body.contains("Grace Hopper"));
    assert!(all.body.contains("$24.00"), "totals in money: {}", all.body);

    let cases: &[(&str, Vec<i64>)] = &[
        ("financial_status=paid", vec![g]),
        ("financial_status=pending", vec![a]),
        ("financial_status=voided", vec![l]),
        ("status=cancelled", vec![l]),
        ("status=open", vec![g, a]),
        ("fulfillment_status=unfulfilled", vec![l, g, a]),
        ("fulfillment_status=fulfilled", vec![]),
        ("status=open&financial_status=pending", vec![a]),
        ("q=1001", vec![a]),
        ("q=%231002", vec![g]),
        ("q=grace", vec![g]),
        ("q=example.org", vec![l]),
        ("q=lovelace", vec![a]),
        ("q=nobody", vec![]),
        ("before=1003", vec![g, a]),
        ("before=1002", vec![a]),
    ];
    for (query, want) in cases {
        let page = owner.get(&format!("/admin/orders?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(&listed(&page), want, "{query}");
    }
    assert_eq!((a, g, l), (1001, 1002, 1003));

    let bad = owner.get("/admin/orders?financial_status=stolen").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
}

#[tokio::test]
async fn the_list_pages_with_older_orders_links() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("ordpages", "Order Pages").await;
    let mug = product(&app, &t, "Mug", 500, 200).await.variant;
    for i in 0..52 {
        place(
            &app,
            &t,
            &[(mug, 1)],
            &format!("p{i}@example.com"),
            ("P", "Q"),
        )
        .await;
    }
    let first = owner.get("/admin/orders").await;
    let numbers = listed(&first);
    assert_eq!(numbers.len(), 50);
    assert_eq!(numbers[0], 1052);
    assert_eq!(numbers[49], 1003);
    let marker = "rel=\"next\" href=\"";
    let start = first.body.find(marker).expect("an Older orders link") + marker.len();
    let href = &first.body[start..start + first.body[start..].find('"').unwrap()];
    assert!(first.body.contains("Older orders"));
    assert!(href.contains("before=1003"), "{href}");
    let second = owner.get(&href.replace("&amp;", "&")).await;
    assert_eq!(listed(&second), vec![1002, 1001]);
    assert!(!second.body.contains("Older orders"));
}

#[tokio::test]
async fn order_page_shows_lines_totals_payment_and_flag() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("ordshow", "Order Show").await;
    let mug = product(&app, &t, "Blue Mug", 1250, 10).await.variant;
    let order = place(
        &app,
        &t,
        &[(mug, 2)],
        "ada@example.com",
        ("Ada", "Lovelace"),
    )
    .await;
    pay_manually(&app, &t, &order).await;
    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for want in [
        "Order #1001",
        "ada@example.com",
        "1 Analytical Way",
        "Blue Mug",
        "BLUE-MUG",
        "$12.50",
        "$25.00",
        "manual",
        &format!("manual_{}", order.id.simple()),
        "data-financial-status=\"pending\"",
        "Mark as paid",
        "Order placed",
    ] {
        assert!(page.body.contains(want), "missing {want:?}: {}", page.body);
    }
    assert!(!page.body.contains("Payment needs your attention"));
    {
        let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
        orders::flag_payment(&mut tx, order.id, "amount 10.00 does not match")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert!(page.body.contains("Payment needs your attention"));
    assert!(page.body.contains("amount 10.00 does not match"));
    assert!(page.body.contains("Payment flagged for review"));

    let missing = owner
        .get(&format!("/admin/orders/{}", Uuid::now_v7()))
        .await;
    assert_eq!(missing.status, 404);
    let junk = owner.get("/admin/orders/not-an-id").await;
    assert_eq!(junk.status, 404);
}

#[tokio::test]
async fn mark_paid_records_the_payment_and_emails_the_shopper() {
    let (app, smtp) = app_with_smtp().await;
    let (t, mut owner) = app.store_with_owner("ordpaid", "Paid Shop").await;
    let mug = product(&app, &t, "Mug", 1200, 10).await.variant;
    let order = place(&app, &t, &[(mug, 1)], "payer@example.com", ("Pay", "Er")).await;
    pay_manually(&app, &t, &order).await;

    act_ok(&mut owner, order.id, "mark-paid", &[]).await;
    let paid = reload(&app, &t, order.id).await;
    assert_eq!(paid.financial_status, "paid");
    assert_eq!(
        paid.payment_ref.as_deref(),
        Some(format!("manual_{}", order.id.simple()).as_str())
    );
    let mail = wait_for_mail(&smtp, "payer@example.com", "Payment received").await;
    assert!(mail.subject().contains("#1001"), "{}", mail.subject());
    assert!(mail.text_body().contains("$12.00"), "{}", mail.text_body());

    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert!(page.body.contains("data-financial-status=\"paid\""));
    assert!(
        page.body.contains("Payment of $12.00 received"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Mark as paid"));

    // Paying again changes nothing and sends nothing more.
    let again = owner
        .post_form(
            &format!("/admin/orders/{}/mark-paid", order.id),
            &[("_csrf", &page.csrf())],
        )
        .await;
    assert_eq!(again.status, 303);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let audit: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'order.mark_paid'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn partial_then_full_fulfilment_with_tracking() {
    let (app, smtp) = app_with_smtp().await;
    let (t, mut owner) = app.store_with_owner("ordship", "Ship Shop").await;
    let mug = product(&app, &t, "Mug", 1000, 10).await.variant;
    let tee = product(&app, &t, "Tee", 2000, 10).await.variant;
    let order = place(
        &app,
        &t,
        &[(mug, 3), (tee, 1)],
        "ship@example.com",
        ("S", "H"),
    )
    .await;
    pay_manually(&app, &t, &order).await;

    // Not paid yet: fulfilling is refused, nothing changes.
    let early = act(
        &mut owner,
        order.id,
        "fulfil",
        &[
            ("ship_1", "1"),
            ("ship_2", "0"),
            ("carrier", "UPS"),
            ("tracking_number", "1Z1"),
        ],
    )
    .await;
    assert_eq!(early.status, 422, "{}", early.body);
    assert!(
        early.body.contains("data-field=\"status\""),
        "{}",
        early.body
    );
    assert_eq!(
        reload(&app, &t, order.id).await.fulfillment_status,
        "unfulfilled"
    );

    act_ok(&mut owner, order.id, "mark-paid", &[]).await;
    // The form offers everything left by default.
    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert!(
        page.body
            .contains("name=\"ship_1\" type=\"number\" min=\"0\" max=\"3\" value=\"3\"")
    );

    act_ok(
        &mut owner,
        order.id,
        "fulfil",
        &[
            ("ship_1", "2"),
            ("ship_2", "0"),
            ("carrier", "UPS"),
            ("tracking_number", "1Z999AA1"),
            ("tracking_url", ""),
        ],
    )
    .await;
    let partial = reload(&app, &t, order.id).await;
    assert_eq!(partial.fulfillment_status, "partially_fulfilled");
    assert_eq!(partial.lines[0].fulfilled_quantity, 2);
    assert_eq!(partial.lines[1].fulfilled_quantity, 0);
    let mail = wait_for_mail(&smtp, "ship@example.com", "on its way").await;
    assert!(
        mail.text_body()
            .contains("https://www.ups.com/track?tracknum=1Z999AA1"),
        "{}",
        mail.text_body()
    );

    // More than is left is refused and changes nothing.
    let too_many = act(
        &mut owner,
        order.id,
        "fulfil",
        &[("ship_1", "2"), ("ship_2", "1")],
    )
    .await;
    assert_eq!(too_many.status, 422, "{}", too_many.body);
    assert!(too_many.body.contains("data-field=\"lines\""));
    let unchanged = reload(&app, &t, order.id).await;
    assert_eq!(unchanged.lines[0].fulfilled_quantity, 2);
    assert_eq!(unchanged.lines[1].fulfilled_quantity, 0);

    act_ok(
        &mut owner,
        order.id,
        "fulfil",
        &[
            ("ship_1", "1"),
            ("ship_2", "1"),
            ("carrier", "Acme Post"),
            ("tracking_number", "AP-42"),
            ("tracking_url", "https://acme.example/track/AP-42"),
        ],
    )
    .await;
    let done = reload(&app, &t, order.id).await;
    assert_eq!(done.fulfillment_status, "fulfilled");
    assert!(
        done.lines
            .iter()
            .all(|l| l.fulfilled_quantity == l.quantity)
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    let second = loop {
        let shipped: Vec<ReceivedMail> = smtp
            .messages()
            .into_iter()
            .filter(|m| m.subject().contains("on its way"))
            .collect();
        if shipped.len() >= 2 {
            break shipped[1].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a second shipped mail"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        second
            .text_body()
            .contains("https://acme.example/track/AP-42")
    );

    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert!(page.body.contains("data-fulfillment-status=\"fulfilled\""));
    assert!(
        page.body.contains("tracking number 1Z999AA1"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Mark as shipped"));
    assert!(!page.body.contains("Cancel order"));
}

#[tokio::test]
async fn partial_refund_with_restock_puts_stock_back() {
    let (app, smtp) = app_with_smtp().await;
    let (t, mut owner) = app.store_with_owner("ordrefund", "Refund Shop").await;
    let mug = product(&app, &t, "Mug", 1000, 10).await.variant;
    let order = place(&app, &t, &[(mug, 2)], "refund@example.com", ("R", "F")).await;
    pay_manually(&app, &t, &order).await;
    act_ok(&mut owner, order.id, "mark-paid", &[]).await;
    assert_eq!(stock(&app, &t, mug).await, 8);

    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert!(
        page.body
            .contains("name=\"amount\" inputmode=\"decimal\" value=\"20.00\""),
        "default is what is left"
    );

    act_ok(
        &mut owner,
        order.id,
        "refund",
        &[("amount", "12.50"), ("restock", "on")],
    )
    .await;
    let refunded = reload(&app, &t, order.id).await;
    assert_eq!(refunded.financial_status, "partially_refunded");
    assert_eq!(refunded.refunded_minor, 1250);
    assert_eq!(
        stock(&app, &t, mug).await,
        10,
        "units not shipped went back"
    );
    let mail = wait_for_mail(&smtp, "refund@example.com", "Refund for order").await;
    assert!(mail.text_body().contains("$12.50"), "{}", mail.text_body());

    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert!(page.body.contains("data-refunded>$12.50"), "{}", page.body);
    assert!(page.body.contains("Refunded $12.50, items restocked"));
    assert!(
        page.body.contains("value=\"7.50\""),
        "the rest is the new default"
    );
}

#[tokio::test]
async fn refund_over_what_is_left_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("ordover", "Over Shop").await;
    let mug = product(&app, &t, "Mug", 1000, 10).await.variant;
    let order = place(&app, &t, &[(mug, 1)], "over@example.com", ("O", "V")).await;
    pay_manually(&app, &t, &order).await;
    act_ok(&mut owner, order.id, "mark-paid", &[]).await;

    for amount in ["10.01", "0", "abc", "1.234", "-1", "1e3", ""] {
        let refused = act(
            &mut owner,
            order.id,
            "refund",
            &[("amount", amount), ("restock", "on")],
        )
        .await;
        assert_eq!(refused.status, 422, "{amount}: {}", refused.body);
        assert!(
            refused.body.contains("data-field=\"amount\""),
            "{amount}: {}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("aria-invalid=\"true\" aria-describedby=\"refund-amount-error\"")
        );
        assert!(
            refused.body.contains(&format!("value=\"{amount}\"")),
            "keeps what was typed"
        );
    }
    let unchanged = reload(&app, &t, order.id).await;
    assert_eq!(unchanged.financial_status, "paid");
    assert_eq!(unchanged.refunded_minor, 0);
    assert_eq!(stock(&app, &t, mug).await, 9);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let events = orders::events(&mut tx, order.id).await.unwrap();
    assert!(events.iter().all(|e| e.kind != "refunded"));
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_and_releases_stock() {
    let (app, smtp) = app_with_smtp().await;
    let (t, mut owner) = app.store_with_owner("ordcancel", "Cancel Shop").await;
    let mug = product(&app, &t, "Mug", 1500, 10).await.variant;
    let order = place(&app, &t, &[(mug, 3)], "cancel@example.com", ("C", "X")).await;
    pay_manually(&app, &t, &order).await;
    act_ok(&mut owner, order.id, "mark-paid", &[]).await;
    assert_eq!(stock(&app, &t, mug).await, 7);

    act_ok(
        &mut owner,
        order.id,
        "cancel",
        &[("reason", "customer changed their mind")],
    )
    .await;
    let cancelled = reload(&app, &t, order.id).await;
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(cancelled.financial_status, "refunded");
    assert_eq!(cancelled.refunded_minor, cancelled.total_minor);
    assert_eq!(
        cancelled.cancel_reason.as_deref(),
        Some("customer changed their mind")
    );
    assert_eq!(stock(&app, &t, mug).await, 10);
    let mail = wait_for_mail(&smtp, "cancel@example.com", "cancelled").await;
    assert!(
        mail.text_body().contains("customer changed their mind"),
        "{}",
        mail.text_body()
    );
    assert!(
        mail.text_body().contains("refunded"),
        "{}",
        mail.text_body()
    );

    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert!(page.body.contains("data-status=\"cancelled\""));
    assert!(
        page.body
            .contains("Order cancelled: customer changed their mind")
    );
    assert!(!page.body.contains("Cancel order</button>"));

    // Cancelling again changes nothing.
    let again = owner
        .post_form(
            &format!("/admin/orders/{}/cancel", order.id),
            &[("_csrf", &page.csrf()), ("reason", "again")],
        )
        .await;
    assert_eq!(again.status, 303);
    assert_eq!(stock(&app, &t, mug).await, 10);
}

#[tokio::test]
async fn cancelling_a_shipped_order_is_refused() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("ordnocancel", "No Cancel").await;
    let mug = product(&app, &t, "Mug", 1500, 10).await.variant;
    let order = place(&app, &t, &[(mug, 2)], "nc@example.com", ("N", "C")).await;
    pay_manually(&app, &t, &order).await;
    act_ok(&mut owner, order.id, "mark-paid", &[]).await;
    act_ok(&mut owner, order.id, "fulfil", &[("ship_1", "1")]).await;
    let refused = act(&mut owner, order.id, "cancel", &[("reason", "late")]).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("be cancelled"), "{}", refused.body);
    let o = reload(&app, &t, order.id).await;
    assert_eq!(
        (o.status.as_str(), o.financial_status.as_str()),
        ("open", "paid")
    );
    assert_eq!(o.refunded_minor, 0);
}

#[tokio::test]
async fn notes_show_in_the_timeline() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("ordnotes", "Notes Shop").await;
    let mug = product(&app, &t, "Mug", 1500, 10).await.variant;
    let order = place(&app, &t, &[(mug, 1)], "n@example.com", ("N", "O")).await;

    act_ok(
        &mut owner,
        order.id,
        "notes",
        &[("note", "Customer called: leave at the <door>")],
    )
    .await;
    let page = owner.get(&format!("/admin/orders/{}", order.id)).await;
    assert!(
        page.body.contains(
            "Note by owner@ordnotes.example.com: Customer called: leave at the &lt;door&gt;"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-event=\"note\""));
    assert!(page.body.contains("data-event=\"placed\""));

    let empty = act(&mut owner, order.id, "notes", &[("note", "   ")]).await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert!(empty.body.contains("data-field=\"note\""));
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let notes = orders::events(&mut tx, order.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "note")
        .count();
    assert_eq!(notes, 1);
}

#[tokio::test]
async fn staff_without_the_orders_permission_get_403() {
    let app = TestApp::spawn().await;
    let (t, _owner) = app.store_with_owner("ordstaff", "Staff Shop").await;
    let mug = product(&app, &t, "Mug", 1500, 10).await.variant;
    let order = place(&app, &t, &[(mug, 1)], "s@example.com", ("S", "T")).await;
    pay_manually(&app, &t, &order).await;

    let mut clerk = app
        .staff_member("ordstaff", "clerk@ordstaff.example.com", &["products"])
        .await;
    assert_eq!(clerk.get("/admin/orders").await.status, 403);
    assert_eq!(
        clerk
            .get(&format!("/admin/orders/{}", order.id))
            .await
            .status,
        403
    );
    let csrf = clerk.get("/admin/products").await.csrf();
    for action in ["mark-paid", "cancel", "refund", "fulfil", "notes"] {
        let refused = clerk
            .post_form(
                &format!("/admin/orders/{}/{action}", order.id),
                &[("_csrf", &csrf), ("amount", "1.00"), ("note", "hi")],
            )
            .await;
        assert_eq!(refused.status, 403, "{action}");
    }
    let o = reload(&app, &t, order.id).await;
    assert_eq!(o.financial_status, "pending");
    assert_eq!(o.status, "open");

    let mut packer = app
        .staff_member("ordstaff", "packer@ordstaff.example.com", &["orders"])
        .await;
    assert_eq!(packer.get("/admin/orders").await.status, 200);
    act_ok(&mut packer, order.id, "mark-paid", &[]).await;
    assert_eq!(reload(&app, &t, order.id).await.financial_status, "paid");
}

#[tokio::test]
async fn another_stores_order_is_not_found() {
    let app = TestApp::spawn().await;
    let (alpha, mut alpha_owner) = app.store_with_owner("ordalpha", "Alpha").await;
    let (beta, _beta_owner) = app.store_with_owner("ordbeta", "Beta").await;
    let a_mug = product(&app, &alpha, "Mug", 1500, 10).await.variant;
    let b_mug = product(&app, &beta, "Mug", 1500, 10).await.variant;
    let mine = place(&app, &alpha, &[(a_mug, 1)], "a@example.com", ("A", "A")).await;
    let theirs = place(&app, &beta, &[(b_mug, 1)], "b@example.com", ("B", "B")).await;
    pay_manually(&app, &beta, &theirs).await;

    let list = alpha_owner.get("/admin/orders").await;
    assert_eq!(listed(&list), vec![mine.number]);
    assert!(!list.body.contains("b@example.com"));
    assert!(!list.body.contains(&theirs.id.to_string()));

    let page = alpha_owner
        .get(&format!("/admin/orders/{}", theirs.id))
        .await;
    assert_eq!(page.status, 404);
    let csrf = alpha_owner.get("/admin/orders").await.csrf();
    for (action, fields) in [
        ("mark-paid", vec![]),
        ("cancel", vec![("reason", "x")]),
        ("refund", vec![("amount", "1.00")]),
        ("fulfil", vec![("ship_1", "1")]),
        ("notes", vec![("note", "sneaky")]),
    ] {
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend(fields);
        let refused = alpha_owner
            .post_form(&format!("/admin/orders/{}/{action}", theirs.id), &all)
            .await;
        assert_eq!(refused.status, 404, "{action}: {}", refused.body);
    }
    let o = reload(&app, &beta, theirs.id).await;
    assert_eq!(
        (o.status.as_str(), o.financial_status.as_str()),
        ("open", "pending")
    );
    let mut tx = tenant_store::begin(&app.pool, &beta.schema).await.unwrap();
    let events = orders::events(&mut tx, theirs.id).await.unwrap();
    assert_eq!(events.len(), 1, "only placed");
}
