//! Checkout settings in the admin, through HTTP: shipping rates, tax rates, discount codes
//! and payment gateways; field errors, permissions, secrets and tenant isolation.

use platform::tenancy::Tenant;
use secrecy::SecretString;
use storefront_tests::{Browser, Page, TestApp};
use tenant_store::discounts;
use tenant_store::pricing::{DiscountValue, ShippingRule, WeightBracket};
use tenant_store::shipping;
use tenant_store::taxes;
use uuid::Uuid;

/// Posts `fields` with a fresh CSRF token from `from`.
async fn submit(b: &mut Browser<'_>, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
    let page = b.get(from).await;
    assert_eq!(page.status, 200, "{from}: {}", page.body);
    let csrf = page.csrf();
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post_form(path, &all).await
}

fn assert_redirect(page: &Page, to: &str) {
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some(to));
}

fn assert_field_error(page: &Page, field: &str) {
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains(&format!("data-field=\"{field}\"")),
        "no error on {field}: {}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("aria-describedby=\"{field}-error\"")),
        "the error is not tied to {field}"
    );
}

async fn rates(app: &TestApp, t: &Tenant) -> Vec<shipping::ShippingRate> {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    shipping::list_rates(&mut tx).await.unwrap()
}

async fn audit_actions(app: &TestApp, t: &Tenant) -> Vec<String> {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

const SHIPPING: &str = "/admin/settings/shipping";

#[tokio::test]
async fn shipping_rates_are_created_edited_and_deleted() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("ship-crud", "Ship Co").await;
    let new = "/admin/settings/shipping/new";

    let done = submit(
        &mut owner,
        new,
        SHIPPING,
        &[
            ("name", "Standard"),
            ("countries", "de, at"),
            ("position", "1"),
            ("kind", "flat"),
            ("price", "4.95"),
        ],
    )
    .await;
    assert_redirect(&done, SHIPPING);
    let free = submit(
        &mut owner,
        new,
        SHIPPING,
        &[
            ("name", "Saver"),
            ("countries", ""),
            ("kind", "free_over"),
            ("price", "6"),
            ("threshold", "50.00"),
        ],
    )
    .await;
    assert_redirect(&free, SHIPPING);

    let list = rates(&app, &t).await;
    assert_eq!(list.len(), 2);
    let standard = list.iter().find(|r| r.name == "Standard").unwrap();
    assert_eq!(standard.countries, ["DE", "AT"]);
    assert_eq!(standard.rule, ShippingRule::Flat { price_minor: 495 });
    let saver = list.iter().find(|r| r.name == "Saver").unwrap();
    assert!(saver.countries.is_empty());
    assert_eq!(
        saver.rule,
        ShippingRule::FreeOver {
            price_minor: 600,
            threshold_minor: 5000
        }
    );

    let page = owner.get(SHIPPING).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Standard"), "{}", page.body);
    assert!(page.body.contains("DE, AT"));
    assert!(page.body.contains("4.95"));
    assert!(page.body.contains("Everywhere"));

    // The editor shows the stored values; saving turns it into a by-weight rate.
    let path = format!("{SHIPPING}/{}", standard.id);
    let editor = owner.get(&path).await;
    assert_eq!(editor.status, 200);
    assert!(editor.body.contains("value=\"4.95\""), "{}", editor.body);
    let saved = submit(
        &mut owner,
        &path,
        &path,
        &[
            ("name", "Standard"),
            ("countries", "DE"),
            ("position", "1"),
            ("kind", "by_weight"),
            ("b0_up_to", "1000"),
            ("b0_price", "4.50"),
            ("b1_up_to", ""),
            ("b1_price", ""),
            ("b2_up_to", ""),
            ("b2_price", "9.90"),
        ],
    )
    .await;
    assert_redirect(&saved, SHIPPING);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let rate = shipping::get_rate(&mut tx, standard.id).await.unwrap();
    drop(tx);
    assert_eq!(rate.countries, ["DE"]);
    let ShippingRule::ByWeight { mut brackets } = rate.rule else {
        panic!("by weight: {:?}", rate.rule);
    };
    brackets.sort_by_key(|b| b.up_to_grams.unwrap_or(i64::MAX));
    assert_eq!(
        brackets,
        [
            WeightBracket {
                up_to_grams: Some(1000),
                price_minor: 450
            },
            WeightBracket {
                up_to_grams: None,
                price_minor: 990
            }
        ]
    );

    let gone = submit(&mut owner, SHIPPING, &format!("{path}/delete"), &[]).await;
    assert_redirect(&gone, SHIPPING);
    assert_eq!(rates(&app, &t).await.len(), 1);
    assert_eq!(owner.get(&path).await.status, 404);

    let actions = audit_actions(&app, &t).await;
    for a in [
        "shipping.rate.create",
        "shipping.rate.update",
        "shipping.rate.delete",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn bad_shipping_input_is_refused_with_the_field_named_and_nothing_saved() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("ship-bad", "Ship Bad").await;
    let new = "/admin/settings/shipping/new";
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("name", "Std"), ("kind", "flat"), ("price", "4.9.5")],
            "price",
        ),
        (
            &[("name", "Std"), ("kind", "flat"), ("price", "4.955")],
            "price",
        ),
        (
            &[("name", "Std"), ("kind", "flat"), ("price", "-1")],
            "price",
        ),
        (&[("name", ""), ("kind", "flat"), ("price", "1")], "name"),
        (
            &[
                ("name", "Std"),
                ("countries", "Germany"),
                ("kind", "flat"),
                ("price", "1"),
            ],
            "countries",
        ),
        (
            &[
                ("name", "Std"),
                ("kind", "free_over"),
                ("price", "1"),
                ("threshold", "lots"),
            ],
            "threshold",
        ),
        (
            &[
                ("name", "Heavy"),
                ("kind", "by_weight"),
                ("b0_up_to", "500"),
                ("b0_price", "3"),
                ("b1_up_to", "2000"),
                ("b1_price", "three"),
            ],
            "b1_price",
        ),
        (
            &[
                ("name", "Heavy"),
                ("kind", "by_weight"),
                ("b0_up_to", ""),
                ("b0_price", ""),
                ("b1_up_to", "-5"),
                ("b1_price", "3"),
            ],
            "b1_up_to",
        ),
    ];
    for (fields, field) in cases {
        let page = submit(&mut owner, new, SHIPPING, fields).await;
        assert_field_error(&page, field);
        // What was typed is shown again.
        assert!(page.body.contains(fields[0].1), "{}", page.body);
    }
    assert!(rates(&app, &t).await.is_empty());

    // A refused edit changes nothing either.
    let ok = submit(
        &mut owner,
        new,
        SHIPPING,
        &[("name", "Std"), ("kind", "flat"), ("price", "5")],
    )
    .await;
    assert_redirect(&ok, SHIPPING);
    let id = rates(&app, &t).await[0].id;
    let path = format!("{SHIPPING}/{id}");
    let page = submit(
        &mut owner,
        &path,
        &path,
        &[("name", "Renamed"), ("kind", "flat"), ("price", "abc")],
    )
    .await;
    assert_field_error(&page, "price");
    let after = rates(&app, &t).await;
    assert_eq!(after[0].name, "Std");
    assert_eq!(after[0].rule, ShippingRule::Flat { price_minor: 500 });
}

const TAXES: &str = "/admin/settings/taxes";

#[tokio::test]
async fn tax_rates_are_typed_as_percents_and_prices_can_include_tax() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("tax-crud", "Tax Co").await;
    let created = submit(
        &mut owner,
        TAXES,
        TAXES,
        &[
            ("country", "de"),
            ("region", ""),
            ("name", "VAT"),
            ("rate", "19"),
        ],
    )
    .await;
    assert_redirect(&created, TAXES);
    let created = submit(
        &mut owner,
        TAXES,
        TAXES,
        &[
            ("country", "US"),
            ("region", "ca"),
            ("name", "CA state tax"),
            ("rate", "7.25"),
        ],
    )
    .await;
    assert_redirect(&created, TAXES);

    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let list = taxes::list_rates(&mut tx).await.unwrap();
    drop(tx);
    let bp: Vec<_> = list
        .iter()
        .map(|r| (r.country.as_str(), r.region.as_str(), r.rate_bp))
        .collect();
    assert_eq!(bp, [("DE", "", 1900), ("US", "CA", 725)]);
    let page = owner.get(TAXES).await;
    assert!(page.body.contains("7.25 %"), "{}", page.body);
    assert!(page.body.contains("CA state tax"));

    // A second rate for the same place, and a rate that is not a percent, are refused.
    let dup = submit(
        &mut owner,
        TAXES,
        TAXES,
        &[
            ("country", "DE"),
            ("region", ""),
            ("name", "VAT 2"),
            ("rate", "7"),
        ],
    )
    .await;
    assert_field_error(&dup, "region");
    for bad in ["abc", "7.125", "101", "-3", "1e2"] {
        let page = submit(
            &mut owner,
            TAXES,
            TAXES,
            &[("country", "FR"), ("name", "TVA"), ("rate", bad)],
        )
        .await;
        assert_field_error(&page, "rate");
    }
    let page = submit(
        &mut owner,
        TAXES,
        TAXES,
        &[("country", "France"), ("name", "TVA"), ("rate", "20")],
    )
    .await;
    assert_field_error(&page, "country");

    // Edit and delete.
    let de = list.iter().find(|r| r.country == "DE").unwrap().id;
    let path = format!("{TAXES}/{de}");
    let editor = owner.get(&path).await;
    assert_eq!(editor.status, 200);
    assert!(editor.body.contains("value=\"19\""), "{}", editor.body);
    let bad = submit(
        &mut owner,
        &path,
        &path,
        &[("country", "DE"), ("name", "VAT"), ("rate", "x")],
    )
    .await;
    assert_field_error(&bad, "rate");
    let saved = submit(
        &mut owner,
        &path,
        &path,
        &[("country", "DE"), ("name", "MwSt"), ("rate", "7.5")],
    )
    .await;
    assert_redirect(&saved, TAXES);
    let gone = submit(
        &mut owner,
        TAXES,
        &format!("{TAXES}/{}/delete", list[1].id),
        &[],
    )
    .await;
    assert_redirect(&gone, TAXES);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let after = taxes::list_rates(&mut tx).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!((after[0].name.as_str(), after[0].rate_bp), ("MwSt", 750));
    assert!(!taxes::prices_include_tax(&mut tx).await.unwrap());
    drop(tx);

    // The switch.
    let on = submit(
        &mut owner,
        TAXES,
        "/admin/settings/taxes/prices-include-tax",
        &[("prices_include_tax", "on")],
    )
    .await;
    assert_redirect(&on, TAXES);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    assert!(taxes::prices_include_tax(&mut tx).await.unwrap());
    drop(tx);
    let off = submit(
        &mut owner,
        TAXES,
        "/admin/settings/taxes/prices-include-tax",
        &[],
    )
    .await;
    assert_redirect(&off, TAXES);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    assert!(!taxes::prices_include_tax(&mut tx).await.unwrap());
    drop(tx);

    let actions = audit_actions(&app, &t).await;
    for a in [
        "tax.rate.create",
        "tax.rate.update",
        "tax.rate.delete",
        "tax.prices_include_tax.update",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

const DISCOUNTS: &str = "/admin/discounts";

async fn codes(app: &TestApp, t: &Tenant) -> Vec<discounts::DiscountCode> {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    discounts::list_codes(&mut tx).await.unwrap()
}

#[tokio::test]
async fn discount_codes_are_created_edited_and_deleted() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("disc-crud", "Disc Co").await;
    let new = "/admin/discounts/new";
    let made = submit(
        &mut owner,
        new,
        DISCOUNTS,
        &[
            ("code", "SPRING15"),
            ("kind", "percentage"),
            ("value", "15"),
            ("min_subtotal", "30.00"),
            ("starts_at", "2026-03-01T00:00"),
            ("ends_at", "2026-06-01T00:00"),
            ("usage_limit", "100"),
        ],
    )
    .await;
    assert_redirect(&made, DISCOUNTS);
    let made = submit(
        &mut owner,
        new,
        DISCOUNTS,
        &[
            ("code", "TENOFF"),
            ("kind", "fixed_amount"),
            ("value", "10.50"),
        ],
    )
    .await;
    assert_redirect(&made, DISCOUNTS);
    let made = submit(
        &mut owner,
        new,
        DISCOUNTS,
        &[
            ("code", "SHIPFREE"),
            ("kind", "free_shipping"),
            ("value", ""),
        ],
    )
    .await;
    assert_redirect(&made, DISCOUNTS);

    let list = codes(&app, &t).await;
    let find = |c: &str| list.iter().find(|d| d.code == c).unwrap().clone();
    let spring = find("SPRING15");
    assert_eq!(
        spring.value,
        DiscountValue::Percentage { basis_points: 1500 }
    );
    assert_eq!(spring.min_subtotal_minor, 3000);
    assert_eq!(spring.usage_limit, Some(100));
    assert_eq!(spring.starts_at.to_rfc3339(), "2026-03-01T00:00:00+00:00");
    assert_eq!(
        spring.ends_at.map(|e| e.to_rfc3339()).as_deref(),
        Some("2026-06-01T00:00:00+00:00")
    );
    assert_eq!(
        find("TENOFF").value,
        DiscountValue::FixedAmount { amount_minor: 1050 }
    );
    assert_eq!(find("SHIPFREE").value, DiscountValue::FreeShipping);

    // Times used are shown.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query("UPDATE discount_codes SET times_used = 7 WHERE id = $1")
        .bind(spring.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let page = owner.get(DISCOUNTS).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("7 of 100 times"), "{}", page.body);
    assert!(page.body.contains("15 % off"));
    assert!(page.body.contains("Free shipping"));

    // Edit keeps the usage count.
    let path = format!("{DISCOUNTS}/{}", spring.id);
    let editor = owner.get(&path).await;
    assert!(
        editor.body.contains("value=\"2026-03-01T00:00\""),
        "{}",
        editor.body
    );
    let saved = submit(
        &mut owner,
        &path,
        &path,
        &[
            ("code", "SPRING20"),
            ("kind", "percentage"),
            ("value", "20"),
            ("min_subtotal", ""),
            ("starts_at", "2026-03-01T00:00"),
            ("ends_at", ""),
            ("usage_limit", ""),
        ],
    )
    .await;
    assert_redirect(&saved, DISCOUNTS);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let after = discounts::get_code(&mut tx, spring.id).await.unwrap();
    drop(tx);
    assert_eq!(after.code, "SPRING20");
    assert_eq!(after.times_used, 7);
    assert_eq!(after.usage_limit, None);
    assert_eq!(after.ends_at, None);
    assert_eq!(after.min_subtotal_minor, 0);

    let gone = submit(&mut owner, DISCOUNTS, &format!("{path}/delete"), &[]).await;
    assert_redirect(&gone, DISCOUNTS);
    assert_eq!(codes(&app, &t).await.len(), 2);
    assert_eq!(owner.get(&path).await.status, 404);
    let actions = audit_actions(&app, &t).await;
    for a in ["discount.create", "discount.update", "discount.delete"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn bad_discount_input_is_refused_with_the_field_named_and_nothing_saved() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("disc-bad", "Disc Bad").await;
    let new = "/admin/discounts/new";
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("code", "BAD CODE"),
                ("kind", "percentage"),
                ("value", "10"),
            ],
            "code",
        ),
        (
            &[("code", "PCT"), ("kind", "percentage"), ("value", "150")],
            "value",
        ),
        (
            &[("code", "PCT"), ("kind", "percentage"), ("value", "ten")],
            "value",
        ),
        (
            &[("code", "AMT"), ("kind", "fixed_amount"), ("value", "0")],
            "value",
        ),
        (
            &[
                ("code", "MIN"),
                ("kind", "free_shipping"),
                ("min_subtotal", "1,000"),
            ],
            "min_subtotal",
        ),
        (
            &[
                ("code", "DATES"),
                ("kind", "free_shipping"),
                ("starts_at", "2026-05-01T00:00"),
                ("ends_at", "2026-04-01T00:00"),
            ],
            "ends_at",
        ),
        (
            &[
                ("code", "DATES"),
                ("kind", "free_shipping"),
                ("starts_at", "soon"),
            ],
            "starts_at",
        ),
        (
            &[
                ("code", "LIMIT"),
                ("kind", "free_shipping"),
                ("usage_limit", "0"),
            ],
            "usage_limit",
        ),
    ];
    for (fields, field) in cases {
        let page = submit(&mut owner, new, DISCOUNTS, fields).await;
        assert_field_error(&page, field);
    }
    assert!(codes(&app, &t).await.is_empty());

    // A code taken in another letter case.
    let ok = submit(
        &mut owner,
        new,
        DISCOUNTS,
        &[("code", "WELCOME"), ("kind", "free_shipping")],
    )
    .await;
    assert_redirect(&ok, DISCOUNTS);
    let dup = submit(
        &mut owner,
        new,
        DISCOUNTS,
        &[("code", "welcome"), ("kind", "free_shipping")],
    )
    .await;
    assert_field_error(&dup, "code");
    assert_eq!(codes(&app, &t).await.len(), 1);
}

const PAYMENTS: &str = "/admin/settings/payments";

async fn gateway_json(app: &TestApp, t: &Tenant) -> String {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let rows: Vec<(String, bool, String, serde_json::Value)> =
        sqlx::query_as("SELECT name, enabled, label, settings FROM payment_gateways")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    serde_json::to_string(&rows).unwrap()
}

#[tokio::test]
async fn manual_test_and_store_credit_gateways_are_configured() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("pay-basic", "Pay Co").await;
    let list = owner.get(PAYMENTS).await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Not set up"), "{}", list.body);

    let manual = format!("{PAYMENTS}/manual");
    let bad = submit(
        &mut owner,
        &manual,
        &manual,
        &[
            ("enabled", "on"),
            ("label", "Bank transfer"),
            ("instructions", "  "),
        ],
    )
    .await;
    assert_field_error(&bad, "instructions");
    let bad = submit(
        &mut owner,
        &manual,
        &manual,
        &[("enabled", "on"), ("label", ""), ("instructions", "Pay us")],
    )
    .await;
    assert_field_error(&bad, "label");
    assert_eq!(gateway_json(&app, &t).await, "[]");

    let ok = submit(
        &mut owner,
        &manual,
        &manual,
        &[
            ("enabled", "on"),
            ("label", "Bank transfer"),
            (
                "instructions",
                "IBAN DE00 1234, reference: your order number",
            ),
        ],
    )
    .await;
    assert_redirect(&ok, PAYMENTS);
    let test = format!("{PAYMENTS}/test");
    let ok = submit(
        &mut owner,
        &test,
        &test,
        &[("enabled", "on"), ("label", "Test card")],
    )
    .await;
    assert_redirect(&ok, PAYMENTS);
    let credit = format!("{PAYMENTS}/store_credit");
    let ok = submit(&mut owner, &credit, &credit, &[("label", "Gift balance")]).await;
    assert_redirect(&ok, PAYMENTS);

    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let manual_row = tenant_store::payments::get_gateway(&mut tx, "manual")
        .await
        .unwrap();
    assert!(manual_row.enabled);
    assert_eq!(
        manual_row.settings,
        serde_json::json!({
            "gateway": "manual",
            "instructions": "IBAN DE00 1234, reference: your order number"
        })
    );
    let test_row = tenant_store::payments::get_gateway(&mut tx, "test")
        .await
        .unwrap();
    assert!(test_row.enabled);
    assert_eq!(test_row.settings, serde_json::json!({ "gateway": "test" }));
    let credit_row = tenant_store::payments::get_gateway(&mut tx, "store_credit")
        .await
        .unwrap();
    assert!(!credit_row.enabled);
    assert_eq!(credit_row.label, "Gift balance");
    assert_eq!(
        credit_row.settings,
        serde_json::json!({ "gateway": "store_credit" })
    );
    drop(tx);

    // The editor shows what was stored; disabling keeps the instructions.
    let editor = owner.get(&manual).await;
    assert!(editor.body.contains("IBAN DE00 1234"), "{}", editor.body);
    let off = submit(
        &mut owner,
        &manual,
        &manual,
        &[
            ("label", "Bank transfer"),
            ("instructions", "IBAN DE00 1234"),
        ],
    )
    .await;
    assert_redirect(&off, PAYMENTS);
    let list = owner.get(PAYMENTS).await;
    assert!(list.body.contains("Gift balance"));
    assert!(list.body.contains("Disabled"));
    assert_eq!(owner.get(&format!("{PAYMENTS}/paypal")).await.status, 404);
    let actions = audit_actions(&app, &t).await;
    assert!(actions.iter().any(|a| a == "payments.gateway.create"));
    assert!(actions.iter().any(|a| a == "payments.gateway.update"));
}

#[tokio::test]
async fn the_test_gateway_cannot_be_enabled_in_production() {
    let app = TestApp::spawn_with(|s| {
        s.environment = platform::config::Environment::Production;
        s.secret_key = Some(SecretString::from(
            "a-production-secret-key-for-the-tests-0123456789",
        ));
    })
    .await;
    let (t, mut owner) = app.store_with_owner("pay-prod", "Pay Prod").await;
    let test = format!("{PAYMENTS}/test");
    let page = submit(
        &mut owner,
        &test,
        &test,
        &[("enabled", "on"), ("label", "Test card")],
    )
    .await;
    assert_field_error(&page, "enabled");
    assert!(page.body.contains("live server"));
    assert_eq!(gateway_json(&app, &t).await, "[]");
    // Disabled, it may be saved.
    let ok = submit(&mut owner, &test, &test, &[("label", "Test card")]).await;
    assert_redirect(&ok, PAYMENTS);
}

#[tokio::test]
async fn stripe_secrets_are_sealed_and_never_shown() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("pay-stripe", "Pay Stripe").await;
    let stripe = format!("{PAYMENTS}/stripe");
    const KEY: &str = "sk_test_51Habcdefghijklmnop1234";
    const HOOK: &str = "whsec_qrstuvwxyzabcdef5678";
    const KEY2: &str = "sk_live_99Zyxwvutsrqponmlk4321";

    let editor = owner.get(&stripe).await;
    assert_eq!(editor.status, 200);
    assert!(
        editor
            .body
            .contains("http://pay-stripe.storefront.test/webhooks/stripe"),
        "{}",
        editor.body
    );
    assert!(editor.body.contains("type=\"password\""));

    // Both secrets are needed the first time.
    let bad = submit(
        &mut owner,
        &stripe,
        &stripe,
        &[
            ("enabled", "on"),
            ("label", "Card"),
            ("secret_key", KEY),
            ("webhook_secret", ""),
        ],
    )
    .await;
    assert_field_error(&bad, "webhook_secret");
    assert!(!bad.body.contains(KEY), "a secret was echoed");
    assert_eq!(gateway_json(&app, &t).await, "[]");

    let ok = submit(
        &mut owner,
        &stripe,
        &stripe,
        &[
            ("enabled", "on"),
            ("label", "Card"),
            ("secret_key", KEY),
            ("webhook_secret", HOOK),
        ],
    )
    .await;
    assert_redirect(&ok, PAYMENTS);
    let stored = gateway_json(&app, &t).await;
    for secret in [KEY, HOOK, "51Habcdefghijklmnop", "qrstuvwxyzabcdef"] {
        assert!(!stored.contains(secret), "{secret} stored: {stored}");
    }
    assert!(stored.contains("sk_test_…1234"), "{stored}");

    let mut pages = Vec::new();
    for p in [PAYMENTS, stripe.as_str(), "/admin/audit"] {
        let page = owner.get(p).await;
        assert_eq!(page.status, 200, "{p}");
        pages.push(page);
    }
    for page in &pages {
        for secret in [KEY, HOOK, "51Habcdefghijklmnop", "qrstuvwxyzabcdef"] {
            assert!(!page.body.contains(secret), "{secret} shown");
        }
    }
    assert!(pages[1].body.contains("sk_test_…1234"), "{}", pages[1].body);
    assert!(pages[1].body.contains("whsec_…5678"));

    // Empty inputs keep the stored secrets; one typed replaces only its own.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let before = tenant_store::payments::get_gateway(&mut tx, "stripe")
        .await
        .unwrap();
    drop(tx);
    let kept = submit(
        &mut owner,
        &stripe,
        &stripe,
        &[
            ("enabled", "on"),
            ("label", "Credit card"),
            ("secret_key", ""),
            ("webhook_secret", ""),
        ],
    )
    .await;
    assert_redirect(&kept, PAYMENTS);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let after = tenant_store::payments::get_gateway(&mut tx, "stripe")
        .await
        .unwrap();
    drop(tx);
    assert_eq!(after.label, "Credit card");
    assert_eq!(after.settings, before.settings);

    let replaced = submit(
        &mut owner,
        &stripe,
        &stripe,
        &[
            ("enabled", "on"),
            ("label", "Credit card"),
            ("secret_key", KEY2),
            ("webhook_secret", ""),
        ],
    )
    .await;
    assert_redirect(&replaced, PAYMENTS);
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let row = tenant_store::payments::get_gateway(&mut tx, "stripe")
        .await
        .unwrap();
    drop(tx);
    assert_eq!(row.settings["secret_key_hint"], "sk_live_…4321");
    assert_eq!(row.settings["webhook_secret_hint"], "whsec_…5678");
    assert_eq!(
        row.settings["sealed_webhook_secret"],
        before.settings["sealed_webhook_secret"]
    );
    assert_ne!(
        row.settings["sealed_secret_key"],
        before.settings["sealed_secret_key"]
    );
    // The stored settings still open for this store (the secrets are the ones typed).
    let gateway = platform::payments::build(&app.state, t.id, &row).expect("opens");
    assert_eq!(gateway.name(), "stripe");
    let stored = gateway_json(&app, &t).await;
    assert!(!stored.contains("99Zyxwvutsrqponmlk"), "{stored}");
    let page = owner.get(&stripe).await;
    assert!(!page.body.contains(KEY2));
}

#[tokio::test]
async fn staff_without_the_permission_get_403() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("perm-shop", "Perm Shop").await;
    let made = submit(
        &mut owner,
        "/admin/settings/shipping/new",
        SHIPPING,
        &[("name", "Std"), ("kind", "flat"), ("price", "5")],
    )
    .await;
    assert_redirect(&made, SHIPPING);
    let rate = rates(&app, &t).await[0].id;

    let mut clerk = app
        .staff_member("perm-shop", "clerk@perm-shop.example", &["orders"])
        .await;
    for p in [
        SHIPPING.to_owned(),
        format!("{SHIPPING}/new"),
        format!("{SHIPPING}/{rate}"),
        TAXES.to_owned(),
        PAYMENTS.to_owned(),
        format!("{PAYMENTS}/stripe"),
    ] {
        assert_eq!(clerk.get(&p).await.status, 403, "{p}");
    }
    // Discounts need `orders`, which the clerk has.
    assert_eq!(clerk.get(DISCOUNTS).await.status, 200);
    let csrf = clerk.get(DISCOUNTS).await.csrf();
    for (p, fields) in [
        (
            SHIPPING.to_owned(),
            vec![("name", "Sneaky"), ("kind", "flat"), ("price", "1")],
        ),
        (format!("{SHIPPING}/{rate}/delete"), vec![]),
        (
            TAXES.to_owned(),
            vec![("country", "DE"), ("name", "VAT"), ("rate", "19")],
        ),
        (
            format!("{PAYMENTS}/test"),
            vec![("enabled", "on"), ("label", "Test")],
        ),
    ] {
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend(fields);
        assert_eq!(clerk.post_form(&p, &all).await.status, 403, "{p}");
    }
    assert_eq!(rates(&app, &t).await.len(), 1);
    assert_eq!(gateway_json(&app, &t).await, "[]");

    let mut writer = app
        .staff_member("perm-shop", "writer@perm-shop.example", &["settings"])
        .await;
    assert_eq!(writer.get(SHIPPING).await.status, 200);
    assert_eq!(writer.get(DISCOUNTS).await.status, 403);
    let csrf = writer.get(SHIPPING).await.csrf();
    let page = writer
        .post_form(
            DISCOUNTS,
            &[("_csrf", &csrf), ("code", "X"), ("kind", "free_shipping")],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(codes(&app, &t).await.is_empty());
}

#[tokio::test]
async fn another_stores_records_are_not_found() {
    let app = TestApp::spawn().await;
    let (alpha, mut alpha_owner) = app.store_with_owner("iso-alpha", "Alpha").await;
    let (_beta, mut beta_owner) = app.store_with_owner("iso-beta", "Beta").await;

    let made = submit(
        &mut alpha_owner,
        "/admin/settings/shipping/new",
        SHIPPING,
        &[("name", "Alpha rate"), ("kind", "flat"), ("price", "5")],
    )
    .await;
    assert_redirect(&made, SHIPPING);
    let made = submit(
        &mut alpha_owner,
        TAXES,
        TAXES,
        &[("country", "DE"), ("name", "VAT"), ("rate", "19")],
    )
    .await;
    assert_redirect(&made, TAXES);
    let made = submit(
        &mut alpha_owner,
        "/admin/discounts/new",
        DISCOUNTS,
        &[("code", "ALPHA"), ("kind", "free_shipping")],
    )
    .await;
    assert_redirect(&made, DISCOUNTS);
    let rate = rates(&app, &alpha).await[0].id;
    let mut tx = tenant_store::begin(&app.pool, &alpha.schema).await.unwrap();
    let tax = taxes::list_rates(&mut tx).await.unwrap()[0].id;
    drop(tx);
    let code = codes(&app, &alpha).await[0].id;

    let csrf = beta_owner.get(SHIPPING).await.csrf();
    for (path, fields) in [
        (format!("{SHIPPING}/{rate}"), vec![]),
        (
            format!("{SHIPPING}/{rate}"),
            vec![("name", "Stolen"), ("kind", "flat"), ("price", "0")],
        ),
        (format!("{SHIPPING}/{rate}/delete"), vec![]),
        (format!("{TAXES}/{tax}"), vec![]),
        (
            format!("{TAXES}/{tax}"),
            vec![("country", "DE"), ("name", "X"), ("rate", "0")],
        ),
        (format!("{TAXES}/{tax}/delete"), vec![]),
        (format!("{DISCOUNTS}/{code}"), vec![]),
        (
            format!("{DISCOUNTS}/{code}"),
            vec![("code", "STOLEN"), ("kind", "free_shipping")],
        ),
        (format!("{DISCOUNTS}/{code}/delete"), vec![]),
    ] {
        let page = if fields.is_empty() && !path.ends_with("/delete") {
            beta_owner.get(&path).await
        } else {
            let mut all = vec![("_csrf", csrf.as_str())];
            all.extend(fields);
            beta_owner.post_form(&path, &all).await
        };
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
    // Unknown ids on the store's own host are 404 too.
    let unknown = Uuid::now_v7();
    assert_eq!(
        alpha_owner
            .get(&format!("{SHIPPING}/{unknown}"))
            .await
            .status,
        404
    );
    // Alpha's records are untouched.
    assert_eq!(rates(&app, &alpha).await[0].name, "Alpha rate");
    assert_eq!(codes(&app, &alpha).await[0].code, "ALPHA");
    let page = alpha_owner.get(SHIPPING).await;
    assert!(page.body.contains("Alpha rate"));
}
