//! Checkout through HTTP on a real server: the cart to a paid order with every gateway
//! (test card, Stripe against its stand-in with signed webhooks, manual, store credit),
//! the shopper's order pages and emails, the reservation sweeper, and isolation.

use super::fixtures::{Item, product};
use std::time::Duration;

use billing::testing::{StripeStandIn, event_payload, sign_webhook, unix_now};
use billing::{GatewaySettings, SecretsCipher};
use platform::tenancy::Tenant;
use secrecy::SecretString;
use storefront_tests::smtp::SmtpReceiver;
use storefront_tests::{Browser, Page, TestApp};
use tenant_store::pricing::ShippingRule;
use tenant_store::shipping::{self, ShippingRateInput};
use tenant_store::taxes::{self, TaxRateInput};
use uuid::Uuid;

const WEBHOOK_SECRET: &str = "whsec_test_checkout_0123456789";

async fn gateway(app: &TestApp, t: &Tenant, name: &str, label: &str, settings: serde_json::Value) {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    tenant_store::payments::save_gateway(&mut tx, name, true, label, &settings)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Flat shipping of 5.00 to Germany and a 19 % German VAT added on top of prices.
async fn shipping_and_tax(app: &TestApp, t: &Tenant) -> Uuid {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query("UPDATE settings SET currency = 'EUR'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let rate = shipping::create_rate(
        &mut tx,
        &ShippingRateInput {
            name: "Standard".into(),
            countries: vec!["DE".into()],
            rule: ShippingRule::Flat { price_minor: 500 },
            position: 0,
        },
    )
    .await
    .unwrap();
    taxes::create_rate(
        &mut tx,
        &TaxRateInput {
            country: "DE".into(),
            region: String::new(),
            name: "VAT".into(),
            rate_bp: 1900,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rate.id
}

async fn scalar<T>(app: &TestApp, t: &Tenant, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap()
}

pub(crate) fn field_value(page: &Page, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.body.find(&marker).expect("the field is on the page") + marker.len();
    let end = page.body[start..].find('"').unwrap() + start;
    page.body[start..end].to_owned()
}

fn total(page: &Page, which: &str) -> String {
    let marker = format!("data-total=\"{which}\">");
    let start = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("{which} in {}", page.body))
        + marker.len();
    let end = page.body[start..].find('<').unwrap() + start;
    let text = page.body[start..end].to_owned();
    if text.is_empty() {
        // <strong> around the total
        let rest = &page.body[end..];
        let s = rest.find('>').unwrap() + 1;
        let e = rest[s..].find('<').unwrap() + s;
        return rest[s..e].to_owned();
    }
    text
}

/// The checkout form, filled in for Ada in Berlin.
pub(crate) fn address_fields<'a>(
    csrf: &'a str,
    key: &'a str,
    gateway: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("_csrf", csrf),
        ("checkout_key", key),
        ("email", "ada@example.com"),
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("address1", "Unter den Linden 1"),
        ("city", "Berlin"),
        ("zip", "10117"),
        ("country", "DE"),
        ("gateway", gateway),
    ]
}

/// Adds `quantity` of a variant to the browser's cart and opens checkout.
async fn cart_and_checkout(shopper: &mut Browser<'_>, item: &Item, quantity: &str) -> Page {
    let added = shopper
        .post_form(
            "/cart/add",
            &[
                ("product", &item.handle),
                ("id", &item.variant.to_string()),
                ("quantity", quantity),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let page = shopper.get("/checkout").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

pub(crate) fn token_of(location: &str) -> String {
    location
        .trim_start_matches("/orders/")
        .split(['/', '?'])
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_guest_pays_with_the_test_card_and_gets_the_emails() {
    let receiver = SmtpReceiver::start().await;
    let app = TestApp::spawn_with(|s| s.smtp_url = Some(SecretString::from(receiver.url()))).await;
    let t = app.create_tenant("checkout-test", "Checkout Test").await;
    let host = TestApp::store_host("checkout-test");
    let v = product(&app, &t, "Linen Shirt", 2500, 5).await;
    shipping_and_tax(&app, &t).await;
    gateway(
        &app,
        &t,
        "test",
        "Card (test)",
        serde_json::json!({"gateway": "test"}),
    )
    .await;

    let mut shopper = app.browser(&host);
    let page = cart_and_checkout(&mut shopper, &v, "2").await;
    let csrf = page.csrf();
    let key = field_value(&page, "checkout_key");

    // Update totals: 2 × 25.00 = 50.00, shipping 5.00, VAT 19 % of the goods = 9.50.
    let mut fields = address_fields(&csrf, &key, "test");
    fields.push(("action", "update"));
    let quoted = shopper.post_form("/checkout", &fields).await;
    assert_eq!(quoted.status, 200, "{}", quoted.body);
    assert_eq!(total(&quoted, "subtotal"), "€50.00");
    assert_eq!(total(&quoted, "shipping"), "€5.00");
    assert!(
        quoted.body.contains("data-tax=\"VAT\">€9.50<"),
        "{}",
        quoted.body
    );
    assert_eq!(total(&quoted, "total"), "€64.50");

    // Place the order, twice (a double click): one order.
    let mut fields = address_fields(&csrf, &key, "test");
    fields.push(("action", "pay"));
    let placed = shopper.post_form("/checkout", &fields).await;
    assert_eq!(placed.status, 303, "{}", placed.body);
    let location = placed.location.clone().unwrap();
    assert!(location.ends_with("/pay"), "{location}");
    let again = shopper.post_form("/checkout", &fields).await;
    assert_eq!(again.location.as_deref(), Some(location.as_str()));
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM orders").await,
        1
    );
    // Stock is reserved at once; the cart is empty.
    assert_eq!(
        scalar::<i32>(&app, &t, "SELECT inventory_quantity FROM variants").await,
        3
    );
    assert_eq!(
        shopper.get("/checkout").await.location.as_deref(),
        Some("/cart")
    );

    // A declined card: 422 with the reason, the order still waits.
    let token = token_of(&location);
    let pay = shopper.get(&location).await;
    assert_eq!(pay.status, 200);
    assert!(pay.body.contains("€64.50"));
    let declined = shopper
        .post_form(
            &location,
            &[
                ("_csrf", &pay.csrf()),
                ("card_number", "4000 0000 0000 0002"),
            ],
        )
        .await;
    assert_eq!(declined.status, 422);
    assert!(declined.body.contains("Your card was declined."));
    let paid = shopper
        .post_form(
            &location,
            &[
                ("_csrf", &pay.csrf()),
                ("card_number", "4242 4242 4242 4242"),
            ],
        )
        .await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let order_page = shopper.get(&format!("/orders/{token}")).await;
    assert_eq!(order_page.status, 200);
    assert!(order_page.body.contains("data-financial-status=\"paid\""));
    assert!(order_page.body.contains("Order #1001"));
    assert_eq!(total(&order_page, "total"), "€64.50");
    let invoice = shopper.get(&format!("/orders/{token}/invoice")).await;
    assert_eq!(invoice.status, 200);
    assert!(invoice.body.contains("Invoice") && invoice.body.contains("Unter den Linden 1"));
    assert_eq!(
        scalar::<String>(&app, &t, "SELECT financial_status FROM orders").await,
        "paid"
    );
    assert_eq!(
        scalar::<i32>(&app, &t, "SELECT inventory_quantity FROM variants").await,
        3
    );

    let mails = receiver.wait_for(2, Duration::from_secs(10)).await;
    let subjects: Vec<String> = mails.iter().map(|m| m.subject()).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("Order #1001 confirmed")),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("Payment received for order #1001")),
        "{subjects:?}"
    );
    let confirmation = mails
        .iter()
        .find(|m| m.subject().contains("confirmed"))
        .unwrap();
    assert_eq!(confirmation.to, ["ada@example.com"]);
    let body = confirmation.text_body();
    assert!(
        body.contains("2 × Linen Shirt: €50.00") && body.contains("Total: €64.50"),
        "{body}"
    );
    assert!(body.contains(&format!("/orders/{token}")), "{body}");

    // Another store's host does not know the token.
    app.create_tenant("checkout-other", "Other").await;
    let (status, _) = app
        .get_text(
            &TestApp::store_host("checkout-other"),
            &format!("/orders/{token}"),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn checkout_errors_name_their_fields_and_place_nothing() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("checkout-bad", "Bad Input").await;
    let v = product(&app, &t, "Mug", 1200, 2).await;
    shipping_and_tax(&app, &t).await;
    gateway(
        &app,
        &t,
        "test",
        "Card (test)",
        serde_json::json!({"gateway": "test"}),
    )
    .await;
    let mut shopper = app.browser(&TestApp::store_host("checkout-bad"));
    let page = cart_and_checkout(&mut shopper, &v, "2").await;
    let (csrf, key) = (page.csrf(), field_value(&page, "checkout_key"));

    let mut fields = address_fields(&csrf, &key, "test");
    fields.retain(|(k, _)| *k != "city" && *k != "email");
    fields.push(("email", "not-an-email"));
    fields.push(("action", "pay"));
    let refused = shopper.post_form("/checkout", &fields).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("data-field=\"city\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("data-field=\"email\""),
        "{}",
        refused.body
    );

    let mut fields = address_fields(&csrf, &key, "stripe");
    fields.push(("action", "pay"));
    let refused = shopper.post_form("/checkout", &fields).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("data-field=\"gateway\""));

    let mut fields = address_fields(&csrf, &key, "test");
    fields.push(("discount_code", "NOPE"));
    fields.push(("action", "pay"));
    let refused = shopper.post_form("/checkout", &fields).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("data-field=\"discount_code\""),
        "{}",
        refused.body
    );

    // Someone else buys the stock meanwhile: the shopper is told, nothing is placed.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query("UPDATE variants SET inventory_quantity = 1")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut fields = address_fields(&csrf, &key, "test");
    fields.push(("action", "pay"));
    let refused = shopper.post_form("/checkout", &fields).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("data-notice"), "{}", refused.body);
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM orders").await,
        0
    );
    assert_eq!(
        scalar::<i32>(&app, &t, "SELECT inventory_quantity FROM variants").await,
        1
    );
}

async fn stripe_store(app: &TestApp, sub: &str) -> (Tenant, Item) {
    let t = app.create_tenant(sub, "Stripe Store").await;
    let v = product(app, &t, "Desk Lamp", 4000, 3).await;
    shipping_and_tax(app, &t).await;
    let cipher = SecretsCipher::new(&app.state.secret_key).unwrap();
    let settings = GatewaySettings::stripe(
        &cipher,
        &platform::payments::seal_context(t.id),
        &SecretString::from("sk_test_checkout_0123456789".to_owned()),
        &SecretString::from(WEBHOOK_SECRET.to_owned()),
    )
    .unwrap();
    gateway(
        app,
        &t,
        "stripe",
        "Card",
        serde_json::to_value(settings).unwrap(),
    )
    .await;
    (t, v)
}

async fn post_webhook(app: &TestApp, host: &str, payload: &str, signature: &str) -> (u16, String) {
    let res = reqwest::Client::new()
        .post(format!("http://{}/webhooks/stripe", app.addr))
        .header(reqwest::header::HOST, host)
        .header("stripe-signature", signature)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(payload.to_owned())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn stripe_checkout_is_paid_by_its_signed_webhook_once() {
    let stripe = StripeStandIn::start().await;
    let base = stripe.base_url();
    let app = TestApp::spawn_with(|s| s.stripe_api_base = Some(base)).await;
    let (t, v) = stripe_store(&app, "checkout-stripe").await;
    let host = TestApp::store_host("checkout-stripe");
    let mut shopper = app.browser(&host);
    let page = cart_and_checkout(&mut shopper, &v, "1").await;
    let (csrf, key) = (page.csrf(), field_value(&page, "checkout_key"));
    let mut fields = address_fields(&csrf, &key, "stripe");
    fields.push(("action", "pay"));
    let placed = shopper.post_form("/checkout", &fields).await;
    assert_eq!(placed.status, 303, "{}", placed.body);
    // To Stripe's hosted page; the session asks for the order's total: 40.00 + 19 % + 5.00.
    let hosted = placed.location.unwrap();
    assert!(
        hosted.contains("checkout.stripe.com") || hosted.starts_with("http"),
        "{hosted}"
    );
    let session_id: String = scalar(&app, &t, "SELECT payment_ref FROM orders").await;
    let session = stripe.session(&session_id).expect("a session was created");
    assert_eq!(session["amount_total"], 5260);
    assert_eq!(session["currency"], "eur");
    let create = stripe
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/checkout/sessions"))
        .unwrap();
    assert!(create.header("idempotency-key").is_some());

    // A forged webhook: 400 and nothing changes.
    let paid_session = stripe.pay_session(&session_id);
    let payload = event_payload("evt_1", "checkout.session.completed", &paid_session);
    let forged = sign_webhook(&payload, "whsec_wrong", unix_now());
    assert_eq!(post_webhook(&app, &host, &payload, &forged).await.0, 400);
    assert_eq!(
        scalar::<String>(&app, &t, "SELECT financial_status FROM orders").await,
        "pending"
    );
    // The real one marks it paid; a replay changes nothing.
    let signature = sign_webhook(&payload, WEBHOOK_SECRET, unix_now());
    assert_eq!(post_webhook(&app, &host, &payload, &signature).await.0, 200);
    assert_eq!(
        scalar::<String>(&app, &t, "SELECT financial_status FROM orders").await,
        "paid"
    );
    let (status, body) = post_webhook(&app, &host, &payload, &signature).await;
    assert_eq!((status, body.as_str()), (200, "already handled"));
    assert_eq!(
        scalar::<i64>(
            &app,
            &t,
            "SELECT count(*) FROM order_events WHERE kind = 'paid'"
        )
        .await,
        1
    );
    // The merchant refunds part of it from the admin: Stripe is asked, once, for that amount.
    let order_id: Uuid = scalar(&app, &t, "SELECT id FROM orders").await;
    let email = "owner@checkout-stripe.example.com";
    let hash = platform::accounts::hash_password(storefront_tests::OWNER_PASSWORD).unwrap();
    sqlx::query("UPDATE platform.users SET password_hash = $1 WHERE email = $2")
        .bind(hash)
        .bind(email)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut admin = app.browser(&host);
    let login = admin.get("/admin/login").await;
    let signed_in = admin
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &login.csrf()),
                ("email", email),
                ("password", storefront_tests::OWNER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let detail = admin.get(&format!("/admin/orders/{order_id}")).await;
    let refunded = admin
        .post_form(
            &format!("/admin/orders/{order_id}/refund"),
            &[("_csrf", &detail.csrf()), ("amount", "10.00")],
        )
        .await;
    assert_eq!(refunded.status, 303, "{}", refunded.body);
    let refunds: Vec<_> = stripe
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/refunds"))
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].param("amount"), Some("1000"));
    assert!(refunds[0].header("idempotency-key").is_some());
    assert_eq!(
        scalar::<String>(&app, &t, "SELECT financial_status FROM orders").await,
        "partially_refunded"
    );
    // The same webhook on another store's host: that store has no Stripe, nothing to see.
    app.create_tenant("checkout-stripe2", "Other").await;
    let (status, _) = post_webhook(
        &app,
        &TestApp::store_host("checkout-stripe2"),
        &payload,
        &signature,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_webhook_for_another_amount_is_flagged_not_paid() {
    let stripe = StripeStandIn::start().await;
    let base = stripe.base_url();
    let app = TestApp::spawn_with(|s| s.stripe_api_base = Some(base)).await;
    let (t, v) = stripe_store(&app, "checkout-flag").await;
    let host = TestApp::store_host("checkout-flag");
    let mut shopper = app.browser(&host);
    let page = cart_and_checkout(&mut shopper, &v, "1").await;
    let (csrf, key) = (page.csrf(), field_value(&page, "checkout_key"));
    let mut fields = address_fields(&csrf, &key, "stripe");
    fields.push(("action", "pay"));
    assert_eq!(shopper.post_form("/checkout", &fields).await.status, 303);
    let session_id: String = scalar(&app, &t, "SELECT payment_ref FROM orders").await;
    let mut paid_session = stripe.pay_session(&session_id);
    paid_session["amount_total"] = serde_json::json!(100);
    let payload = event_payload("evt_low", "checkout.session.completed", &paid_session);
    let signature = sign_webhook(&payload, WEBHOOK_SECRET, unix_now());
    assert_eq!(post_webhook(&app, &host, &payload, &signature).await.0, 200);
    assert_eq!(
        scalar::<String>(&app, &t, "SELECT financial_status FROM orders").await,
        "pending"
    );
    let flag: Option<String> = scalar(&app, &t, "SELECT payment_flag FROM orders").await;
    assert!(flag.unwrap().contains("1.00"));
}

#[tokio::test]
async fn manual_payment_shows_instructions_and_the_sweeper_releases_unpaid_stock() {
    let receiver = SmtpReceiver::start().await;
    let app = TestApp::spawn_with(|s| {
        s.smtp_url = Some(SecretString::from(receiver.url()));
        s.reservation_sweep_secs = 1;
    })
    .await;
    let t = app.create_tenant("checkout-manual", "Manual").await;
    let v = product(&app, &t, "Vase", 3000, 4).await;
    shipping_and_tax(&app, &t).await;
    gateway(
        &app,
        &t,
        "manual",
        "Bank transfer",
        serde_json::json!({"gateway": "manual", "instructions": "Pay to IBAN DE00 1234"}),
    )
    .await;
    let mut shopper = app.browser(&TestApp::store_host("checkout-manual"));
    let page = cart_and_checkout(&mut shopper, &v, "3").await;
    assert!(page.body.contains("Bank transfer"));
    let (csrf, key) = (page.csrf(), field_value(&page, "checkout_key"));
    let mut fields = address_fields(&csrf, &key, "manual");
    fields.push(("action", "pay"));
    let placed = shopper.post_form("/checkout", &fields).await;
    assert_eq!(placed.status, 303, "{}", placed.body);
    let order_page = shopper.get(placed.location.as_deref().unwrap()).await;
    assert!(order_page.body.contains("Pay to IBAN DE00 1234"));
    assert!(
        order_page
            .body
            .contains("data-financial-status=\"pending\"")
    );
    assert_eq!(
        scalar::<i32>(&app, &t, "SELECT inventory_quantity FROM variants").await,
        1
    );
    let confirmation = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        confirmation[0]
            .text_body()
            .contains("Pay to IBAN DE00 1234")
    );

    // The reservation runs out: the sweeper cancels the order and the stock comes back.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query("UPDATE orders SET reserved_until = now() - interval '1 minute'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mails = receiver.wait_for(2, Duration::from_secs(15)).await;
    assert!(
        mails[1].subject().starts_with("Order #1001 cancelled"),
        "{}",
        mails[1].subject()
    );
    assert_eq!(
        scalar::<String>(&app, &t, "SELECT status FROM orders").await,
        "cancelled"
    );
    assert_eq!(
        scalar::<i32>(&app, &t, "SELECT inventory_quantity FROM variants").await,
        4
    );
}

#[tokio::test]
async fn store_credit_pays_for_signed_in_customers_within_their_balance() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("checkout-credit", "Credit").await;
    let v = product(&app, &t, "Book", 2000, 5).await;
    shipping_and_tax(&app, &t).await;
    gateway(
        &app,
        &t,
        "store_credit",
        "Store credit",
        serde_json::json!({"gateway": "store_credit"}),
    )
    .await;
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query("UPDATE settings SET customer_accounts = 'optional'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut shopper = app.browser(&TestApp::store_host("checkout-credit"));
    let form = shopper.get("/account/register").await;
    let registered = shopper
        .post_form(
            "/account/register",
            &[
                ("_csrf", &form.csrf()),
                ("email", "ada@example.com"),
                ("password", "a long enough password"),
                ("first_name", "Ada"),
                ("last_name", "Lovelace"),
            ],
        )
        .await;
    assert_eq!(registered.status, 303, "{}", registered.body);
    let customer: Uuid = scalar(&app, &t, "SELECT id FROM customers").await;
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    tenant_store::credit::adjust(&mut tx, customer, 3000, "Goodwill", None, "owner")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // 2 books: 40.00 + 19 % + 5.00 = 52.60 > 30.00: refused, nothing placed.
    let page = cart_and_checkout(&mut shopper, &v, "2").await;
    assert!(page.body.contains("Store credit"));
    let (csrf, key) = (page.csrf(), field_value(&page, "checkout_key"));
    let mut fields = address_fields(&csrf, &key, "store_credit");
    fields.push(("action", "pay"));
    let refused = shopper.post_form("/checkout", &fields).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("does not cover"));
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM orders").await,
        0
    );
    assert_eq!(
        scalar::<i32>(&app, &t, "SELECT inventory_quantity FROM variants").await,
        5
    );
    // 1 book: 20.00 + 19 % + 5.00 = 28.80: paid at once from the balance.
    let change = shopper
        .post_form(
            "/cart/change",
            &[("id", &v.variant.to_string()), ("quantity", "1")],
        )
        .await;
    assert_eq!(change.status, 303);
    let placed = shopper.post_form("/checkout", &fields).await;
    assert_eq!(placed.status, 303, "{}", placed.body);
    assert_eq!(
        scalar::<String>(&app, &t, "SELECT financial_status FROM orders").await,
        "paid"
    );
    // Paid while placing: the stock reserved last is committed at once, so the
    // reservation sweeper never gives it back.
    assert_eq!(
        scalar::<String>(
            &app,
            &t,
            "SELECT string_agg(state, ',') FROM stock_reservations"
        )
        .await,
        "committed"
    );
    assert_eq!(
        scalar::<i32>(&app, &t, "SELECT inventory_quantity FROM variants").await,
        4
    );
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT credit_minor FROM customers").await,
        120
    );
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM store_credit_ledger").await,
        2
    );
    // The account lists the order, linked to its page, and what credit is left.
    let account = shopper.get("/account").await;
    let token: String = scalar(&app, &t, "SELECT token FROM orders").await;
    assert!(
        account.body.contains(&format!("/orders/{token}")),
        "{}",
        account.body
    );
    assert!(
        account.body.contains("data-store-credit>€1.20<"),
        "{}",
        account.body
    );
    // Guests are not offered store credit.
    let mut guest = app.browser(&TestApp::store_host("checkout-credit"));
    let page = cart_and_checkout(&mut guest, &v, "1").await;
    assert!(!page.body.contains("gw-store_credit"));
}

#[tokio::test]
async fn fifty_simultaneous_http_checkouts_for_ten_in_stock_sell_exactly_ten() {
    let app = TestApp::spawn_with(|s| s.database_max_connections = 20).await;
    let t = app.create_tenant("checkout-rush", "Rush").await;
    let v = product(&app, &t, "Limited Print", 1000, 10).await;
    shipping_and_tax(&app, &t).await;
    gateway(
        &app,
        &t,
        "test",
        "Card (test)",
        serde_json::json!({"gateway": "test"}),
    )
    .await;
    let host = TestApp::store_host("checkout-rush");
    let mut ready = Vec::new();
    for _ in 0..50 {
        let mut shopper = app.browser(&host);
        let page = cart_and_checkout(&mut shopper, &v, "1").await;
        let (csrf, key) = (page.csrf(), field_value(&page, "checkout_key"));
        ready.push((shopper, csrf, key));
    }
    let results = futures::future::join_all(ready.iter_mut().map(|(shopper, csrf, key)| {
        let mut fields = address_fields(csrf, key, "test");
        fields.push(("action", "pay"));
        let fields: Vec<(String, String)> = fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        async move {
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let page = shopper.post_form("/checkout", &fields).await;
            match (page.status, page.location.as_deref()) {
                (303, Some(l)) if l.starts_with("/orders/") => 303,
                (422, _) if page.body.contains("data-notice") => 422,
                _ => panic!(
                    "unexpected answer {} {:?}: {}",
                    page.status, page.location, page.body
                ),
            }
        }
    }))
    .await;
    let placed = results.iter().filter(|s| **s == 303).count();
    let refused = results.iter().filter(|s| **s == 422).count();
    assert_eq!((placed, refused), (10, 40), "{results:?}");
    assert_eq!(
        scalar::<i64>(&app, &t, "SELECT count(*) FROM orders").await,
        10
    );
    assert_eq!(
        scalar::<i32>(&app, &t, "SELECT inventory_quantity FROM variants").await,
        0
    );
}
