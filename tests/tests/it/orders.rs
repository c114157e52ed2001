//! Orders against a real PostgreSQL: placement totals, server-side prices, idempotency,
//! stock reservations under concurrency, discount limits, the state machine, the sweeper,
//! per-store numbering and tenant isolation.

use super::fixtures::{order, product, stock};
use std::time::Duration;

use platform::tenancy::Tenant;
use sqlx::types::chrono::{DateTime, Utc};
use storefront_tests::TestApp;
use tenant_store::StoreError;
use tenant_store::customers::Address;
use tenant_store::discounts::{self, DiscountInput};
use tenant_store::orders::{self, FulfilLine, Items, LineRequest, PlaceOrder};
use tenant_store::pricing::{self, DiscountValue, LineInput, PricingInput, ShippingRule};
use tenant_store::shipping::{self, ShippingRateInput};
use tenant_store::taxes::{self, TaxRateInput};
use uuid::Uuid;

fn address(country: &str, province: &str) -> Address {
    Address {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        address1: "1 Analytical Way".into(),
        city: "London".into(),
        province: province.into(),
        zip: "N1".into(),
        country: country.into(),
        ..Address::default()
    }
}

async fn place(app: &TestApp, t: &Tenant, input: &PlaceOrder) -> Result<orders::Order, StoreError> {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let placed = orders::place_order(&mut tx, input).await;
    if placed.is_ok() {
        tx.commit().await.unwrap();
    }
    placed
}

/// The field names a validation error names.
fn fields(e: &StoreError) -> Vec<String> {
    match e {
        StoreError::Invalid { field, .. } => vec![(*field).to_owned()],
        StoreError::Fields(list) => list.iter().map(|(f, _)| f.clone()).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

async fn count(app: &TestApp, t: &Tenant, sql: &str) -> i64 {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap()
}

#[tokio::test]
async fn placed_order_totals_match_pricing_and_prices_come_from_the_catalog() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("totals", "Totals").await;
    let mug = product(&app, &t, "Mug", 1299, 20).await.variant;
    let tee = product(&app, &t, "Tee", 2550, 20).await.variant;
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let rate = shipping::create_rate(
        &mut tx,
        &ShippingRateInput {
            name: "Standard".into(),
            countries: vec!["us".into(), "CA".into()],
            rule: ShippingRule::Flat { price_minor: 599 },
            position: 0,
        },
    )
    .await
    .unwrap();
    for (region, bp) in [("", 600), ("CA", 125)] {
        taxes::create_rate(
            &mut tx,
            &TaxRateInput {
                country: "US".into(),
                region: region.into(),
                name: format!("Tax {region}"),
                rate_bp: bp,
            },
        )
        .await
        .unwrap();
    }
    discounts::create_code(
        &mut tx,
        &DiscountInput {
            code: "Spring15".into(),
            value: DiscountValue::percent(15),
            min_subtotal_minor: 1000,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
        },
    )
    .await
    .unwrap();
    // The cart remembers a price the shopper never should pay: it is ignored.
    let cart = tenant_store::cart::create(&mut tx).await.unwrap();
    tenant_store::cart::add(&mut tx, cart, mug, 3)
        .await
        .unwrap();
    tenant_store::cart::add(&mut tx, cart, tee, 1)
        .await
        .unwrap();
    sqlx::query("UPDATE cart_lines SET unit_price_minor = 1 WHERE cart_id = $1")
        .bind(cart)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut input = order(&[], "totals-1");
    input.items = Items::Cart(cart);
    input.shipping_rate_id = Some(rate.id);
    input.discount_code = Some("spring15".into());
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let quoted = orders::quote(&mut tx, &input).await.unwrap();
    drop(tx);
    let o = place(&app, &t, &input).await.unwrap();

    let expected = pricing::compute(&PricingInput {
        lines: &[
            LineInput {
                unit_price_minor: 1299,
                quantity: 3,
                weight_grams: 250,
            },
            LineInput {
                unit_price_minor: 2550,
                quantity: 1,
                weight_grams: 250,
            },
        ],
        discount: Some(&pricing::Discount {
            value: DiscountValue::percent(15),
            min_subtotal_minor: 1000,
        }),
        shipping: Some(&ShippingRule::Flat { price_minor: 599 }),
        taxes: &[
            pricing::TaxRate {
                name: "Tax".into(),
                rate_bp: 600,
            },
            pricing::TaxRate {
                name: "Tax CA".into(),
                rate_bp: 125,
            },
        ],
        prices_include_tax: false,
    })
    .unwrap();
    assert_eq!(quoted, expected);
    assert_eq!(o.subtotal_minor, 3 * 1299 + 2550);
    assert_eq!(o.subtotal_minor, expected.subtotal_minor);
    assert_eq!(o.discount_minor, expected.discount_minor);
    assert_eq!(o.shipping_minor, 599);
    assert_eq!(o.tax_minor, expected.tax_minor);
    assert_eq!(o.total_minor, expected.total_minor);
    assert_eq!(o.tax_lines, expected.tax_lines);
    assert_eq!(o.lines.len(), 2);
    assert_eq!(o.lines[0].unit_price_minor, 1299);
    assert_eq!(o.lines[0].product_title, "Mug");
    assert_eq!(
        o.lines.iter().map(|l| l.discount_minor).sum::<i64>(),
        o.discount_minor
    );
    assert_eq!(o.discount_code.as_deref(), Some("Spring15"));
    assert_eq!(o.shipping_method, "Standard");
    assert_eq!(o.number, 1001);
    assert!(o.token.len() >= 32);
    assert_eq!(
        (
            o.status.as_str(),
            o.financial_status.as_str(),
            o.fulfillment_status.as_str()
        ),
        ("open", "pending", "unfulfilled")
    );
    assert_eq!(stock(&app, &t, mug).await, 17);
    assert_eq!(stock(&app, &t, tee).await, 19);
    assert_eq!(
        count(&app, &t, "SELECT count(*) FROM cart_lines").await,
        0,
        "the cart was turned into the order"
    );
    assert_eq!(
        count(
            &app,
            &t,
            "SELECT count(*) FROM outbox WHERE topic = 'order.placed'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            &t,
            "SELECT count(*) FROM inventory_adjustments WHERE reason = 'order #1001'"
        )
        .await,
        2
    );
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let history = orders::events(&mut tx, o.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, "placed");
    let by_token = orders::find_by_token(&mut tx, &o.token).await.unwrap();
    assert_eq!(by_token.id, o.id);

    // Tax-inclusive prices: the same order costs the goods plus shipping, whatever the rate.
    taxes::set_prices_include_tax(&mut tx, true).await.unwrap();
    let mut again = order(&[(mug, 1)], "totals-2");
    again.shipping_rate_id = Some(rate.id);
    let inclusive = orders::quote(&mut tx, &again).await.unwrap();
    assert!(inclusive.taxes_included);
    assert_eq!(inclusive.total_minor, 1299 + 599);
    assert_eq!(inclusive.tax_minor, (1299 * 725 * 2 + 10725) / (2 * 10725));
}

#[tokio::test]
async fn checkout_errors_name_their_fields() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("fields", "Fields").await;
    let mug = product(&app, &t, "Mug", 1000, 2).await.variant;
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    shipping::create_rate(
        &mut tx,
        &ShippingRateInput {
            name: "Domestic".into(),
            countries: vec!["US".into()],
            rule: ShippingRule::Flat { price_minor: 500 },
            position: 0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut bad = order(&[(mug, 1)], "bad-1");
    bad.email = "not an email".into();
    bad.shipping_address.country = "USA".into();
    bad.discount_code = Some("NOPE".into());
    let e = place(&app, &t, &bad).await.unwrap_err();
    let f = fields(&e);
    for want in ["email", "shipping_address.country", "discount_code"] {
        assert!(f.contains(&want.to_owned()), "{want} missing from {f:?}");
    }

    // A US address with US rates needs a shipping method.
    let e = place(&app, &t, &order(&[(mug, 1)], "bad-2"))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["shipping_rate_id"]);

    // More than the stock.
    let mut greedy = order(&[(mug, 3)], "bad-3");
    greedy.shipping_address = address("FR", "");
    let e = place(&app, &t, &greedy).await.unwrap_err();
    assert_eq!(fields(&e), vec!["lines[0].quantity"]);

    // The wrong currency.
    let mut euro = order(&[(mug, 1)], "bad-4");
    euro.shipping_address = address("FR", "");
    euro.currency = "EUR".into();
    let e = place(&app, &t, &euro).await.unwrap_err();
    assert_eq!(fields(&e), vec!["currency"]);
    assert_eq!(stock(&app, &t, mug).await, 2, "nothing was reserved");
    assert_eq!(count(&app, &t, "SELECT count(*) FROM orders").await, 0);
}

#[tokio::test]
async fn submitting_twice_creates_one_order() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("twice", "Twice").await;
    let mug = product(&app, &t, "Mug", 1000, 50).await.variant;
    let input = order(&[(mug, 2)], "same-key");
    let first = place(&app, &t, &input).await.unwrap();
    let second = place(&app, &t, &input).await.unwrap();
    assert_eq!(first.id, second.id);

    // Concurrent double submits with a fresh key.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (pool, schema) = (app.pool.clone(), t.schema.clone());
        let input = order(&[(mug, 2)], "racing-key");
        tasks.push(tokio::spawn(async move {
            let mut tx = tenant_store::begin(&pool, &schema).await.unwrap();
            let o = orders::place_order(&mut tx, &input).await.unwrap();
            tx.commit().await.unwrap();
            o.id
        }));
    }
    let ids: Vec<Uuid> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(count(&app, &t, "SELECT count(*) FROM orders").await, 2);
    assert_eq!(stock(&app, &t, mug).await, 46);
}

#[tokio::test]
async fn fifty_simultaneous_checkouts_for_ten_in_stock_sell_exactly_ten() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("rush", "Rush").await;
    let hot = product(&app, &t, "Hot Item", 4999, 10).await.variant;

    // A watcher reads the stock throughout and remembers the lowest value it saw.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = {
        let (pool, schema) = (app.pool.clone(), t.schema.clone());
        tokio::spawn(async move {
            let mut lowest = i32::MAX;
            loop {
                let mut tx = tenant_store::begin(&pool, &schema).await.unwrap();
                let q: i32 =
                    sqlx::query_scalar("SELECT inventory_quantity FROM variants WHERE id = $1")
                        .bind(hot)
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap();
                drop(tx);
                lowest = lowest.min(q);
                if stop_rx.try_recv().is_ok() {
                    return lowest;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (pool, schema) = (app.pool.clone(), t.schema.clone());
        let input = order(&[(hot, 1)], &format!("rush-{i}"));
        tasks.push(tokio::spawn(async move {
            let mut tx = tenant_store::begin(&pool, &schema).await.unwrap();
            let placed = orders::place_order(&mut tx, &input).await;
            if placed.is_ok() {
                tx.commit().await.unwrap();
            }
            placed
        }));
    }
    let results: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    stop_tx.send(()).unwrap();
    let lowest = watcher.await.unwrap();

    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 10, "exactly the stock sells");
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        let f = fields(e);
        assert!(
            f == ["quantity"] || f == ["lines[0].quantity"],
            "a refusal is a quantity error, got {e:?}"
        );
    }
    assert_eq!(stock(&app, &t, hot).await, 0);
    assert!(lowest >= 0, "stock went to {lowest}");
    assert_eq!(count(&app, &t, "SELECT count(*) FROM orders").await, 10);
    assert_eq!(
        count(
            &app,
            &t,
            "SELECT min(quantity_after)::bigint FROM inventory_adjustments"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            &t,
            "SELECT sum(quantity)::bigint FROM stock_reservations WHERE state = 'reserved'"
        )
        .await,
        10
    );
    let mut numbers: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|o| o.number))
        .collect();
    numbers.sort();
    numbers.dedup();
    // Every order has its own number from #1001 on. A checkout that loses the race for the
    // last units had drawn its number already (stock is reserved last, see
    // `place_order_then`), so the numbers may skip.
    assert_eq!(numbers.len(), 10, "numbers are unique: {numbers:?}");
    assert!(numbers[0] >= 1001 && numbers[9] <= 1050, "{numbers:?}");
    eprintln!("rush: {ok} of 50 checkouts succeeded; lowest stock seen {lowest}");
}

#[tokio::test]
async fn a_discount_code_is_not_used_beyond_its_limit_under_concurrency() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("limited", "Limited").await;
    let mug = product(&app, &t, "Mug", 2000, 100).await.variant;
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    discounts::create_code(
        &mut tx,
        &DiscountInput {
            code: "FIRST3".into(),
            value: DiscountValue::FixedAmount { amount_minor: 500 },
            min_subtotal_minor: 0,
            starts_at: None,
            ends_at: None,
            usage_limit: Some(3),
        },
    )
    .await
    .unwrap();
    let dup = discounts::create_code(
        &mut tx,
        &DiscountInput {
            code: "first3".into(),
            value: DiscountValue::FreeShipping,
            min_subtotal_minor: 0,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&dup), vec!["code"]);
    drop(tx);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    discounts::create_code(
        &mut tx,
        &DiscountInput {
            code: "FIRST3".into(),
            value: DiscountValue::FixedAmount { amount_minor: 500 },
            min_subtotal_minor: 0,
            starts_at: None,
            ends_at: None,
            usage_limit: Some(3),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tasks = Vec::new();
    for i in 0..12 {
        let (pool, schema) = (app.pool.clone(), t.schema.clone());
        let mut input = order(&[(mug, 1)], &format!("code-{i}"));
        input.discount_code = Some("first3".into());
        tasks.push(tokio::spawn(async move {
            let mut tx = tenant_store::begin(&pool, &schema).await.unwrap();
            let placed = orders::place_order(&mut tx, &input).await;
            if placed.is_ok() {
                tx.commit().await.unwrap();
            }
            placed
        }));
    }
    let results: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 3);
    assert!(
        ok.iter()
            .all(|o| o.discount_minor == 500 && o.total_minor == 1500)
    );
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(fields(e), vec!["discount_code"]);
    }
    assert_eq!(
        count(&app, &t, "SELECT times_used::bigint FROM discount_codes").await,
        3
    );
    assert_eq!(
        stock(&app, &t, mug).await,
        97,
        "refused orders reserved nothing"
    );
}

#[tokio::test]
async fn payment_commits_cancellation_and_failure_release() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("payments", "Payments").await;
    let mug = product(&app, &t, "Mug", 1000, 10).await.variant;
    let paid = place(&app, &t, &order(&[(mug, 2)], "p1")).await.unwrap();
    let cancelled = place(&app, &t, &order(&[(mug, 3)], "p2")).await.unwrap();
    let failed = place(&app, &t, &order(&[(mug, 1)], "p3")).await.unwrap();
    assert_eq!(stock(&app, &t, mug).await, 4);

    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let e = orders::mark_paid(&mut tx, paid.id, "pi_1", 1)
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["amount"]);
    let o = orders::mark_paid(&mut tx, paid.id, "pi_1", 2000)
        .await
        .unwrap();
    assert_eq!(o.financial_status, "paid");
    assert_eq!(o.payment_ref.as_deref(), Some("pi_1"));
    let again = orders::mark_paid(&mut tx, paid.id, "pi_1", 2000)
        .await
        .unwrap();
    assert_eq!(again.financial_status, "paid");
    assert_eq!(
        orders::events(&mut tx, paid.id).await.unwrap().len(),
        2,
        "paying twice records once"
    );

    let c = orders::cancel(&mut tx, cancelled.id, "customer changed their mind")
        .await
        .unwrap();
    assert_eq!(
        (c.status.as_str(), c.financial_status.as_str()),
        ("cancelled", "voided")
    );
    orders::cancel(&mut tx, cancelled.id, "again")
        .await
        .unwrap();
    let e = orders::mark_paid(&mut tx, cancelled.id, "pi_2", 3000)
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["status"]);

    let f = orders::payment_failed(&mut tx, failed.id, "card declined")
        .await
        .unwrap();
    assert_eq!(
        (f.status.as_str(), f.financial_status.as_str()),
        ("cancelled", "failed")
    );
    orders::payment_failed(&mut tx, failed.id, "card declined")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        stock(&app, &t, mug).await,
        8,
        "3 + 1 came back, the paid 2 stay sold"
    );
    assert_eq!(
        count(
            &app,
            &t,
            "SELECT count(*) FROM stock_reservations WHERE state = 'committed'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            &t,
            "SELECT count(*) FROM inventory_adjustments WHERE reason LIKE '% released'"
        )
        .await,
        2,
        "releasing twice gives back once"
    );
    assert_eq!(
        count(&app, &t, "SELECT count(*) FROM outbox WHERE topic IN ('order.paid', 'order.cancelled', 'order.payment_failed')").await,
        3
    );
    // Cancelling a paid order restocks it (the refund is the caller's job).
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    orders::cancel(&mut tx, paid.id, "out of business")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stock(&app, &t, mug).await, 10);
}

#[tokio::test]
async fn the_sweeper_releases_expired_reservations_only() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("sweeper", "Sweeper").await;
    let mug = product(&app, &t, "Mug", 1000, 10).await.variant;
    let unpaid = place(&app, &t, &order(&[(mug, 4)], "s1")).await.unwrap();
    let paid = place(&app, &t, &order(&[(mug, 1)], "s2")).await.unwrap();
    let mut later = order(&[(mug, 2)], "s3");
    later.reservation_ttl = Duration::from_secs(24 * 3600);
    let fresh = place(&app, &t, &later).await.unwrap();
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    orders::mark_paid(&mut tx, paid.id, "pi", paid.total_minor)
        .await
        .unwrap();
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        orders::release_expired_reservations(&mut tx, now)
            .await
            .unwrap(),
        0
    );
    let in_an_hour: DateTime<Utc> = sqlx::query_scalar("SELECT $1 + interval '1 hour'")
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        orders::release_expired_reservations(&mut tx, in_an_hour)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        orders::release_expired_reservations(&mut tx, in_an_hour)
            .await
            .unwrap(),
        0
    );
    let swept = orders::get_order(&mut tx, unpaid.id).await.unwrap();
    assert_eq!(swept.status, "cancelled");
    assert_eq!(swept.cancel_reason.as_deref(), Some("reservation expired"));
    assert_eq!(
        orders::get_order(&mut tx, fresh.id).await.unwrap().status,
        "open"
    );
    assert_eq!(
        orders::get_order(&mut tx, paid.id).await.unwrap().status,
        "open"
    );
    tx.commit().await.unwrap();
    assert_eq!(stock(&app, &t, mug).await, 7);
}

#[tokio::test]
async fn the_state_machine_refuses_bad_transitions() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("states", "States").await;
    let mug = product(&app, &t, "Mug", 1000, 10).await.variant;
    let tee = product(&app, &t, "Tee", 500, 10).await.variant;
    let o = place(&app, &t, &order(&[(mug, 2), (tee, 1)], "m1"))
        .await
        .unwrap();
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let one = |position, quantity| FulfilLine { position, quantity };

    let e = orders::fulfil(&mut tx, o.id, &[one(1, 1)], "UPS", "1Z")
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["status"], "unpaid orders are not shipped");
    let e = orders::record_refund(&mut tx, o.id, 100, false)
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["status"], "unpaid orders are not refunded");

    orders::mark_paid(&mut tx, o.id, "pi", 2500).await.unwrap();
    let e = orders::fulfil(&mut tx, o.id, &[one(1, 3)], "UPS", "1Z")
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["lines"]);
    let p = orders::fulfil(&mut tx, o.id, &[one(1, 1)], "UPS", "1Z")
        .await
        .unwrap();
    assert_eq!(p.fulfillment_status, "partially_fulfilled");
    let e = orders::cancel(&mut tx, o.id, "too late").await.unwrap_err();
    assert_eq!(fields(&e), vec!["status"]);

    let r = orders::record_refund(&mut tx, o.id, 500, true)
        .await
        .unwrap();
    assert_eq!(r.financial_status, "partially_refunded");
    assert_eq!(r.refunded_minor, 500);
    let e = orders::record_refund(&mut tx, o.id, 2001, false)
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["amount"]);
    let r = orders::record_refund(&mut tx, o.id, 2000, false)
        .await
        .unwrap();
    assert_eq!(r.financial_status, "refunded");
    let e = orders::record_refund(&mut tx, o.id, 1, false)
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["status"]);
    let kinds: Vec<String> = orders::events(&mut tx, o.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "placed",
            "paid",
            "fulfillment_created",
            "refunded",
            "refunded"
        ]
    );
    tx.commit().await.unwrap();
    // Restock gave back the units not shipped: 1 mug (1 of 2 shipped) and the tee.
    assert_eq!(stock(&app, &t, mug).await, 9);
    assert_eq!(stock(&app, &t, tee).await, 10);

    let o2 = place(&app, &t, &order(&[(tee, 2)], "m2")).await.unwrap();
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    orders::mark_paid(&mut tx, o2.id, "pi2", 1000)
        .await
        .unwrap();
    let done = orders::fulfil(&mut tx, o2.id, &[one(1, 2)], "", "")
        .await
        .unwrap();
    assert_eq!(done.fulfillment_status, "fulfilled");
    let e = orders::fulfil(&mut tx, o2.id, &[one(1, 1)], "", "")
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["lines"]);
    let page = orders::list_orders(
        &mut tx,
        &orders::OrderFilter {
            fulfillment_status: Some("fulfilled".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        page.orders.iter().map(|o| o.number).collect::<Vec<_>>(),
        [o2.number]
    );
    let page = orders::list_orders(
        &mut tx,
        &orders::OrderFilter {
            query: Some("lovelace".into()),
            limit: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.orders[0].number, 1002);
    assert_eq!(page.next_before, Some(1002));
    let page = orders::list_orders(
        &mut tx,
        &orders::OrderFilter {
            query: Some("lovelace".into()),
            before_number: Some(1002),
            limit: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.orders[0].number, 1001);
    assert_eq!(page.next_before, None);
}

#[tokio::test]
async fn order_numbers_count_per_store_and_stores_cannot_read_each_others_orders() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("store-a", "A").await;
    let b = app.create_tenant("store-b", "B").await;
    let mug_a = product(&app, &a, "Mug", 1000, 10).await.variant;
    let mug_b = product(&app, &b, "Mug", 1000, 10).await.variant;
    let mut a_numbers = Vec::new();
    let mut a_orders = Vec::new();
    for i in 0..3 {
        let o = place(&app, &a, &order(&[(mug_a, 1)], &format!("a-{i}")))
            .await
            .unwrap();
        a_numbers.push(o.number);
        a_orders.push(o);
    }
    // The same idempotency key in another store is another order.
    let ob = place(&app, &b, &order(&[(mug_b, 1)], "a-0")).await.unwrap();
    assert_eq!(a_numbers, [1001, 1002, 1003]);
    assert_eq!(ob.number, 1001);
    assert_ne!(ob.id, a_orders[0].id);

    let mut tx = tenant_store::begin(&app.pool, &b.schema).await.unwrap();
    assert!(matches!(
        orders::get_order(&mut tx, a_orders[0].id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        orders::find_by_token(&mut tx, &a_orders[0].token).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        orders::find_by_token(&mut tx, "short").await,
        Err(StoreError::NotFound)
    ));
    // Another store's variant cannot be ordered here.
    let e = orders::place_order(&mut tx, &order(&[(mug_a, 1)], "b-x"))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["lines[0].variant_id"]);
}

#[tokio::test]
async fn shipping_zones_rates_and_tax_rates_are_validated_and_applied() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("zones", "Zones").await;
    let brick = product(&app, &t, "Brick", 1000, 100).await.variant;
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let e = shipping::create_rate(
        &mut tx,
        &ShippingRateInput {
            name: " ".into(),
            countries: vec!["Germany".into()],
            rule: ShippingRule::Flat { price_minor: -1 },
            position: 0,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&e), ["name", "countries", "price_minor"]);
    let eu = shipping::create_rate(
        &mut tx,
        &ShippingRateInput {
            name: "EU by weight".into(),
            countries: vec!["de".into(), "FR".into()],
            rule: ShippingRule::ByWeight {
                brackets: vec![
                    pricing::WeightBracket {
                        up_to_grams: Some(1000),
                        price_minor: 400,
                    },
                    pricing::WeightBracket {
                        up_to_grams: Some(3000),
                        price_minor: 900,
                    },
                ],
            },
            position: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(eu.countries, ["DE", "FR"]);
    let us = shipping::create_rate(
        &mut tx,
        &ShippingRateInput {
            name: "US, free over 50".into(),
            countries: vec!["US".into()],
            rule: ShippingRule::FreeOver {
                price_minor: 700,
                threshold_minor: 5000,
            },
            position: 1,
        },
    )
    .await
    .unwrap();
    let names: Vec<String> = shipping::rates_for(&mut tx, "fr")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["EU by weight"]);
    let vat = TaxRateInput {
        country: "de".into(),
        region: String::new(),
        name: "MwSt".into(),
        rate_bp: 1900,
    };
    taxes::create_rate(&mut tx, &vat).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let e = taxes::create_rate(&mut tx, &vat).await.unwrap_err();
    assert_eq!(fields(&e), ["region"]);
    drop(tx);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let e = taxes::create_rate(
        &mut tx,
        &TaxRateInput {
            rate_bp: 10_001,
            country: "X".into(),
            ..vat.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&e), ["country", "rate_bp"]);

    // 4 bricks of 250 g = 1 kg: the first bracket; 5 bricks: the second; 13: none.
    let mut to_de = order(&[(brick, 4)], "de-1");
    to_de.shipping_address = address("DE", "");
    to_de.shipping_rate_id = Some(eu.id);
    let q = orders::quote(&mut tx, &to_de).await.unwrap();
    assert_eq!(
        (q.shipping_minor, q.tax_minor, q.total_minor),
        (400, 760, 4000 + 400 + 760)
    );
    to_de.items = Items::Lines(vec![LineRequest {
        variant_id: brick,
        quantity: 5,
    }]);
    assert_eq!(
        orders::quote(&mut tx, &to_de).await.unwrap().shipping_minor,
        900
    );
    to_de.items = Items::Lines(vec![LineRequest {
        variant_id: brick,
        quantity: 13,
    }]);
    let e = orders::quote(&mut tx, &to_de).await.unwrap_err();
    assert_eq!(fields(&e), ["shipping_rate_id"]);
    // The US rate does not ship to Germany.
    to_de.shipping_rate_id = Some(us.id);
    let e = orders::quote(&mut tx, &to_de).await.unwrap_err();
    assert_eq!(fields(&e), ["shipping_rate_id"]);
    // Free over 50.00 in the US; no US tax rate.
    let mut to_us = order(&[(brick, 5)], "us-1");
    to_us.shipping_rate_id = Some(us.id);
    let q = orders::quote(&mut tx, &to_us).await.unwrap();
    assert_eq!((q.shipping_minor, q.tax_minor, q.total_minor), (0, 0, 5000));
    to_us.items = Items::Lines(vec![LineRequest {
        variant_id: brick,
        quantity: 4,
    }]);
    assert_eq!(
        orders::quote(&mut tx, &to_us).await.unwrap().shipping_minor,
        700
    );
}

#[tokio::test]
async fn units_restocked_by_a_refund_are_not_shipped_afterwards() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("restock", "Restock").await;
    let mug = product(&app, &t, "Mug", 1000, 10).await.variant;
    let o = place(&app, &t, &order(&[(mug, 3)], "r1")).await.unwrap();
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    orders::mark_paid(&mut tx, o.id, "pi_r", 3000)
        .await
        .unwrap();
    orders::fulfil(
        &mut tx,
        o.id,
        &[FulfilLine {
            position: 1,
            quantity: 1,
        }],
        "UPS",
        "1Z",
    )
    .await
    .unwrap();
    // Two units are not coming: refunded and back on the shelf.
    let refunded = orders::record_refund(&mut tx, o.id, 2000, true)
        .await
        .unwrap();
    assert_eq!(refunded.financial_status, "partially_refunded");
    let e = orders::fulfil(
        &mut tx,
        o.id,
        &[FulfilLine {
            position: 1,
            quantity: 1,
        }],
        "UPS",
        "1Z2",
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&e), vec!["lines"]);
    tx.commit().await.unwrap();
    assert_eq!(stock(&app, &t, mug).await, 9, "10 − 3 sold + 2 restocked");
}
