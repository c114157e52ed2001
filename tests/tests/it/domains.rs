//! Custom domains, black-box: the merchant adds a domain in the admin, a real DNS server on
//! loopback gets (or lacks) the records, the check verifies it, and the domain serves the
//! store, becomes primary, and is asked about by the TLS proxy.

use std::net::Ipv4Addr;

use storefront_tests::dns::DnsServer;
use storefront_tests::{Browser, Page, TestApp};

const PASSWORD: &str = "correct horse battery";
const PAGE: &str = "/admin/settings/domains";
const TARGET: &str = "stores.storefront.test";
/// How the domains page lists shop.example.com.
const LISTED: &str = "data-hostname=\"shop.example.com\"";

/// The app, asking `dns` for custom-domain checks.
async fn app_with_dns(dns: &DnsServer) -> TestApp {
    let addr = dns.addr();
    TestApp::spawn_with(|settings| settings.dns_nameserver = Some(addr)).await
}

/// Opens a store through the signup form, so its owner has a password that works.
async fn open_store(app: &TestApp, name: &str, sub: &str, email: &str) {
    let mut platform = app.browser("storefront.test");
    let form = platform.get("/signup").await;
    let done = platform
        .post_form(
            "/signup",
            &[
                ("_csrf", &form.csrf()),
                ("store_name", name),
                ("subdomain", sub),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "signup: {}", done.body);
}

/// A browser on `host` signed in to its store's admin as `email`.
async fn signed_in<'a>(app: &'a TestApp, host: &str, email: &str) -> Browser<'a> {
    let mut browser = app.browser(host);
    let form = browser.get("/admin/login").await;
    let done = browser
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &form.csrf()),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "sign-in: {}", done.body);
    browser
}

/// Posts a form of the domains page (fetched first, for its CSRF token).
async fn post(browser: &mut Browser<'_>, path: &str, field: &str, value: &str) -> Page {
    let page = browser.get(PAGE).await;
    assert_eq!(page.status, 200, "{}", page.body);
    browser
        .post_form(path, &[("_csrf", &page.csrf()), (field, value)])
        .await
}

/// Clicks a button on the domains page; it sends the merchant back to the page.
async fn click(browser: &mut Browser<'_>, action: &str, hostname: &str) -> Page {
    let done = post(browser, &format!("{PAGE}/{action}"), "hostname", hostname).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some(PAGE)),
        "{action} {hostname}: {}",
        done.body
    );
    browser.get(PAGE).await
}

/// The token of the (one) store's claim on `domain`.
async fn token_of(app: &TestApp, domain: &str) -> String {
    sqlx::query_scalar("SELECT verification_token FROM platform.domain_claims WHERE hostname = $1")
        .bind(domain)
        .fetch_one(&app.pool)
        .await
        .expect("the domain's claim")
}

/// The token of `sub`'s claim on `domain`.
async fn claim_token(app: &TestApp, sub: &str, domain: &str) -> String {
    sqlx::query_scalar(
        "SELECT c.verification_token FROM platform.domain_claims c \
         JOIN platform.tenants t ON t.id = c.tenant_id WHERE t.subdomain = $1 AND c.hostname = $2",
    )
    .bind(sub)
    .bind(domain)
    .fetch_one(&app.pool)
    .await
    .expect("the store's claim")
}

async fn ask_tls(app: &TestApp, query: &str) -> u16 {
    app.get_text("localhost:2019", &format!("/internal/tls/ask{query}"))
        .await
        .0
}

/// The text of the last-check message shown for `domain`.
fn check_message<'p>(page: &'p Page, domain: &str) -> &'p str {
    let marker = format!("data-check=\"{domain}\">");
    let start = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("a check result for {domain}: {}", page.body))
        + marker.len();
    let end = page.body[start..].find("</p>").expect("end of message") + start;
    &page.body[start..end]
}

#[tokio::test]
async fn a_custom_domain_is_verified_against_dns_and_then_serves_the_store() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    open_store(&app, "Alpha Goods", "alpha", "owner@alpha.example").await;
    let mut admin = signed_in(&app, "alpha.storefront.test:8080", "owner@alpha.example").await;

    // The page lists the store's own address; the merchant pastes a URL of their domain.
    let page = admin.get(PAGE).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("alpha.storefront.test"));
    let added = post(
        &mut admin,
        PAGE,
        "domain",
        " https://Shop.Example.com/about ",
    )
    .await;
    assert_eq!(
        (added.status, added.location.as_deref()),
        (303, Some(PAGE)),
        "{}",
        added.body
    );

    // It shows the two records to create, with this domain's token.
    let token = token_of(&app, "shop.example.com").await;
    assert!(token.len() >= 32, "a random token: {token}");
    let page = admin.get(PAGE).await;
    for text in [
        "<td>CNAME</td><td><code>shop.example.com</code></td><td><code>stores.storefront.test</code></td>",
        &format!(
            "<td>TXT</td><td><code>_storefront-verify.shop.example.com</code></td><td><code>storefront-verify={token}</code></td>"
        ),
        "Check now",
    ] {
        assert!(page.body.contains(text), "{text} in {}", page.body);
    }
    assert!(!page.body.contains("Make primary"), "nothing verified yet");

    // Checking before the records exist names both missing records; nothing is served.
    let page = click(&mut admin, "verify", "shop.example.com").await;
    let message = check_message(&page, "shop.example.com");
    assert!(
        message.contains("TXT record missing")
            && message.contains("_storefront-verify.shop.example.com"),
        "{message}"
    );
    assert!(
        message.contains("CNAME record missing") && message.contains(TARGET),
        "{message}"
    );
    assert_eq!(app.get_text("shop.example.com", "/").await.0, 404);
    assert_eq!(ask_tls(&app, "?domain=shop.example.com").await, 404);

    // Wrong records are named as wrong.
    dns.add_txt(
        "_storefront-verify.shop.example.com",
        "storefront-verify=not-the-token",
    );
    dns.add_cname("shop.example.com", "elsewhere.example.net");
    let page = click(&mut admin, "verify", "shop.example.com").await;
    let message = check_message(&page, "shop.example.com");
    assert!(
        message.contains("TXT record wrong") && message.contains("not-the-token"),
        "{message}"
    );
    assert!(
        message.contains("CNAME record wrong") && message.contains("elsewhere.example.net"),
        "{message}"
    );
    assert_eq!(app.get_text("shop.example.com", "/").await.0, 404);

    // With the right records in DNS, the check passes and the domain serves the store.
    dns.remove("_storefront-verify.shop.example.com");
    dns.remove("shop.example.com");
    dns.add_txt(
        "_storefront-verify.shop.example.com",
        &format!("storefront-verify={token}"),
    );
    dns.add_cname("shop.example.com", "stores.storefront.test.");
    let page = click(&mut admin, "verify", "shop.example.com").await;
    assert!(page.body.contains("· Verified"), "{}", page.body);
    assert!(
        !page.body.contains("data-check="),
        "no failure shown any more"
    );
    assert!(!page.body.contains("Check now"));
    let (status, body) = app.get_text("Shop.Example.com", "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Alpha Goods"));

    // The TLS proxy may now get a certificate for it.
    assert_eq!(ask_tls(&app, "?domain=shop.example.com").await, 200);

    // Until it is primary, the subdomain is not redirected.
    assert_eq!(app.get_text("alpha.storefront.test", "/").await.0, 200);

    // Made primary, the store's other hostnames send shoppers there, path and query kept.
    let page = click(&mut admin, "primary", "shop.example.com").await;
    assert!(
        page.body
            .contains("data-hostname=\"shop.example.com\" data-primary"),
        "{}",
        page.body
    );
    let res = app.get("alpha.storefront.test:8080", "/?ref=mail").await;
    assert_eq!(res.status(), 301);
    assert_eq!(
        res.headers()["location"],
        "http://shop.example.com:8080/?ref=mail"
    );
    let res = app.get("alpha.storefront.test", "/").await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "http://shop.example.com/");
    let (status, body) = app.get_text("shop.example.com", "/").await;
    assert_eq!(status, 200, "no redirect on the primary itself");
    assert!(body.contains("Alpha Goods"));
    // The admin stays on the subdomain; health checks answer everywhere.
    let dashboard = admin.get("/admin").await;
    assert_eq!(dashboard.status, 200, "{:?}", dashboard.location);
    assert_eq!(admin.get(PAGE).await.status, 200);
    assert_eq!(
        app.get_text("alpha.storefront.test", "/healthz").await.0,
        200
    );

    // Back to the subdomain as primary: no more redirects.
    click(&mut admin, "primary", "alpha.storefront.test").await;
    assert_eq!(app.get_text("alpha.storefront.test", "/").await.0, 200);

    // Removing a primary domain hands primary back to the subdomain and stops serving it.
    click(&mut admin, "primary", "shop.example.com").await;
    let page = click(&mut admin, "remove", "shop.example.com").await;
    assert!(
        !page.body.contains("data-hostname=\"shop.example.com\""),
        "{}",
        page.body
    );
    assert_eq!(app.get_text("shop.example.com", "/").await.0, 404);
    assert_eq!(app.get_text("alpha.storefront.test", "/").await.0, 200);
    let primary: String = sqlx::query_scalar(
        "SELECT hostname FROM platform.hostnames h JOIN platform.tenants t ON t.id = h.tenant_id \
         WHERE t.subdomain = 'alpha' AND h.is_primary",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(primary, "alpha");
    assert_eq!(ask_tls(&app, "?domain=shop.example.com").await, 404);
}

#[tokio::test]
async fn an_apex_domain_may_use_the_targets_addresses_instead_of_a_cname() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    open_store(&app, "Alpha Goods", "alpha", "owner@alpha.example").await;
    let mut admin = signed_in(&app, "alpha.storefront.test", "owner@alpha.example").await;
    assert_eq!(
        post(&mut admin, PAGE, "domain", "alpha.example")
            .await
            .status,
        303
    );
    let page = admin.get(PAGE).await;
    assert!(page.body.contains("ALIAS"), "apex hint shown");
    let token = token_of(&app, "alpha.example").await;
    dns.add_txt(
        "_storefront-verify.alpha.example",
        &format!("storefront-verify={token}"),
    );
    dns.add_a(TARGET, Ipv4Addr::new(203, 0, 113, 7));

    // An address that is not the target's is refused, naming both.
    dns.add_a("alpha.example", Ipv4Addr::new(198, 51, 100, 1));
    let page = click(&mut admin, "verify", "alpha.example").await;
    let message = check_message(&page, "alpha.example");
    assert!(
        message.contains("198.51.100.1") && message.contains("203.0.113.7"),
        "{message}"
    );
    assert!(
        !message.contains("TXT"),
        "the TXT record is fine: {message}"
    );

    dns.remove("alpha.example");
    dns.add_a("alpha.example", Ipv4Addr::new(203, 0, 113, 7));
    let page = click(&mut admin, "verify", "alpha.example").await;
    assert!(page.body.contains("· Verified"), "{}", page.body);
    let (status, body) = app.get_text("alpha.example", "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Alpha Goods"));
}

#[tokio::test]
async fn a_domain_belongs_to_the_store_that_proves_it_and_a_claim_holds_nothing() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    open_store(&app, "Alpha Goods", "alpha", "owner@alpha.example").await;
    open_store(&app, "Bravo Supplies", "bravo", "owner@bravo.example").await;
    let mut alpha = signed_in(&app, "alpha.storefront.test", "owner@alpha.example").await;
    let mut bravo = signed_in(&app, "bravo.storefront.test", "owner@bravo.example").await;

    // Alpha claims a domain it never proves: a squatter, or a merchant who forgot.
    assert_eq!(
        post(&mut alpha, PAGE, "domain", "shop.example.com")
            .await
            .status,
        303
    );
    let again = post(&mut alpha, PAGE, "domain", "shop.example.com").await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("already on your list"));

    // Its real owner claims it too, and proves it with the records shown to them.
    let claimed = post(&mut bravo, PAGE, "domain", "SHOP.example.com.").await;
    assert_eq!(claimed.status, 303, "{}", claimed.body);
    let token = claim_token(&app, "bravo", "shop.example.com").await;
    assert_ne!(token, claim_token(&app, "alpha", "shop.example.com").await);
    dns.add_txt(
        "_storefront-verify.shop.example.com",
        &format!("storefront-verify={token}"),
    );
    dns.add_cname("shop.example.com", &format!("{TARGET}."));
    let page = click(&mut alpha, "verify", "shop.example.com").await;
    assert!(
        check_message(&page, "shop.example.com").contains("TXT record"),
        "Alpha's token is not in DNS: {}",
        page.body
    );
    assert_eq!(app.get_text("shop.example.com", "/").await.0, 404);
    let page = click(&mut bravo, "verify", "shop.example.com").await;
    assert!(page.body.contains("· Verified"), "{}", page.body);
    let (status, body) = app.get_text("shop.example.com", "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Bravo Supplies"));

    // Alpha's claim ended there: gone from its list, refused when added again (without a
    // word of which store has it), and Bravo's domain is out of Alpha's reach.
    assert!(!alpha.get(PAGE).await.body.contains(LISTED));
    let refused = post(&mut alpha, PAGE, "domain", "shop.example.com").await;
    assert_eq!(refused.status, 422);
    let at = refused
        .body
        .find("data-field=\"domain\">")
        .expect("the error is next to the field");
    assert!(refused.body[at..].contains("already connected to another store"));
    assert!(!refused.body.contains("Bravo"), "no word of which store");
    assert!(
        refused.body.contains("value=\"shop.example.com\""),
        "input kept"
    );
    let page = alpha.get(PAGE).await;
    let removed = alpha
        .post_form(
            &format!("{PAGE}/remove"),
            &[("_csrf", &page.csrf()), ("hostname", "shop.example.com")],
        )
        .await;
    assert_eq!(removed.status, 404);
    let owner: String = sqlx::query_scalar(
        "SELECT t.subdomain FROM platform.hostnames h JOIN platform.tenants t ON t.id = h.tenant_id \
         WHERE h.hostname = 'shop.example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(owner, "bravo");
    let claims: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.domain_claims")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(claims, 0);
}

#[tokio::test]
async fn an_unproved_claim_lapses_after_seven_days() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    open_store(&app, "Alpha Goods", "alpha", "owner@alpha.example").await;
    let mut alpha = signed_in(&app, "alpha.storefront.test", "owner@alpha.example").await;
    assert_eq!(
        post(&mut alpha, PAGE, "domain", "shop.example.com")
            .await
            .status,
        303
    );
    let old_token = token_of(&app, "shop.example.com").await;
    sqlx::query(
        "UPDATE platform.domain_claims SET created_at = now() - interval '7 days 1 minute'",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    assert!(!alpha.get(PAGE).await.body.contains(LISTED));
    let page = alpha.get(PAGE).await;
    let checked = alpha
        .post_form(
            &format!("{PAGE}/verify"),
            &[("_csrf", &page.csrf()), ("hostname", "shop.example.com")],
        )
        .await;
    assert_eq!(checked.status, 404, "a lapsed claim can't be proved");
    // Claimed anew, with new records to create.
    assert_eq!(
        post(&mut alpha, PAGE, "domain", "shop.example.com")
            .await
            .status,
        303
    );
    assert_ne!(token_of(&app, "shop.example.com").await, old_token);
    let page = alpha.get(PAGE).await;
    assert!(page.body.contains(LISTED));
    assert!(
        page.body.contains("unless its records prove it by"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn invalid_domains_are_refused_next_to_the_field_with_the_input_kept() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    open_store(&app, "Alpha Goods", "alpha", "owner@alpha.example").await;
    let mut admin = signed_in(&app, "alpha.storefront.test", "owner@alpha.example").await;
    for (input, message) in [
        ("", "Enter a domain name"),
        ("localhost", "with a dot"),
        ("192.0.2.10", "not an IP address"),
        ("bravo.storefront.test", "belong to the platform"),
        ("storefront.test", "belong to the platform"),
        ("shop_1.example.com", "cannot contain"),
        ("-shop.example.com", "hyphen"),
        ("shop..example.com", "empty parts"),
    ] {
        let page = post(&mut admin, PAGE, "domain", input).await;
        assert_eq!(page.status, 422, "{input}");
        let at = page
            .body
            .find("data-field=\"domain\">")
            .unwrap_or_else(|| panic!("{input}: error by the field: {}", page.body));
        assert!(page.body[at..].contains(message), "{input}: {message}");
        assert!(
            page.body.contains(&format!("value=\"{input}\"")),
            "{input}: input kept"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.domain_claims")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn only_members_with_the_settings_permission_manage_domains_and_strangers_sign_in() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    open_store(&app, "Alpha Goods", "alpha", "owner@alpha.example").await;
    let hash = platform::accounts::hash_password(PASSWORD).unwrap();
    sqlx::query(
        "WITH u AS (INSERT INTO platform.users (id, email, password_hash) \
                    VALUES (gen_random_uuid(), 'staff@alpha.example', $1) RETURNING id) \
         INSERT INTO platform.memberships (user_id, tenant_id, role) \
         SELECT u.id, t.id, 'staff' FROM u, platform.tenants t WHERE t.subdomain = 'alpha'",
    )
    .bind(hash)
    .execute(&app.pool)
    .await
    .unwrap();

    let mut staff = signed_in(&app, "alpha.storefront.test", "staff@alpha.example").await;
    assert_eq!(
        staff.get("/admin").await.status,
        200,
        "staff reach the admin"
    );
    assert_eq!(staff.get(PAGE).await.status, 403);
    let csrf = staff.get("/admin").await.csrf();
    for (path, field) in [
        (PAGE, "domain"),
        ("/admin/settings/domains/verify", "hostname"),
        ("/admin/settings/domains/primary", "hostname"),
        ("/admin/settings/domains/remove", "hostname"),
    ] {
        let page = staff
            .post_form(path, &[("_csrf", &csrf), (field, "shop.example.com")])
            .await;
        assert_eq!(page.status, 403, "{path}");
    }

    // The same staff member, given the settings permission, may manage domains.
    sqlx::query(
        "UPDATE platform.memberships SET permissions = '{settings}' \
         WHERE user_id = (SELECT id FROM platform.users WHERE email = 'staff@alpha.example')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(staff.get(PAGE).await.status, 200);

    let mut stranger = app.browser("alpha.storefront.test");
    let page = stranger.get(PAGE).await;
    assert_eq!(page.status, 303);
    assert!(page.location.unwrap().starts_with("/admin/login"));
}

#[tokio::test]
async fn the_tls_ask_endpoint_answers_only_for_names_served_here() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    for (host, verified) in [
        ("shop.alpha.example", true),
        ("pending.alpha.example", false),
    ] {
        sqlx::query(
            "INSERT INTO platform.hostnames (hostname, tenant_id, kind, verified_at) \
             VALUES ($1, $2, 'custom', CASE WHEN $3 THEN now() END)",
        )
        .bind(host)
        .bind(alpha.id)
        .bind(verified)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    for (query, status) in [
        ("?domain=shop.alpha.example", 200),
        ("?domain=Shop.Alpha.Example.", 200),
        ("?domain=alpha.storefront.test", 200),
        ("?domain=storefront.test", 200),
        ("?domain=pending.alpha.example", 404),
        ("?domain=nobody.storefront.test", 404),
        ("?domain=a.alpha.storefront.test", 404),
        ("?domain=evil.example", 404),
        ("?domain=", 400),
        ("", 400),
    ] {
        assert_eq!(ask_tls(&app, query).await, status, "{query:?}");
    }
    // Whatever host Caddy asks on.
    let (status, _) = app
        .get_text(
            "shop.alpha.example",
            "/internal/tls/ask?domain=alpha.storefront.test",
        )
        .await;
    assert_eq!(status, 200);
}
