//! Browser journeys: the admin's accounts and settings, the platform sign-in, the operator console.

use std::time::Duration;

use platform::tenancy::Tenant;
use secrecy::SecretString;
use storefront_tests::TestApp;
use storefront_tests::browser::Chrome;
use storefront_tests::dns::DnsServer;
use storefront_tests::smtp::{ReceivedMail, SmtpReceiver};

use super::{png_file, sign_in, signed_in_owner};

/// How long a mail may take through the outbox to the SMTP receiver.
const WAIT: Duration = Duration::from_secs(15);
const OWNER: &str = "owner@acme.example.com";
const NEW_PASSWORD: &str = "a brand new password";

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

/// One column of a query on the store's own tables.
async fn store_column<T>(app: &TestApp, tenant: &Tenant, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    sqlx::query_scalar(sql).fetch_all(&mut *tx).await.unwrap()
}

/// The link starting with `prefix` in the newest mail to `to`, once `n` mails have arrived.
async fn link_in_mail(smtp: &SmtpReceiver, n: usize, to: &str, prefix: &str) -> String {
    let mails = smtp.wait_for(n, WAIT).await;
    let mail: &ReceivedMail = mails
        .iter()
        .rev()
        .find(|m| m.to.iter().any(|t| t == to))
        .unwrap_or_else(|| panic!("a mail to {to}"));
    mail.find_link(prefix)
        .unwrap_or_else(|| panic!("a link {prefix}... in {}", mail.text_body()))
}

/// Opening the admin in `chrome` lands on its sign-in page: nobody is signed in there.
async fn assert_signed_out(chrome: &mut Chrome) {
    chrome.visit("/admin").await;
    assert!(
        chrome.path().await.starts_with("/admin/login"),
        "{}",
        chrome.path().await
    );
    assert!(chrome.text().await.contains("Sign in to acme goods"));
}

#[tokio::test]
async fn staff_join_by_mail_and_leave_and_passwords_and_sessions_are_the_merchants_to_end() {
    let smtp = SmtpReceiver::start().await;
    let smtp_url = smtp.url();
    let app = TestApp::spawn_with(|s| s.smtp_url = Some(SecretString::from(smtp_url))).await;
    let (_, mut owner) = signed_in_owner(&app, "acme", "admin-accounts-owner").await;

    // The owner's address is not confirmed: the dashboard sends the link again, and it works.
    assert!(owner.has("#verify-banner").await);
    owner.submit("verification-resend").await;
    assert!(
        owner
            .text_of("#verify-banner")
            .await
            .contains(&format!("We sent a new link to {OWNER}")),
        "{}",
        owner.text().await
    );
    let verify = link_in_mail(&smtp, 1, OWNER, "http://storefront.test/account/verify/").await;
    owner.visit(&verify).await;
    assert!(
        owner
            .text()
            .await
            .contains("your email address is verified")
    );
    owner.visit("/admin").await;
    assert!(!owner.has("#verify-banner").await);

    // A bad address comes back next to its field, as typed, and invites nobody.
    owner.visit("/admin/staff").await;
    owner
        .fill_form("staff-invite", &[("email", "not-an-address")])
        .await;
    owner.expect_status(422).submit("staff-invite").await;
    let field = "form[data-form=staff-invite] [name=email]";
    let error = owner.field_error(field).await;
    assert!(error.contains("not a valid email address"), "{error}");
    assert_eq!(owner.value(field).await, "not-an-address");
    assert_eq!(
        count(&app, "SELECT count(*) FROM platform.invitations").await,
        0
    );

    // An invitation sent by mistake is revoked; its link then leads nowhere.
    owner
        .fill_form("staff-invite", &[("email", "gone@acme.example")])
        .await;
    owner
        .click("form[data-form=staff-invite] [name=role][value=admin]")
        .await;
    owner.submit("staff-invite").await;
    assert_eq!(owner.path().await, "/admin/staff");
    assert!(
        owner
            .text_of("[data-invitation='gone@acme.example']")
            .await
            .contains("(admin)")
    );
    let gone_link = link_in_mail(
        &smtp,
        2,
        "gone@acme.example",
        "http://acme.storefront.test/admin/invitations/",
    )
    .await;
    owner.submit("staff-revoke").await;
    assert!(!owner.has("[data-invitation]").await);
    assert!(!owner.text().await.contains("Open invitations"));

    // A clerk is invited for orders only, and joins from the mail in a browser of their own.
    owner
        .fill_form(
            "staff-invite",
            &[("email", "Clerk@Acme.example"), ("orders", "on")],
        )
        .await;
    owner.submit("staff-invite").await;
    assert!(
        owner
            .text_of("[data-invitation='clerk@acme.example']")
            .await
            .contains("(staff: orders)")
    );
    let invitation = link_in_mail(
        &smtp,
        3,
        "clerk@acme.example",
        "http://acme.storefront.test/admin/invitations/",
    )
    .await;
    let mut clerk = app
        .chrome(&TestApp::store_host("acme"), "admin-accounts-clerk")
        .await;
    clerk.expect_status(400).visit(&gone_link).await;
    assert!(
        clerk
            .text()
            .await
            .contains("has expired, was revoked, or was already used")
    );
    clerk.visit(&invitation).await;
    assert!(clerk.text().await.contains("Join acme goods"));
    clerk
        .fill_form("invitation-accept", &[("password", "clerk password 1")])
        .await;
    clerk.submit("invitation-accept").await;
    assert_eq!(clerk.path().await, "/admin");
    assert!(
        clerk
            .text()
            .await
            .contains("Signed in as clerk@acme.example (staff)")
    );
    assert!(
        !clerk.has("#verify-banner").await,
        "the mail proved the address"
    );
    assert!(
        !clerk.has("a[href='/admin/staff']").await,
        "staff do not manage staff"
    );

    // Removed, the clerk is out at their next click.
    owner.visit("/admin/staff").await;
    assert!(
        owner
            .text_of("[data-member='clerk@acme.example']")
            .await
            .contains("orders")
    );
    owner.submit("staff-remove").await;
    assert_eq!(owner.path().await, "/admin/staff");
    assert!(!owner.has("[data-member='clerk@acme.example']").await);
    assert!(owner.has(&format!("[data-member='{OWNER}']")).await);
    assert_signed_out(&mut clerk).await;

    // Someone who forgot the owner's password resets it from the mail: every session ends.
    clerk.follow("a[href='/admin/password/forgot']").await;
    clerk
        .fill_form("password-forgot", &[("email", OWNER)])
        .await;
    clerk.submit("password-forgot").await;
    assert!(clerk.text_of("#reset-sent").await.contains(OWNER));
    let reset = link_in_mail(
        &smtp,
        4,
        OWNER,
        "http://acme.storefront.test/admin/password/reset/",
    )
    .await;
    clerk.visit(&reset).await;
    clerk
        .fill_form("password-reset", &[("password", NEW_PASSWORD)])
        .await;
    clerk.submit("password-reset").await;
    assert!(
        clerk
            .text_of("#reset-done")
            .await
            .contains("Your password was changed")
    );
    assert_signed_out(&mut owner).await;

    // Signed in twice, the owner signs out everywhere from one browser: both are out.
    sign_in(&mut owner, OWNER, NEW_PASSWORD).await;
    sign_in(&mut clerk, OWNER, NEW_PASSWORD).await;
    owner.submit("logout-everywhere").await;
    assert_eq!(owner.path().await, "/admin/login");
    assert_signed_out(&mut owner).await;
    assert_signed_out(&mut clerk).await;

    // Signing out ends this browser's session.
    sign_in(&mut clerk, OWNER, NEW_PASSWORD).await;
    clerk.submit("admin-logout").await;
    assert_eq!(clerk.path().await, "/admin/login");
    assert_signed_out(&mut clerk).await;
    clerk.close().await;
    owner.close().await;
}

#[tokio::test]
async fn an_owner_slowed_by_wrong_passwords_signs_in_with_a_mailed_link() {
    let smtp = SmtpReceiver::start().await;
    let smtp_url = smtp.url();
    let app = TestApp::spawn_with(|s| s.smtp_url = Some(SecretString::from(smtp_url))).await;
    app.store_with_owner("acme", "acme goods").await;
    let mut chrome = app
        .chrome(&TestApp::store_host("acme"), "admin-sign-in-link")
        .await;

    // Wrong passwords: after a few, each try waits longer and a link by mail is offered.
    chrome.visit("/admin/login").await;
    for _ in 0..=platform::sign_in_throttle::FREE_FAILURES {
        assert!(!chrome.has("#login-slowed").await);
        chrome
            .fill_form(
                "admin-login",
                &[("email", OWNER), ("password", "guess guess guess")],
            )
            .await;
        chrome.expect_status(422).submit("admin-login").await;
    }
    let slowed = chrome.text_of("#login-slowed").await;
    assert!(slowed.contains("the next one in 5 seconds"), "{slowed}");
    chrome.submit("admin-login-link").await;
    assert!(chrome.text_of("#link-sent").await.contains(OWNER));

    // The link opens a page whose button signs in, once.
    let link = link_in_mail(
        &smtp,
        1,
        OWNER,
        "http://acme.storefront.test/admin/login/link/",
    )
    .await;
    chrome.visit(&link).await;
    assert!(chrome.text().await.contains("Sign in to acme goods"));
    chrome.submit("admin-login-link-use").await;
    assert_eq!(chrome.path().await, "/admin");
    assert!(
        chrome
            .text()
            .await
            .contains(&format!("Signed in as {OWNER} (owner)"))
    );
    chrome.expect_status(400).visit(&link).await;
    assert!(chrome.text().await.contains("expired or was already used"));
    chrome.close().await;
}

#[tokio::test]
async fn a_custom_domain_is_added_verified_made_primary_and_removed_and_api_tokens_come_and_go() {
    const PAGE: &str = "/admin/settings/domains";
    let dns = DnsServer::start().await;
    let dns_addr = dns.addr();
    let app = TestApp::spawn_with(|s| s.dns_nameserver = Some(dns_addr)).await;
    let (_, mut owner) = signed_in_owner(&app, "acme", "admin-domains").await;

    owner.visit(PAGE).await;
    owner
        .fill_form("domain-add", &[("domain", "https://Shop.Example.com/")])
        .await;
    owner.submit("domain-add").await;
    assert_eq!(owner.path().await, PAGE);
    let section = "[data-hostname='shop.example.com']";
    assert!(
        owner
            .text_of(&format!("{section} table"))
            .await
            .contains("stores.storefront.test")
    );

    // Checked before the records exist, the page names what is missing.
    owner.submit("domain-verify").await;
    assert!(
        owner
            .text_of("[data-check='shop.example.com']")
            .await
            .contains("TXT record missing")
    );
    assert_eq!(app.get_text("shop.example.com", "/").await.0, 404);

    let token: String = sqlx::query_scalar(
        "SELECT verification_token FROM platform.domain_claims WHERE hostname = 'shop.example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    dns.add_txt(
        "_storefront-verify.shop.example.com",
        &format!("storefront-verify={token}"),
    );
    dns.add_cname("shop.example.com", "stores.storefront.test.");
    owner.submit("domain-verify").await;
    assert!(owner.text_of(section).await.contains("Verified"));
    assert!(!owner.has("[data-check]").await);

    // Made primary, the store's own address sends shoppers to it.
    owner.submit("domain-primary").await;
    assert!(owner.has(&format!("{section}[data-primary]")).await);
    let res = app.get("acme.storefront.test", "/").await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "http://shop.example.com/");

    // Removed, it serves nothing and the store's own address is primary again.
    owner.submit("domain-remove").await;
    assert_eq!(owner.path().await, PAGE);
    assert!(!owner.has(section).await);
    assert!(
        owner
            .has("[data-hostname='acme.storefront.test'][data-primary]")
            .await
    );
    assert_eq!(app.get_text("shop.example.com", "/").await.0, 404);
    assert_eq!(app.get_text("acme.storefront.test", "/").await.0, 200);

    // An API token is shown once, works, and stops working when revoked.
    owner.visit("/admin/settings/api-tokens").await;
    assert!(owner.text().await.contains("No tokens yet"));
    owner
        .fill_form("token-create", &[("name", "Inventory sync")])
        .await;
    owner
        .set_checked(
            "form[data-form=token-create] [name=scopes][value='products:read']",
            true,
        )
        .await;
    owner.submit("token-create").await;
    let secret = owner.text_of("#new-token [data-token]").await;
    assert!(secret.starts_with("sf_"), "{secret}");
    assert!(
        owner
            .text_of("[data-api-token='Inventory sync']")
            .await
            .contains("products:read")
    );
    let api = |token: String| {
        let app = &app;
        async move {
            reqwest::Client::new()
                .get(format!("http://{}/admin/api/v1/products.json", app.addr))
                .header(reqwest::header::HOST, "acme.storefront.test")
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(api(secret.clone()).await, 200);
    owner.visit("/admin/settings/api-tokens").await;
    assert!(!owner.text().await.contains(&secret), "shown only once");
    owner.submit("token-revoke").await;
    assert!(owner.text().await.contains("No tokens yet"));
    assert_eq!(api(secret).await, 401);

    // The domains page has its own sign-out button.
    owner.visit(PAGE).await;
    owner.submit("domains-logout").await;
    assert_eq!(owner.path().await, "/admin/login");
    assert_signed_out(&mut owner).await;
    owner.close().await;
}

#[tokio::test]
async fn taxes_shipping_rates_discounts_and_the_logo_are_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let (tenant, mut owner) = signed_in_owner(&app, "acme", "admin-checkout-settings").await;

    // Taxes: prices may include them.
    owner.visit("/admin/settings/taxes").await;
    let included = "form[data-form=taxes-included] [name=prices_include_tax]";
    owner.set_checked(included, true).await;
    owner.submit("taxes-included").await;
    assert_eq!(owner.path().await, "/admin/settings/taxes");
    assert_eq!(
        owner
            .js(
                "return document.querySelector(arguments[0]).checked;",
                vec![included.into()]
            )
            .await,
        true
    );
    assert_eq!(
        store_column::<bool>(&app, &tenant, "SELECT prices_include_tax FROM settings").await,
        [true]
    );

    for (country, name, rate) in [("DE", "VAT", "19"), ("AT", "USt", "20")] {
        owner
            .fill_form(
                "tax-rate-add",
                &[("country", country), ("name", name), ("rate", rate)],
            )
            .await;
        owner.submit("tax-rate-add").await;
    }
    // Deleting from the list takes that row only (Austria's, listed first).
    assert!(owner.text_of("tr[data-rate]").await.contains("USt"));
    owner.submit("taxes-delete").await;
    assert!(!owner.text().await.contains("USt"));
    let tax_names = "SELECT name FROM tax_rates ORDER BY name";
    assert_eq!(
        store_column::<String>(&app, &tenant, tax_names).await,
        ["VAT"]
    );

    // A bad rate comes back by its field and changes nothing.
    owner.follow("tr[data-rate] a").await;
    owner.fill_form("tax-rate-save", &[("rate", "lots")]).await;
    owner.expect_status(422).submit("tax-rate-save").await;
    assert!(!owner.field_error("#rate").await.is_empty());
    assert_eq!(owner.value("#rate").await, "lots");
    let tax_bp = "SELECT rate_bp FROM tax_rates";
    assert_eq!(store_column::<i32>(&app, &tenant, tax_bp).await, [1900]);

    owner
        .fill_form("tax-rate-save", &[("name", "Reduced VAT"), ("rate", "7.5")])
        .await;
    owner.submit("tax-rate-save").await;
    assert_eq!(owner.path().await, "/admin/settings/taxes");
    assert!(owner.text_of("tr[data-rate]").await.contains("Reduced VAT"));
    assert_eq!(store_column::<i32>(&app, &tenant, tax_bp).await, [750]);
    owner.follow("tr[data-rate] a").await;
    owner.submit("tax-rate-delete").await;
    assert!(owner.text().await.contains("No tax rates yet"));
    assert!(
        store_column::<String>(&app, &tenant, tax_names)
            .await
            .is_empty()
    );

    // Shipping rates.
    for (position, name, price) in [("1", "Standard", "4.95"), ("2", "Express", "9.95")] {
        owner.visit("/admin/settings/shipping/new").await;
        owner
            .fill_form(
                "shipping-rate-save",
                &[("name", name), ("position", position), ("price", price)],
            )
            .await;
        owner
            .click("form[data-form=shipping-rate-save] [name=kind][value=flat]")
            .await;
        owner.submit("shipping-rate-save").await;
        assert_eq!(owner.path().await, "/admin/settings/shipping");
    }
    let shipping_names = "SELECT name FROM shipping_rates ORDER BY name";
    assert!(owner.text_of("tr[data-rate]").await.contains("Standard"));
    owner.submit("shipping-rates-delete").await;
    assert!(!owner.text().await.contains("Standard"));
    assert_eq!(
        store_column::<String>(&app, &tenant, shipping_names).await,
        ["Express"]
    );
    owner.follow("tr[data-rate] a").await;
    owner.submit("shipping-rate-delete").await;
    assert_eq!(owner.path().await, "/admin/settings/shipping");
    assert!(owner.text().await.contains("No shipping rates yet"));
    assert!(
        store_column::<String>(&app, &tenant, shipping_names)
            .await
            .is_empty()
    );

    // Discount codes (the newest is listed first).
    for (code, kind, value) in [
        ("SPRING10", "percentage", "10"),
        ("WELCOME5", "fixed_amount", "5.00"),
    ] {
        owner.visit("/admin/discounts/new").await;
        owner
            .fill_form("discount-save", &[("code", code), ("value", value)])
            .await;
        owner
            .click(&format!(
                "form[data-form=discount-save] [name=kind][value={kind}]"
            ))
            .await;
        owner.submit("discount-save").await;
        assert_eq!(owner.path().await, "/admin/discounts");
    }
    let codes = "SELECT code FROM discount_codes ORDER BY code";
    assert!(
        owner
            .text_of("tr[data-discount]")
            .await
            .contains("WELCOME5")
    );
    owner.submit("discounts-delete").await;
    assert!(!owner.text().await.contains("WELCOME5"));
    assert_eq!(
        store_column::<String>(&app, &tenant, codes).await,
        ["SPRING10"]
    );
    owner.follow("tr[data-discount] a").await;
    owner.submit("discount-delete").await;
    assert_eq!(owner.path().await, "/admin/discounts");
    assert!(owner.text().await.contains("No discount codes yet"));
    assert!(
        store_column::<String>(&app, &tenant, codes)
            .await
            .is_empty()
    );

    // The logo: uploaded, shown, removed.
    let (_dir, picture) = png_file(320, 120);
    owner.visit("/admin/settings").await;
    owner.upload("#logo-file", &picture).await;
    owner.submit("logo-upload").await;
    assert!(owner.has("section[aria-labelledby=logo-heading] img").await);
    let logo = "SELECT logo_key FROM settings WHERE logo_key IS NOT NULL";
    assert_eq!(store_column::<String>(&app, &tenant, logo).await.len(), 1);
    owner.submit("logo-delete").await;
    assert_eq!(owner.path().await, "/admin/settings");
    assert!(!owner.has("section[aria-labelledby=logo-heading] img").await);
    assert!(owner.text().await.contains("No logo"));
    assert!(store_column::<String>(&app, &tenant, logo).await.is_empty());
    owner.close().await;
}

#[tokio::test]
async fn merchants_find_their_store_from_the_platform_site_and_operators_run_the_console() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    app.create_tenant("bravo", "Bravo Supplies").await;
    let mut chrome = app.chrome("storefront.test", "platform-and-operator").await;

    // The platform's sign-in finds the store by its owner's address.
    chrome.visit("/login").await;
    chrome
        .fill_form("platform-login", &[("email", "nobody@nowhere.example")])
        .await;
    chrome.expect_status(422).submit("platform-login").await;
    let error = chrome.field_error("#email").await;
    assert!(
        error.contains("No store uses this email address"),
        "{error}"
    );
    chrome
        .fill_form("platform-login", &[("email", "Owner@Alpha.example.com")])
        .await;
    chrome.submit("platform-login").await;
    assert_eq!(chrome.url().await.host_str(), Some("alpha.storefront.test"));
    assert!(chrome.path().await.starts_with("/admin/login"));
    assert_eq!(chrome.value("#email").await, "owner@alpha.example.com");

    // The operator console.
    let password = "operator password 1";
    let (created, out) = app
        .cli(
            &[
                "operator",
                "create",
                "--email",
                "ops@platform.example",
                "--password",
                password,
            ],
            "",
        )
        .await;
    created.unwrap_or_else(|e| panic!("{e:#}: {out}"));
    chrome.visit("http://storefront.test/operator/login").await;
    chrome
        .fill_form(
            "operator-login",
            &[("email", "ops@platform.example"), ("password", password)],
        )
        .await;
    chrome.submit("operator-login").await;
    assert_eq!(chrome.path().await, "/operator");
    assert!(chrome.text().await.contains("Tenants (2)"));

    chrome.fill_form("operator-search", &[("q", "bravo")]).await;
    chrome.submit("operator-search").await;
    assert!(chrome.text().await.contains("Tenants (1)"));
    assert!(!chrome.has("[data-tenant=alpha]").await);

    chrome
        .select("[data-tenant=bravo] select[name=plan_code]", "growth")
        .await;
    chrome.submit("operator-plan").await;
    let plan: String =
        sqlx::query_scalar("SELECT plan_code FROM platform.tenants WHERE subdomain = 'bravo'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(plan, "growth");
    chrome.visit("/operator?q=bravo").await;
    assert_eq!(
        chrome
            .value("[data-tenant=bravo] select[name=plan_code]")
            .await,
        "growth"
    );

    chrome.submit_button("operator-status", "Suspend").await;
    chrome.visit("/operator?q=bravo").await;
    assert_eq!(
        chrome.text_of("[data-tenant=bravo] .status").await,
        "suspended"
    );
    assert!(
        chrome
            .text_of("[data-tenant=bravo]")
            .await
            .contains("Resume")
    );
    let mut status = 0;
    for _ in 0..100 {
        status = app.get_text("bravo.storefront.test", "/").await.0;
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 503, "a suspended store is closed to shoppers");
    assert_eq!(app.get_text("alpha.storefront.test", "/").await.0, 200);

    chrome.visit("/operator/audit").await;
    let audit = chrome.text().await;
    assert!(audit.contains("tenant.suspend") && audit.contains("tenant.change_plan"));

    chrome.submit("operator-logout").await;
    assert_eq!(chrome.path().await, "/operator/login");
    chrome.visit("/operator").await;
    assert_eq!(chrome.path().await, "/operator/login");
    chrome.close().await;
}
