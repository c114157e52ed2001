//! Merchant signup and admin sign-in, black-box through HTTP.

use std::net::Ipv4Addr;
use std::sync::Arc;

use storefront_tests::{Browser, Page, TestApp};

const PASSWORD: &str = "correct horse battery";

/// Signs up on the platform site; returns the redirect to the new store's admin.
async fn sign_up(app: &TestApp, store: &str, sub: &str, email: &str, password: &str) -> Page {
    let mut platform = app.browser("storefront.test:8080");
    let form = platform.get("/signup").await;
    assert_eq!(form.status, 200);
    let csrf = form.csrf();
    platform
        .post_form(
            "/signup",
            &[
                ("_csrf", &csrf),
                ("store_name", store),
                ("subdomain", sub),
                ("email", email),
                ("password", password),
            ],
        )
        .await
}

/// Signs in to a store's admin with email and password.
async fn sign_in(browser: &mut Browser<'_>, email: &str, password: &str) -> Page {
    let form = browser.get("/admin/login").await;
    let csrf = form.csrf();
    browser
        .post_form(
            "/admin/login",
            &[("_csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn signup_lands_the_owner_signed_in_in_the_new_stores_admin() {
    let app = TestApp::spawn().await;
    let done = sign_up(
        &app,
        "Nimbus Tea",
        "Nimbus",
        "Owner@Nimbus.example",
        PASSWORD,
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let link = done.location.expect("a redirect");
    let path = link
        .strip_prefix("http://nimbus.storefront.test:8080")
        .unwrap_or_else(|| panic!("redirects to the store's host: {link}"));
    assert!(path.starts_with("/admin/session/"));

    // The shopper side is live at once.
    let (status, body) = app.get_text("nimbus.storefront.test", "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Nimbus Tea"));

    // The one-time link signs the owner in on the store's host.
    let mut admin = app.browser("nimbus.storefront.test:8080");
    let landed = admin.get(path).await;
    assert_eq!(
        (landed.status, landed.location.as_deref()),
        (303, Some("/admin"))
    );
    let dashboard = admin.get("/admin").await;
    assert_eq!(dashboard.status, 200);
    assert!(
        dashboard
            .body
            .contains("Signed in as owner@nimbus.example (owner)")
    );
    assert!(dashboard.body.contains("Welcome to Nimbus Tea"));

    // The link works once only.
    let mut other = app.browser("nimbus.storefront.test:8080");
    let again = other.get(path).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("expired or was already used"));
    assert_eq!(other.get("/admin").await.status, 303);

    // And the password chosen at signup works for a normal sign-in.
    let mut fresh = app.browser("nimbus.storefront.test");
    let signed = sign_in(&mut fresh, "owner@nimbus.example", PASSWORD).await;
    assert_eq!(
        (signed.status, signed.location.as_deref()),
        (303, Some("/admin"))
    );
}

#[tokio::test]
async fn bad_signups_come_back_with_the_error_by_the_field_and_the_input_kept() {
    let app = TestApp::spawn().await;
    app.create_tenant("taken", "Taken Shop").await;
    let existing = sign_up(&app, "First", "first", "merchant@shop.example", PASSWORD).await;
    assert_eq!(existing.status, 303);

    let cases = [
        (
            "Mine",
            "www",
            "a@shop.example",
            PASSWORD,
            "subdomain",
            "is reserved",
        ),
        (
            "Mine",
            "taken",
            "a@shop.example",
            PASSWORD,
            "subdomain",
            "is already taken",
        ),
        (
            "Mine",
            "my-shop",
            "a@shop.example",
            "short",
            "password",
            "at least 10 characters",
        ),
        (
            "Mine",
            "my-shop",
            "not-an-email",
            PASSWORD,
            "email",
            "not a valid email address",
        ),
        (
            "Mine",
            "my-shop",
            "MERCHANT@shop.example",
            PASSWORD,
            "email",
            "already exists",
        ),
        (
            "",
            "my-shop",
            "a@shop.example",
            PASSWORD,
            "store_name",
            "Enter the store",
        ),
    ];
    for (store, sub, email, password, field, message) in cases {
        let page = sign_up(&app, store, sub, email, password).await;
        assert_eq!(page.status, 422, "{sub} {email}");
        let error = format!("data-field=\"{field}\">");
        let at = page
            .body
            .find(&error)
            .unwrap_or_else(|| panic!("{field} error shown: {}", page.body));
        assert!(page.body[at..].contains(message), "{field}: {message}");
        if !sub.is_empty() {
            assert!(
                page.body.contains(&format!("value=\"{sub}\"")),
                "the subdomain is kept"
            );
        }
        assert!(
            !page.body.contains(PASSWORD),
            "the password is never echoed"
        );
    }
    assert_eq!(
        count(&app, "SELECT count(*) FROM platform.tenants").await,
        2
    );
    assert_eq!(count(&app, "SELECT count(*) FROM platform.users").await, 2);
}

#[tokio::test]
async fn subdomain_availability_is_answered_as_json() {
    let app = TestApp::spawn().await;
    app.create_tenant("taken", "Taken Shop").await;
    let check = |sub: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .get_text("storefront.test", &format!("/signup/check?subdomain={sub}"))
                .await;
            assert_eq!(status, 200);
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let free = check("Fresh-Shop").await;
    assert_eq!(free["available"], true);
    assert_eq!(free["subdomain"], "fresh-shop");
    assert_eq!(free["message"], "fresh-shop.storefront.test is available.");
    assert_eq!(check("taken").await["available"], false);
    let reserved = check("admin").await;
    assert_eq!(reserved["available"], false);
    assert!(reserved["message"].as_str().unwrap().contains("reserved"));
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let mut platform = app.browser("storefront.test");
    let form = platform.get("/signup").await;
    let good = form.csrf();
    let fields = |csrf: &'static str| {
        vec![
            ("_csrf", csrf),
            ("store_name", "Sneaky"),
            ("subdomain", "sneaky"),
            ("email", "x@sneaky.example"),
            ("password", PASSWORD),
        ]
    };
    // No token, a wrong token.
    for csrf in ["", "not-the-token"] {
        let page = platform.post_form("/signup", &fields(csrf)).await;
        assert_eq!(page.status, 403, "{csrf:?}");
        assert!(page.body.contains("This form has expired"));
    }
    // The right token, but posted from another site.
    let mut f = fields("");
    f[0].1 = Box::leak(good.clone().into_boxed_str());
    let req = reqwest::Client::new()
        .post(format!("http://{}/signup", app.addr))
        .header("origin", "https://evil.example")
        .form(&f);
    assert_eq!(platform.send(req).await.status, 403);
    // Another browser's token.
    let mut other = app.browser("storefront.test");
    assert_eq!(other.post_form("/signup", &f).await.status, 403);
    assert_eq!(
        count(&app, "SELECT count(*) FROM platform.tenants").await,
        0
    );

    // The admin login form is protected the same way.
    app.create_tenant("alpha", "Alpha Goods").await;
    let mut admin = app.browser("alpha.storefront.test");
    let page = admin
        .post_form(
            "/admin/login",
            &[("email", "owner@alpha.example.com"), ("password", "x")],
        )
        .await;
    assert_eq!(page.status, 403);

    // With everything right, it goes through.
    assert_eq!(platform.post_form("/signup", &f).await.status, 303);
}

#[tokio::test]
async fn an_opaque_origin_needs_the_sessions_token_and_another_stores_page_never_passes() {
    // Chromium posts a form from a `Referrer-Policy: no-referrer` page (the order and
    // payment pages) with `Origin: null` and, over plain HTTP, no `Sec-Fetch-Site`.
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let hat = crate::fixtures::product(&app, &alpha, "Wool hat", 2500, 5).await;
    let mut shopper = app.browser("alpha.storefront.test");
    let token = shopper.get("/admin/login").await.csrf();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, fields: Vec<(&'static str, String)>, headers: &[(&str, &str)]| {
        let mut req = client
            .post(format!("http://{}{path}", app.addr))
            .form(&fields);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req
    };
    let sign_in = |csrf: &str| {
        vec![
            ("_csrf", csrf.to_owned()),
            ("email", "owner@alpha.example.com".to_owned()),
            ("password", "not the password".to_owned()),
        ]
    };
    let null = [("origin", "null")];

    // With the session's token it is judged on its merits (a wrong password), without it
    // refused.
    let page = shopper
        .send(post("/admin/login", sign_in(&token), &null))
        .await;
    assert_ne!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("Email or password is incorrect."));
    let page = shopper.send(post("/admin/login", sign_in(""), &null)).await;
    assert_eq!(page.status, 403);

    // A form without a token can't vouch for an opaque origin.
    let add = || {
        vec![
            ("product", hat.handle.clone()),
            ("id", hat.variant.to_string()),
            ("quantity", "1".to_owned()),
        ]
    };
    assert_eq!(
        shopper.send(post("/cart/add", add(), &null)).await.status,
        403
    );

    // Another store's page: over HTTPS the browser says "same-site", over HTTP its origin.
    for headers in [
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://evil.storefront.test"),
        ][..],
        &[("origin", "http://evil.storefront.test")][..],
    ] {
        let page = shopper
            .send(post("/admin/login", sign_in(&token), headers))
            .await;
        assert_eq!(page.status, 403, "{headers:?}");
        assert_eq!(
            shopper.send(post("/cart/add", add(), headers)).await.status,
            403,
            "{headers:?}"
        );
    }
    let mut tx = tenant_store::begin(&app.pool, &alpha.schema).await.unwrap();
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_lines")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(lines, 0);
    drop(tx);

    // This store's own pages pass, with Fetch Metadata or without.
    for headers in [
        &[("sec-fetch-site", "same-origin"), ("origin", "null")][..],
        &[("origin", "http://alpha.storefront.test")][..],
    ] {
        let page = shopper.send(post("/cart/add", add(), headers)).await;
        assert_eq!(page.status, 303, "{headers:?}: {}", page.body);
    }
}

#[tokio::test]
async fn sign_in_rotates_the_session_and_sign_out_ends_it() {
    let app = TestApp::spawn().await;
    sign_up(
        &app,
        "Alpha Goods",
        "alpha",
        "owner@alpha.example",
        PASSWORD,
    )
    .await;
    let mut admin = app.browser("alpha.storefront.test");
    assert_eq!(
        admin.get("/admin").await.location.as_deref(),
        Some("/admin/login?next=%2Fadmin")
    );

    let wrong = sign_in(&mut admin, "owner@alpha.example", "wrong password!").await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("Email or password is incorrect."));
    assert!(wrong.body.contains("value=\"owner@alpha.example\""));
    let before = admin.cookie.clone().expect("a session before sign-in");

    let ok = sign_in(&mut admin, "owner@alpha.example", PASSWORD).await;
    assert_eq!(ok.status, 303);
    let after = admin.cookie.clone().expect("a session after sign-in");
    assert_ne!(before, after, "the session id changes at sign-in");

    // The pre-login session id grants nothing.
    let mut planted = app.browser("alpha.storefront.test");
    planted.cookie = Some(before);
    assert_eq!(planted.get("/admin").await.status, 303);

    let dashboard = admin.get("/admin").await;
    assert_eq!(dashboard.status, 200);
    let out = admin
        .post_form("/admin/logout", &[("_csrf", &dashboard.csrf())])
        .await;
    assert_eq!(
        (out.status, out.location.as_deref()),
        (303, Some("/admin/login"))
    );
    let mut replay = app.browser("alpha.storefront.test");
    replay.cookie = Some(after);
    assert_eq!(
        replay.get("/admin").await.status,
        303,
        "the old cookie is dead"
    );
}

#[tokio::test]
async fn the_owner_of_store_a_cannot_sign_in_to_store_b_nor_carry_a_session_over() {
    let app = TestApp::spawn().await;
    sign_up(
        &app,
        "Alpha Goods",
        "alpha",
        "owner@alpha.example",
        PASSWORD,
    )
    .await;
    sign_up(
        &app,
        "Bravo Supplies",
        "bravo",
        "owner@bravo.example",
        PASSWORD,
    )
    .await;

    let mut at_b = app.browser("bravo.storefront.test");
    let refused = sign_in(&mut at_b, "owner@alpha.example", PASSWORD).await;
    assert_eq!(refused.status, 422);
    assert_eq!(at_b.get("/admin").await.status, 303);

    // A session cookie from A's host presented on B's host gets nowhere.
    let mut at_a = app.browser("alpha.storefront.test");
    assert_eq!(
        sign_in(&mut at_a, "owner@alpha.example", PASSWORD)
            .await
            .status,
        303
    );
    let mut stolen = app.browser("bravo.storefront.test");
    stolen.cookie = at_a.cookie.clone();
    let page = stolen.get("/admin").await;
    assert_eq!(page.status, 303);
    assert!(!page.body.contains("Alpha Goods"));
}

/// Another person's address: the app sees connections from `127.0.0.<n>`.
fn address(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

async fn retry_after(page: &Page) -> u64 {
    page.retry_after
        .as_deref()
        .unwrap_or_else(|| panic!("Retry-After on a {}", page.status))
        .parse()
        .unwrap()
}

/// Moves this store's sign-in failures an hour into the past: every wait is over.
async fn let_the_waits_pass(app: &TestApp) {
    sqlx::query(
        "UPDATE platform.sign_in_throttle SET last_failed_at = last_failed_at - interval '1 hour'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_stop_the_owner_signing_in_from_another() {
    let app = TestApp::spawn().await;
    sign_up(
        &app,
        "Alpha Goods",
        "alpha",
        "owner@alpha.example",
        PASSWORD,
    )
    .await;
    let mut attacker = app.browser_from("alpha.storefront.test", address(2));
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let page = sign_in(&mut attacker, "owner@alpha.example", "guess guess guess").await;
        statuses.push(page.status);
    }
    assert!(
        statuses.iter().all(|s| [422, 429].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&429),
        "the guessing address is slowed"
    );
    // Even the right password waits, from the guessing address.
    let slowed = sign_in(&mut attacker, "owner@alpha.example", PASSWORD).await;
    assert_eq!(slowed.status, 429);
    assert_eq!(attacker.get("/admin").await.status, 303);

    // The owner, at another address, signs in at once.
    let mut owner = app.browser_from("alpha.storefront.test", address(3));
    let page = sign_in(&mut owner, "Owner@Alpha.example", PASSWORD).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/admin")),
        "{}",
        page.body
    );
    assert_eq!(owner.get("/admin").await.status, 200);
}

#[tokio::test]
async fn after_a_few_failures_each_one_doubles_the_wait_answered_with_429_and_retry_after() {
    let app = TestApp::spawn().await;
    sign_up(
        &app,
        "Alpha Goods",
        "alpha",
        "owner@alpha.example",
        PASSWORD,
    )
    .await;
    let mut admin = app.browser("alpha.storefront.test");
    let free = platform::sign_in_throttle::FREE_FAILURES;
    for _ in 0..free {
        let page = sign_in(&mut admin, "owner@alpha.example", "guess guess guess").await;
        assert_eq!(page.status, 422);
        assert!(!page.body.contains("id=\"login-slowed\""), "{}", page.body);
    }
    // The next failure starts a wait, and the page offers a sign-in link by mail.
    let page = sign_in(&mut admin, "owner@alpha.example", "guess guess guess").await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("Email or password is incorrect."));
    assert!(page.body.contains("id=\"login-slowed\""), "{}", page.body);
    assert!(
        page.body.contains("the next one in 5 seconds"),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-form=\"admin-login-link\""));

    // While it lasts, no password is checked, not even the right one.
    let mut waits = Vec::new();
    for round in 0..3 {
        let refused = sign_in(&mut admin, "owner@alpha.example", PASSWORD).await;
        assert_eq!(refused.status, 429, "round {round}: {}", refused.body);
        assert!(refused.body.contains("this try was not checked"));
        assert!(refused.body.contains("data-form=\"admin-login-link\""));
        waits.push(retry_after(&refused).await);
        // Time passes; the next failure waits twice as long.
        let_the_waits_pass(&app).await;
        let failed = sign_in(&mut admin, "owner@alpha.example", "guess guess guess").await;
        assert_eq!(failed.status, 422);
    }
    assert!(
        (1..=5).contains(&waits[0])
            && (6..=10).contains(&waits[1])
            && (11..=20).contains(&waits[2]),
        "{waits:?}"
    );

    // Once the wait is over, the right password signs in and the count starts again.
    let_the_waits_pass(&app).await;
    let page = sign_in(&mut admin, "owner@alpha.example", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let mut again = app.browser("alpha.storefront.test");
    let page = sign_in(&mut again, "owner@alpha.example", "guess guess guess").await;
    assert_eq!(page.status, 422);
    assert!(!page.body.contains("id=\"login-slowed\""));
}

#[tokio::test]
async fn a_flood_past_the_limit_is_refused_from_memory_without_a_database_write_each() {
    let app = TestApp::spawn().await;
    let mut platform = app.browser("storefront.test");
    let csrf = platform.get("/login").await.csrf();
    let limit = platform::rate_limit::LOGIN_PER_IP.max;
    for i in 0..limit + 3 {
        let page = platform
            .post_form(
                "/login",
                &[("_csrf", &csrf), ("email", "nobody@else.example")],
            )
            .await;
        let expected = if i < limit { 422 } else { 429 };
        assert_eq!(page.status, expected, "request {i}");
    }
    // PostgreSQL counted the allowance, and nothing past it.
    let hits: i32 = sqlx::query_scalar(
        "SELECT hits FROM platform.rate_limits WHERE key = 'login:ip:127.0.0.1'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(hits, limit);
}

#[tokio::test]
async fn an_address_past_its_allowance_is_answered_before_any_session_or_token_work() {
    let app = TestApp::spawn().await;
    let mut platform = app.browser("storefront.test");
    let csrf = platform.get("/login").await.csrf();
    for _ in 0..platform::rate_limit::LOGIN_PER_IP.max {
        let page = platform
            .post_form(
                "/login",
                &[("_csrf", &csrf), ("email", "nobody@else.example")],
            )
            .await;
        assert_eq!(page.status, 422);
    }
    // A post from the spent address with no session and no token: refused for the limit,
    // not for the token (which would take reading a session first), and held a moment.
    let mut flood = app.browser("storefront.test");
    let started = std::time::Instant::now();
    let page = flood
        .post_form("/login", &[("email", "nobody@else.example")])
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.retry_after.is_some());
    assert!(started.elapsed() >= platform::rate_limit::SHIELD_HOLD);
    // Other forms of the same limit are refused the same way, on a store's host too.
    app.create_tenant("alpha", "Alpha Goods").await;
    let mut store = app.browser("alpha.storefront.test");
    let page = store
        .post_form("/admin/login", &[("email", "owner@alpha.example")])
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
    // Another address without a token meets the token check, and a form under no limit
    // of addresses is not held at all.
    let mut other = app.browser_from("storefront.test", address(2));
    let page = other
        .post_form("/login", &[("email", "nobody@else.example")])
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    let page = store.post_form("/admin/logout", &[]).await;
    assert_eq!(page.status, 403, "{}", page.body);
}

#[tokio::test]
async fn cheap_refusals_cost_no_password_hashing() {
    let app = TestApp::spawn().await;
    let runs = || app.state.passwords.runs();
    let (_, _owner) = app.store_with_owner("alpha", "Alpha Goods").await;
    let before = runs();

    // A reset link that does not exist.
    let mut browser = app.browser("alpha.storefront.test");
    let csrf = browser.get("/admin/password/forgot").await.csrf();
    let bogus = browser
        .post_form(
            "/admin/password/reset/not-a-real-token",
            &[("_csrf", &csrf), ("password", "a brand new password")],
        )
        .await;
    assert_eq!(bogus.status, 400);
    assert!(bogus.body.contains("expired or was already used"));

    // A signup whose subdomain or address is taken.
    let taken = sign_up(&app, "Mine", "alpha", "new@shop.example", PASSWORD).await;
    assert_eq!(taken.status, 422);
    assert!(taken.body.contains("is already taken"));
    let taken = sign_up(&app, "Mine", "mine", "owner@alpha.example.com", PASSWORD).await;
    assert_eq!(taken.status, 422);
    assert!(taken.body.contains("already exists"));

    // A sign-in with something that is no email address, or while the address waits.
    let page = sign_in(&mut browser, "not an address", "whatever it is").await;
    assert_eq!(page.status, 422);
    assert_eq!(runs(), before, "no hashing so far");
    for _ in 0..=platform::sign_in_throttle::FREE_FAILURES {
        sign_in(&mut browser, "owner@alpha.example.com", "guess guess guess").await;
    }
    let spent = runs();
    let page = sign_in(&mut browser, "owner@alpha.example.com", "guess guess guess").await;
    assert_eq!(page.status, 429);
    assert_eq!(runs(), spent, "a waiting address costs no hashing");
}

#[tokio::test]
async fn posting_to_reset_links_is_limited_per_address() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    let mut browser = app.browser("alpha.storefront.test");
    let csrf = browser.get("/admin/password/forgot").await.csrf();
    let mut statuses = Vec::new();
    for i in 0..30 {
        let page = browser
            .post_form(
                &format!("/admin/password/reset/guess-{i}"),
                &[("_csrf", &csrf), ("password", "a brand new password")],
            )
            .await;
        statuses.push(page.status);
        if page.status == 429 {
            let retry: u64 = page.retry_after.expect("Retry-After").parse().unwrap();
            assert!(retry > 0 && retry <= 15 * 60);
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 400));
}

#[tokio::test]
async fn a_session_survives_on_another_app_node() {
    let node1 = TestApp::spawn().await;
    let node2 = TestApp::spawn_node(Arc::clone(&node1.db)).await;
    sign_up(
        &node1,
        "Alpha Goods",
        "alpha",
        "owner@alpha.example",
        PASSWORD,
    )
    .await;
    let mut on1 = node1.browser("alpha.storefront.test");
    assert_eq!(
        sign_in(&mut on1, "owner@alpha.example", PASSWORD)
            .await
            .status,
        303
    );
    let mut on2 = node2.browser("alpha.storefront.test");
    on2.cookie = on1.cookie.clone();
    let page = on2.get("/admin").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Signed in as owner@alpha.example"));
}

#[tokio::test]
async fn platform_login_finds_the_merchants_store_by_email() {
    let app = TestApp::spawn().await;
    sign_up(
        &app,
        "Alpha Goods",
        "alpha",
        "owner@alpha.example",
        PASSWORD,
    )
    .await;
    let mut platform = app.browser("storefront.test:8080");
    let form = platform.get("/login").await;
    let csrf = form.csrf();

    let one = platform
        .post_form(
            "/login",
            &[("_csrf", &csrf), ("email", "Owner@Alpha.example")],
        )
        .await;
    assert_eq!(one.status, 303);
    let to = one.location.unwrap();
    assert_eq!(
        to,
        "http://alpha.storefront.test:8080/admin/login?email=owner%40alpha.example"
    );
    let mut admin = app.browser("alpha.storefront.test:8080");
    let page = admin
        .get(to.trim_start_matches("http://alpha.storefront.test:8080"))
        .await;
    assert!(
        page.body.contains("value=\"owner@alpha.example\""),
        "the address is filled in"
    );

    let none = platform
        .post_form(
            "/login",
            &[("_csrf", &csrf), ("email", "nobody@nowhere.example")],
        )
        .await;
    assert_eq!(none.status, 422);
    assert!(none.body.contains("No store uses this email address."));
    let bad = platform
        .post_form("/login", &[("_csrf", &csrf), ("email", "nope")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("not a valid email address"));
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_of_the_user() {
    let app = TestApp::spawn().await;
    sign_up(
        &app,
        "Alpha Goods",
        "alpha",
        "owner@alpha.example",
        PASSWORD,
    )
    .await;
    let mut laptop = app.browser("alpha.storefront.test");
    let mut phone = app.browser("alpha.storefront.test");
    sign_in(&mut laptop, "owner@alpha.example", PASSWORD).await;
    sign_in(&mut phone, "owner@alpha.example", PASSWORD).await;
    assert_eq!(phone.get("/admin").await.status, 200);

    let dashboard = laptop.get("/admin").await;
    let out = laptop
        .post_form("/admin/logout/everywhere", &[("_csrf", &dashboard.csrf())])
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(
        phone.get("/admin").await.status,
        303,
        "the other device is signed out"
    );
    assert_eq!(laptop.get("/admin").await.status, 303);
}

#[tokio::test]
async fn pricing_shows_the_plans_from_the_database() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "UPDATE platform.plans SET price_minor = 4950, staff_limit = 12 WHERE code = 'growth'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let (status, body) = app.get_text("storefront.test", "/pricing").await;
    assert_eq!(status, 200);
    let starter = body.find("data-plan=\"starter\"").unwrap();
    let growth = body.find("data-plan=\"growth\"").unwrap();
    let scale = body.find("data-plan=\"scale\"").unwrap();
    assert!(starter < growth && growth < scale, "in the plans' order");
    assert!(body[starter..growth].contains("Free"));
    assert!(body[starter..growth].contains("Up to 100 products"));
    assert!(body[growth..scale].contains("49.50 USD per month"));
    assert!(body[growth..scale].contains("Up to 12 staff accounts"));
    assert!(body[scale..].contains("Unlimited products"));
    assert!(body[scale..].contains("API access"));
}
