//! Optional customer accounts on the storefront, through HTTP: off by default (404),
//! register, sign in and out, profile, password, addresses, isolation between customers
//! and between stores.

use storefront_tests::{Browser, Page, TestApp};

fn host(sub: &str) -> String {
    TestApp::store_host(sub)
}

async fn accounts_on(app: &TestApp, sub: &str) {
    let tenant = platform::tenancy::find_by_subdomain(&app.pool, sub)
        .await
        .unwrap()
        .unwrap();
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    sqlx::query("UPDATE settings SET customer_accounts = 'optional'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn post(b: &mut Browser<'_>, form_path: &str, path: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = b.get(form_path).await.csrf();
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post_form(path, &all).await
}

async fn register<'a>(app: &'a TestApp, sub: &str, email: &str) -> Browser<'a> {
    let mut b = app.browser(&host(sub));
    let done = post(
        &mut b,
        "/account/register",
        "/account/register",
        &[
            ("first_name", "Ann"),
            ("last_name", "Buyer"),
            ("email", email),
            ("password", "a long password 1"),
        ],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/account"));
    b
}

#[tokio::test]
async fn accounts_are_off_until_the_merchant_switches_them_on() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    let (status, _) = app.get_text(&host("alpha"), "/account/register").await;
    assert_eq!(status, 404);
    let (_, home) = app.get_text(&host("alpha"), "/").await;
    assert!(!home.contains(r#"href="/account""#));
    accounts_on(&app, "alpha").await;
    let (status, _) = app.get_text(&host("alpha"), "/account/register").await;
    assert_eq!(status, 200);
    let (_, home) = app.get_text(&host("alpha"), "/").await;
    assert!(home.contains(r#"href="/account""#));
}

#[tokio::test]
async fn a_shopper_registers_signs_in_and_out_and_keeps_their_details() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    accounts_on(&app, "alpha").await;

    // Registration errors are shown by their fields, with the input kept.
    let mut b = app.browser(&host("alpha"));
    let bad = post(
        &mut b,
        "/account/register",
        "/account/register",
        &[
            ("first_name", "Ann"),
            ("last_name", "Buyer"),
            ("email", "nope"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains(r#"data-field="email""#));
    assert!(bad.body.contains(r#"data-field="password""#));
    assert!(bad.body.contains(r#"value="Ann""#));

    let mut ann = register(&app, "alpha", "Ann@Buyer.example").await;
    let account = ann.get("/account").await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("Hello, Ann"));
    assert!(
        account.body.contains("ann@buyer.example"),
        "addresses are kept lowercase"
    );

    // The same address can't register twice.
    let mut again = app.browser(&host("alpha"));
    let twice = post(
        &mut again,
        "/account/register",
        "/account/register",
        &[
            ("last_name", "X"),
            ("email", "ann@buyer.example"),
            ("password", "another password 2"),
        ],
    )
    .await;
    assert_eq!(twice.status, 422);
    assert!(twice.body.contains("already has an account"));

    let saved = post(
        &mut ann,
        "/account",
        "/account",
        &[
            ("first_name", "Anna"),
            ("last_name", "Buyer"),
            ("phone", "+1 555 0100"),
        ],
    )
    .await;
    assert_eq!(saved.status, 200);
    assert!(saved.body.contains("Your details were saved."));
    assert!(saved.body.contains(r#"value="+1 555 0100""#));

    let out = post(&mut ann, "/account", "/account/logout", &[]).await;
    assert_eq!(out.status, 303);
    let page = ann.get("/account").await;
    assert_eq!(page.status, 303, "signed out: sent to sign in");

    let wrong = post(
        &mut ann,
        "/account/login",
        "/account/login",
        &[
            ("email", "ann@buyer.example"),
            ("password", "wrong password"),
        ],
    )
    .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains("The email address or password is not right.")
    );
    let unknown = post(
        &mut ann,
        "/account/login",
        "/account/login",
        &[
            ("email", "who@buyer.example"),
            ("password", "wrong password"),
        ],
    )
    .await;
    assert!(
        unknown
            .body
            .contains("The email address or password is not right."),
        "the same message: accounts are not revealed"
    );

    let right = post(
        &mut ann,
        "/account/login",
        "/account/login",
        &[
            ("email", "ann@buyer.example"),
            ("password", "a long password 1"),
        ],
    )
    .await;
    assert_eq!(right.status, 303);
    assert!(ann.get("/account").await.body.contains("Hello, Anna"));

    // Changing the password needs the current one.
    let refused = post(
        &mut ann,
        "/account",
        "/account/password",
        &[
            ("current_password", "nope"),
            ("new_password", "a new password 3"),
        ],
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"data-field="current_password""#));
    let changed = post(
        &mut ann,
        "/account",
        "/account/password",
        &[
            ("current_password", "a long password 1"),
            ("new_password", "a new password 3"),
        ],
    )
    .await;
    assert!(changed.body.contains("Your password was changed."));
}

#[tokio::test]
async fn addresses_belong_to_their_customer_and_store() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    app.create_tenant("bravo", "Bravo").await;
    accounts_on(&app, "alpha").await;
    accounts_on(&app, "bravo").await;
    let mut ann = register(&app, "alpha", "ann@buyer.example").await;

    let bad = post(
        &mut ann,
        "/account/addresses",
        "/account/addresses",
        &[
            ("last_name", "Buyer"),
            ("address1", ""),
            ("city", "Berlin"),
            ("country", "Germany"),
        ],
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains(r#"data-field="address1""#));
    assert!(bad.body.contains(r#"data-field="country""#));
    assert!(bad.body.contains(r#"value="Berlin""#));

    let ok = post(
        &mut ann,
        "/account/addresses",
        "/account/addresses",
        &[
            ("last_name", "Buyer"),
            ("address1", "Torstraße 1"),
            ("city", "Berlin"),
            ("zip", "10119"),
            ("country", "de"),
        ],
    )
    .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let page = ann.get("/account/addresses").await;
    assert!(page.body.contains("Torstraße 1"));
    assert!(
        page.body.contains("(default)"),
        "the first address is the default"
    );
    let id = page
        .body
        .split("data-address=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Another customer of the same store can't delete it.
    let mut bob = register(&app, "alpha", "bob@buyer.example").await;
    let csrf = bob.get("/account/addresses").await.csrf();
    let theirs = bob
        .post_form(
            &format!("/account/addresses/{id}/delete"),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(theirs.status, 404);
    assert!(
        !bob.get("/account/addresses")
            .await
            .body
            .contains("Torstraße")
    );
    assert!(
        ann.get("/account/addresses")
            .await
            .body
            .contains("Torstraße 1")
    );

    // Ann's session means nothing on Bravo's host.
    let mut elsewhere = app.browser(&host("bravo"));
    elsewhere.cookie = ann.cookie.clone();
    let page = elsewhere.get("/account").await;
    assert_eq!(page.status, 303);

    let csrf = ann.get("/account/addresses").await.csrf();
    let gone = ann
        .post_form(
            &format!("/account/addresses/{id}/delete"),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(gone.status, 303);
    assert!(
        ann.get("/account/addresses")
            .await
            .body
            .contains("No addresses saved yet.")
    );
}

#[tokio::test]
async fn wrong_passwords_slow_the_guessing_address_and_not_the_customer_elsewhere() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    accounts_on(&app, "alpha").await;
    register(&app, "alpha", "ann@buyer.example").await;
    let sign_in = |ip: u8, password: &'static str| {
        let app = &app;
        async move {
            let mut b = app.browser_from(&host("alpha"), std::net::Ipv4Addr::new(127, 0, 0, ip));
            post(
                &mut b,
                "/account/login",
                "/account/login",
                &[("email", "ann@buyer.example"), ("password", password)],
            )
            .await
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(sign_in(2, "guess guess guess").await.status);
    }
    assert!(
        statuses.iter().all(|s| [422, 429].contains(s)),
        "{statuses:?}"
    );
    let slowed = sign_in(2, "a long password 1").await;
    assert_eq!(slowed.status, 429, "even the right password waits there");
    assert!(slowed.retry_after.is_some());

    let page = sign_in(3, "a long password 1").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/account")),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn checking_the_current_password_to_change_it_is_limited_per_customer() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    accounts_on(&app, "alpha").await;
    let mut ann = register(&app, "alpha", "ann@buyer.example").await;
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let page = post(
            &mut ann,
            "/account",
            "/account/password",
            &[
                ("current_password", "a guessed password"),
                ("new_password", "a new password 3"),
            ],
        )
        .await;
        statuses.push(page.status);
        if page.status == 429 {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 422));
}
