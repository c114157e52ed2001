//! The operator console: sign-in, tenant list, suspension, plans, audit log.

use std::net::Ipv4Addr;
use std::time::Duration;

use storefront_tests::{Browser, Page, TestApp};

const PASSWORD: &str = "operator password 1";

async fn operator_browser(app: &TestApp) -> Browser<'_> {
    let (result, out) = app
        .cli(
            &[
                "operator",
                "create",
                "--email",
                "Ops@Platform.example",
                "--owner-password",
                "x",
            ],
            "",
        )
        .await;
    assert!(result.is_err(), "unknown flags are refused: {out}");
    let (result, out) = app
        .cli(
            &[
                "operator",
                "create",
                "--email",
                "Ops@Platform.example",
                "--password",
                PASSWORD,
            ],
            "",
        )
        .await;
    result.unwrap();
    assert!(
        out.contains("created operator ops@platform.example"),
        "{out}"
    );
    let mut ops = app.browser("storefront.test");
    let page = sign_in(&mut ops, "ops@platform.example", PASSWORD).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/operator"))
    );
    ops
}

async fn sign_in(browser: &mut Browser<'_>, email: &str, password: &str) -> Page {
    let form = browser.get("/operator/login").await;
    let csrf = form.csrf();
    browser
        .post_form(
            "/operator/login",
            &[("_csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
}

#[tokio::test]
async fn wrong_passwords_slow_the_guessing_address_and_not_the_operator_elsewhere() {
    let app = TestApp::spawn().await;
    operator_browser(&app).await;
    let mut guesser = app.browser_from("storefront.test", Ipv4Addr::new(127, 0, 0, 2));
    let mut last = None;
    for _ in 0..10 {
        last = Some(sign_in(&mut guesser, "ops@platform.example", "guess guess guess").await);
    }
    let last = last.unwrap();
    assert_eq!(last.status, 429, "{}", last.body);
    let retry: u64 = last.retry_after.expect("Retry-After").parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60);

    let mut ops = app.browser_from("storefront.test", Ipv4Addr::new(127, 0, 0, 3));
    let page = sign_in(&mut ops, "ops@platform.example", PASSWORD).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/operator")),
        "{}",
        page.body
    );
}

/// Polls the store home until it answers `status` (status changes reach the host cache by
/// NOTIFY, asynchronously).
async fn wait_for_store_status(app: &TestApp, host: &str, status: u16) -> String {
    for _ in 0..200 {
        let (s, body) = app.get_text(host, "/").await;
        if s == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{host} never answered {status}");
}

#[tokio::test]
async fn the_console_needs_an_operator_and_refuses_store_owners() {
    let app = TestApp::spawn().await;
    let mut anon = app.browser("storefront.test");
    let page = anon.get("/operator").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/operator/login"))
    );

    // A store owner's account is not an operator's.
    let (result, out) = app
        .cli(
            &[
                "tenant",
                "create",
                "--subdomain",
                "alpha",
                "--name",
                "Alpha",
                "--owner-email",
                "owner@alpha.example",
                "--owner-password",
                PASSWORD,
            ],
            "",
        )
        .await;
    result.unwrap();
    assert!(out.contains("created store"));
    let refused = sign_in(&mut anon, "owner@alpha.example", PASSWORD).await;
    assert_eq!(refused.status, 422);
    assert_eq!(anon.get("/operator").await.status, 303);

    // Operators sign in on the platform host only: a store's host has no console.
    let mut ops = operator_browser(&app).await;
    assert_eq!(ops.get("/operator").await.status, 200);
    assert_eq!(
        app.get_text("alpha.storefront.test", "/operator").await.0,
        404
    );
}

#[tokio::test]
async fn tenants_are_listed_and_searchable() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    app.create_tenant("bravo", "Bravo Supplies").await;
    let mut ops = operator_browser(&app).await;
    let all = ops.get("/operator").await;
    assert!(all.body.contains("Tenants (2)"));
    assert!(
        all.body.contains("data-tenant=\"alpha\"") && all.body.contains("data-tenant=\"bravo\"")
    );
    let bravo = platform::tenancy::find_by_subdomain(&app.pool, "bravo")
        .await
        .unwrap()
        .unwrap();
    let mut tx = tenant_store::begin(&app.pool, &bravo.schema).await.unwrap();
    let input = tenant_store::catalog::ProductInput {
        title: "Tea".into(),
        status: Some(tenant_store::catalog::Status::Active),
        variants: vec![tenant_store::catalog::VariantInput::default()],
        ..Default::default()
    };
    let tea = tenant_store::catalog::create_product(&mut tx, input, "t", None)
        .await
        .unwrap();
    // Two orders of tea.
    for key in ["first", "second"] {
        let order = tenant_store::orders::PlaceOrder {
            items: tenant_store::orders::Items::Lines(vec![tenant_store::orders::LineRequest {
                variant_id: tea.variants[0].id,
                quantity: 1,
            }]),
            email: "ada@example.com".into(),
            customer_id: None,
            shipping_address: tenant_store::customers::Address {
                last_name: "Lovelace".into(),
                address1: "1 Analytical Way".into(),
                city: "London".into(),
                country: "GB".into(),
                ..Default::default()
            },
            billing_address: None,
            shipping_rate_id: None,
            discount_code: None,
            idempotency_key: key.into(),
            currency: "USD".into(),
            reservation_ttl: Duration::from_secs(900),
        };
        tenant_store::orders::place_order(&mut tx, &order)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let all = ops.get("/operator").await;
    let row = &all.body[all.body.find("data-tenant=\"bravo\"").unwrap()..];
    assert!(
        row.contains("<td class=\"products\">1</td>"),
        "bravo has one product"
    );
    assert!(
        row.contains("<td class=\"orders\">2</td>"),
        "bravo has two orders"
    );
    let row = &all.body[all.body.find("data-tenant=\"alpha\"").unwrap()..];
    assert!(row.contains("<td class=\"products\">0</td>"));
    assert!(row.contains("<td class=\"orders\">0</td>"));
    let found = ops.get("/operator?q=supp").await;
    assert!(found.body.contains("Tenants (1)"));
    assert!(found.body.contains("Bravo Supplies") && !found.body.contains("Alpha Goods"));
    let none = ops.get("/operator?q=%25").await;
    assert!(
        none.body.contains("Tenants (0)"),
        "LIKE wildcards are taken literally"
    );
}

#[tokio::test]
async fn a_suspended_store_answers_503_its_admin_stays_reachable_and_it_can_resume() {
    let app = TestApp::spawn().await;
    let (result, _) = app
        .cli(
            &[
                "tenant",
                "create",
                "--subdomain",
                "alpha",
                "--name",
                "Alpha Goods",
                "--owner-email",
                "owner@alpha.example",
                "--owner-password",
                PASSWORD,
            ],
            "",
        )
        .await;
    result.unwrap();
    let alpha = platform::tenancy::find_by_subdomain(&app.pool, "alpha")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.get_text("alpha.storefront.test", "/").await.0, 200);

    let mut ops = operator_browser(&app).await;
    let list = ops.get("/operator").await;
    let page = ops
        .post_form(
            &format!("/operator/tenants/{}/status", alpha.id),
            &[("_csrf", &list.csrf()), ("status", "suspended")],
        )
        .await;
    assert_eq!(page.status, 303);

    let body = wait_for_store_status(&app, "alpha.storefront.test", 503).await;
    assert!(body.contains("This store is unavailable at the moment."));
    assert!(!body.contains("Alpha Goods"));

    // The merchant still reaches the admin, with a banner.
    let mut owner = app.browser("alpha.storefront.test");
    let form = owner.get("/admin/login").await;
    assert_eq!(form.status, 200);
    let signed = owner
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &form.csrf()),
                ("email", "owner@alpha.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed.status, 303);
    let dashboard = owner.get("/admin").await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains("This store is suspended"));

    let list = ops.get("/operator").await;
    assert!(list.body.contains("Resume"));
    ops.post_form(
        &format!("/operator/tenants/{}/status", alpha.id),
        &[("_csrf", &list.csrf()), ("status", "active")],
    )
    .await;
    wait_for_store_status(&app, "alpha.storefront.test", 200).await;

    let audit = ops.get("/operator/audit").await;
    let suspend_at = audit
        .body
        .find("tenant.suspend")
        .expect("suspension audited");
    let resume_at = audit
        .body
        .find("tenant.resume")
        .expect("resumption audited");
    assert!(resume_at < suspend_at, "newest first");
    assert!(audit.body.contains("ops@platform.example"));
}

#[tokio::test]
async fn changing_a_plan_is_applied_and_audited_and_bad_values_change_nothing() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let mut ops = operator_browser(&app).await;
    let csrf = ops.get("/operator").await.csrf();
    let path = format!("/operator/tenants/{}/plan", alpha.id);

    let bad = ops
        .post_form(&path, &[("_csrf", &csrf), ("plan_code", "platinum")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("is not a plan"));
    let missing = ops
        .post_form(
            &format!("/operator/tenants/{}/plan", uuid::Uuid::nil()),
            &[("_csrf", &csrf), ("plan_code", "growth")],
        )
        .await;
    assert_eq!(missing.status, 404);

    let ok = ops
        .post_form(&path, &[("_csrf", &csrf), ("plan_code", "growth")])
        .await;
    assert_eq!(ok.status, 303);
    let plan: String = sqlx::query_scalar("SELECT plan_code FROM platform.tenants WHERE id = $1")
        .bind(alpha.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(plan, "growth");
    let audit = ops.get("/operator/audit").await;
    assert!(audit.body.contains("tenant.change_plan"));
    assert!(audit.body.contains("starter") && audit.body.contains("growth"));
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.operator_audit")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(entries, 1, "refused changes leave no audit entry");
}
