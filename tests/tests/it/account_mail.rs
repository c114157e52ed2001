//! Flows that go through the mail outbox to a real SMTP receiver: email verification,
//! password reset, staff invitations; and the outbox's retries.

use std::time::Duration;

use secrecy::SecretString;
use storefront_tests::smtp::{ReceivedMail, SmtpReceiver};
use storefront_tests::{Browser, Page, TestApp};

const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(10);

async fn app_with_smtp() -> (TestApp, SmtpReceiver) {
    let smtp = SmtpReceiver::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(|s| s.smtp_url = Some(SecretString::from(url))).await;
    (app, smtp)
}

/// Signs up through the platform site and follows the login link; returns the signed-in
/// admin browser.
async fn sign_up<'a>(app: &'a TestApp, sub: &str, email: &str) -> Browser<'a> {
    let mut platform = app.browser("storefront.test");
    let csrf = platform.get("/signup").await.csrf();
    let done = platform
        .post_form(
            "/signup",
            &[
                ("_csrf", &csrf),
                ("store_name", "Alpha Goods"),
                ("subdomain", sub),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let link = done.location.unwrap();
    let host = format!("{sub}.storefront.test");
    let path = link.split_once(&host).unwrap().1.to_owned();
    let mut admin = app.browser(&host);
    assert_eq!(admin.get(&path).await.status, 303);
    admin
}

fn path_of(link: &str, host: &str) -> String {
    link.split_once(host)
        .unwrap_or_else(|| panic!("{link} is on {host}"))
        .1
        .to_owned()
}

fn mail_to<'m>(mails: &'m [ReceivedMail], to: &str) -> &'m ReceivedMail {
    mails
        .iter()
        .find(|m| m.to.iter().any(|t| t == to))
        .unwrap_or_else(|| panic!("a mail to {to}"))
}

#[tokio::test]
async fn signup_sends_a_verification_email_whose_link_works_once() {
    let (app, smtp) = app_with_smtp().await;
    let mut admin = sign_up(&app, "alpha", "owner@alpha.example").await;
    let dashboard = admin.get("/admin").await;
    assert!(dashboard.body.contains("Please confirm your email address"));

    let mails = smtp.wait_for(1, WAIT).await;
    let mail = mail_to(&mails, "owner@alpha.example");
    assert!(mail.subject().contains("Alpha Goods"), "{}", mail.subject());
    let link = mail
        .find_link("http://storefront.test/account/verify/")
        .expect("a verify link");

    let mut platform = app.browser("storefront.test");
    let page = platform.get(&path_of(&link, "storefront.test")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("your email address is verified"));
    assert_eq!(
        platform
            .get(&path_of(&link, "storefront.test"))
            .await
            .status,
        400,
        "once only"
    );
    assert!(
        !admin
            .get("/admin")
            .await
            .body
            .contains("Please confirm your email address")
    );

    // Resending works from the banner (and is rate-limited like other mail).
    let csrf = dashboard.csrf();
    assert_eq!(
        admin
            .post_form("/admin/account/verification", &[("_csrf", &csrf)])
            .await
            .status,
        303
    );
    smtp.wait_for(2, WAIT).await;
}

async fn request_reset(browser: &mut Browser<'_>, email: &str) -> Page {
    let csrf = browser.get("/admin/password/forgot").await.csrf();
    browser
        .post_form(
            "/admin/password/forgot",
            &[("_csrf", &csrf), ("email", email)],
        )
        .await
}

async fn queued(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM platform.mail_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_password_reset_link_arrives_works_once_and_signs_out_every_session() {
    let (app, smtp) = app_with_smtp().await;
    let mut signed_in = sign_up(&app, "alpha", "owner@alpha.example").await;
    smtp.wait_for(1, WAIT).await; // the verification mail
    let mut browser = app.browser("alpha.storefront.test");

    // An address without an account here gets the same answer and no mail.
    let before = queued(&app).await;
    let page = request_reset(&mut browser, "stranger@else.example").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("If an account with stranger@else.example manages Alpha Goods")
    );
    assert_eq!(queued(&app).await, before);

    let page = request_reset(&mut browser, "Owner@Alpha.example").await;
    assert!(
        page.body
            .contains("If an account with owner@alpha.example manages Alpha Goods")
    );
    let mails = smtp.wait_for(2, WAIT).await;
    let link = mails[1]
        .find_link("http://alpha.storefront.test/admin/password/reset/")
        .expect("a reset link");
    let path = path_of(&link, "alpha.storefront.test");

    let form = browser.get(&path).await;
    assert_eq!(form.status, 200);
    let weak = browser
        .post_form(&path, &[("_csrf", &form.csrf()), ("password", "short")])
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("at least 10 characters"));
    let done = browser
        .post_form(
            &path,
            &[
                ("_csrf", &form.csrf()),
                ("password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(done.body.contains("Your password was changed"));
    assert_eq!(browser.get(&path).await.status, 400, "the link works once");

    assert_eq!(
        signed_in.get("/admin").await.status,
        303,
        "old sessions are signed out"
    );
    let csrf = browser.get("/admin/login").await.csrf();
    let old = browser
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &csrf),
                ("email", "owner@alpha.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(old.status, 422);
    let new = browser
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &csrf),
                ("email", "owner@alpha.example"),
                ("password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(new.status, 303);
}

async fn sign_in(browser: &mut Browser<'_>, email: &str, password: &str) -> Page {
    let csrf = browser.get("/admin/login").await.csrf();
    browser
        .post_form(
            "/admin/login",
            &[("_csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
}

#[tokio::test]
async fn an_owner_slowed_by_wrong_passwords_gets_a_mailed_link_that_signs_in_once() {
    let (app, smtp) = app_with_smtp().await;
    sign_up(&app, "alpha", "owner@alpha.example").await;
    smtp.wait_for(1, WAIT).await; // the verification mail
    let mut browser = app.browser("alpha.storefront.test");
    let mut slowed = None;
    for _ in 0..10 {
        let page = sign_in(&mut browser, "owner@alpha.example", "guess guess guess").await;
        if page.body.contains("data-form=\"admin-login-link\"") {
            slowed = Some(page);
            break;
        }
        assert_eq!(page.status, 422);
    }
    let slowed = slowed.expect("sign-in is slowed and offers a link");

    // Asking for a link answers the same whether or not the address has an account here.
    let before = queued(&app).await;
    let page = browser
        .post_form(
            "/admin/login/link",
            &[
                ("_csrf", &slowed.csrf()),
                ("email", "stranger@else.example"),
            ],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("If an account with stranger@else.example manages Alpha Goods")
    );
    assert_eq!(queued(&app).await, before);
    let page = browser
        .post_form(
            "/admin/login/link",
            &[("_csrf", &slowed.csrf()), ("email", "Owner@Alpha.example")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("If an account with owner@alpha.example manages Alpha Goods")
    );

    let mails = smtp.wait_for(2, WAIT).await;
    let mail = &mails[1];
    assert_eq!(mail.to, ["owner@alpha.example"]);
    assert!(
        mail.subject().contains("sign-in link for Alpha Goods"),
        "{}",
        mail.subject()
    );
    let link = mail
        .find_link("http://alpha.storefront.test/admin/login/link/")
        .expect("a sign-in link");
    let path = path_of(&link, "alpha.storefront.test");

    // Opening the link (as a mail scanner would) uses nothing up; its button signs in.
    let mut owner = app.browser("alpha.storefront.test");
    assert_eq!(owner.get(&path).await.status, 200);
    let form = owner.get(&path).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("data-form=\"admin-login-link-use\""));
    let done = owner.post_form(&path, &[("_csrf", &form.csrf())]).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/admin")),
        "{}",
        done.body
    );
    let dashboard = owner.get("/admin").await;
    assert_eq!(dashboard.status, 200);
    assert!(
        dashboard
            .body
            .contains("Signed in as owner@alpha.example (owner)")
    );

    // Once only.
    let mut other = app.browser("alpha.storefront.test");
    assert_eq!(other.get(&path).await.status, 400);
    let csrf = other.get("/admin/login").await.csrf();
    let again = other.post_form(&path, &[("_csrf", &csrf)]).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("expired or was already used"));
    assert_eq!(other.get("/admin").await.status, 303);

    // Signing in by the link forgot this address's failures: the password works at once.
    let page = sign_in(&mut browser, "owner@alpha.example", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
}

async fn invite(owner: &mut Browser<'_>, fields: &[(&str, &str)]) -> Page {
    let csrf = owner.get("/admin/staff").await.csrf();
    let mut form = vec![("_csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    owner.post_form("/admin/staff/invitations", &form).await
}

#[tokio::test]
async fn an_invited_staff_member_joins_with_their_permissions_and_can_be_removed() {
    let (app, smtp) = app_with_smtp().await;
    let mut owner = sign_up(&app, "alpha", "owner@alpha.example").await;
    smtp.wait_for(1, WAIT).await;

    let bad = invite(&mut owner, &[("email", "nope"), ("role", "staff")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("not a valid email address"));
    let bad = invite(
        &mut owner,
        &[("email", "owner@alpha.example"), ("role", "staff")],
    )
    .await;
    assert!(bad.body.contains("already works in this store"));

    let sent = invite(
        &mut owner,
        &[
            ("email", "Clerk@Alpha.example"),
            ("role", "staff"),
            ("orders", "on"),
        ],
    )
    .await;
    assert_eq!(sent.status, 303);
    let staff_page = owner.get("/admin/staff").await;
    assert!(
        staff_page
            .body
            .contains("data-invitation=\"clerk@alpha.example\"")
    );
    let mails = smtp.wait_for(2, WAIT).await;
    let mail = mail_to(&mails, "clerk@alpha.example");
    assert!(mail.text_body().contains("owner@alpha.example"));
    let link = mail
        .find_link("http://alpha.storefront.test/admin/invitations/")
        .expect("an invitation link");
    let path = path_of(&link, "alpha.storefront.test");

    let mut clerk = app.browser("alpha.storefront.test");
    let form = clerk.get(&path).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Choose a password"));
    let weak = clerk
        .post_form(&path, &[("_csrf", &form.csrf()), ("password", "short")])
        .await;
    assert_eq!(weak.status, 422);
    let joined = clerk
        .post_form(
            &path,
            &[("_csrf", &form.csrf()), ("password", "clerk password 1")],
        )
        .await;
    assert_eq!(
        (joined.status, joined.location.as_deref()),
        (303, Some("/admin"))
    );
    let dashboard = clerk.get("/admin").await;
    assert!(
        dashboard
            .body
            .contains("Signed in as clerk@alpha.example (staff)")
    );
    assert!(
        !dashboard.body.contains("Please confirm your email"),
        "the invitation verified the address"
    );

    // A staff member of this store cannot sign in to another store's admin.
    app.create_tenant("bravo", "Bravo Supplies").await;
    let mut at_bravo = app.browser("bravo.storefront.test");
    let csrf = at_bravo.get("/admin/login").await.csrf();
    let refused = at_bravo
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &csrf),
                ("email", "clerk@alpha.example"),
                ("password", "clerk password 1"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);

    // Staff cannot manage staff; the link cannot be used twice.
    assert_eq!(clerk.get("/admin/staff").await.status, 403);
    let mut again = app.browser("alpha.storefront.test");
    assert_eq!(again.get(&path).await.status, 400);

    let staff_page = owner.get("/admin/staff").await;
    assert!(
        staff_page
            .body
            .contains("data-member=\"clerk@alpha.example\"")
    );
    let clerk_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM platform.users WHERE email = 'clerk@alpha.example'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let permissions: Vec<String> =
        sqlx::query_scalar("SELECT permissions FROM platform.memberships WHERE user_id = $1")
            .bind(clerk_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(permissions, ["orders"]);

    let removed = owner
        .post_form(
            &format!("/admin/staff/members/{clerk_id}/remove"),
            &[("_csrf", &staff_page.csrf())],
        )
        .await;
    assert_eq!(removed.status, 303);
    assert_eq!(clerk.get("/admin").await.status, 303, "access ends at once");
}

#[tokio::test]
async fn revoked_and_expired_invitations_cannot_be_used() {
    let (app, smtp) = app_with_smtp().await;
    let mut owner = sign_up(&app, "alpha", "owner@alpha.example").await;
    invite(
        &mut owner,
        &[("email", "late@alpha.example"), ("role", "admin")],
    )
    .await;
    invite(
        &mut owner,
        &[("email", "gone@alpha.example"), ("role", "staff")],
    )
    .await;
    let mails = smtp.wait_for(3, WAIT).await;
    let link_of = |to: &str| {
        path_of(
            &mail_to(&mails, to)
                .find_link("http://alpha.storefront.test/admin/invitations/")
                .unwrap(),
            "alpha.storefront.test",
        )
    };

    sqlx::query("UPDATE platform.invitations SET expires_at = now() - interval '1 minute' WHERE email = 'late@alpha.example'")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut late = app.browser("alpha.storefront.test");
    let page = late.get(&link_of("late@alpha.example")).await;
    assert_eq!(page.status, 400);
    assert!(
        page.body
            .contains("has expired, was revoked, or was already used")
    );

    let id: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM platform.invitations WHERE email = 'gone@alpha.example'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let csrf = owner.get("/admin/staff").await.csrf();
    assert_eq!(
        owner
            .post_form(
                &format!("/admin/staff/invitations/{id}/revoke"),
                &[("_csrf", &csrf)]
            )
            .await
            .status,
        303
    );
    let mut gone = app.browser("alpha.storefront.test");
    assert_eq!(gone.get(&link_of("gone@alpha.example")).await.status, 400);
    // Another store's host does not know the invitation either.
    app.create_tenant("bravo", "Bravo").await;
    let mut elsewhere = app.browser("bravo.storefront.test");
    assert_eq!(
        elsewhere.get(&link_of("late@alpha.example")).await.status,
        400
    );
}

#[tokio::test]
async fn undeliverable_mail_is_retried_later_and_then_sent() {
    // A database without an app: no worker but the ones this test drives.
    let db = storefront_tests::TestDb::create().await;
    let pool = db.pool(2).await;
    platform::db::migrate_platform(&pool).await.unwrap();
    let mail = platform::mail::OutgoingMail {
        to: "someone@example.com".into(),
        from: "Storefront <no-reply@storefront.test>".into(),
        reply_to: None,
        subject: "Hello".into(),
        text: "Hi".into(),
        html: None,
    };
    let mut tx = tenant_store::begin_platform(&pool).await.unwrap();
    platform::mail_outbox::enqueue(&mut tx, &mail)
        .await
        .unwrap();
    drop(tx); // rolled back: nothing to send
    let mut conn = pool.acquire().await.unwrap();
    platform::mail_outbox::enqueue(&mut conn, &mail)
        .await
        .unwrap();
    drop(conn);

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = platform::mail::SmtpMailer::from_url(&format!("smtp://127.0.0.1:{closed}")).unwrap();
    assert_eq!(
        platform::mail_outbox::deliver_due(&pool, &down)
            .await
            .unwrap()
            .sent,
        0
    );
    let (count, attempts, error, later): (i64, i32, Option<String>, bool) = sqlx::query_as(
        "SELECT count(*) OVER (), attempts, last_error, available_at > now() FROM platform.mail_outbox",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(count, 1, "the rolled-back message was never queued");
    assert_eq!(attempts, 1);
    assert!(error.is_some());
    assert!(later, "retried after a backoff");

    // Not due yet: a round sends nothing.
    let smtp = SmtpReceiver::start().await;
    let up = platform::mail::SmtpMailer::from_url(&smtp.url()).unwrap();
    assert_eq!(
        platform::mail_outbox::deliver_due(&pool, &up)
            .await
            .unwrap()
            .sent,
        0
    );
    sqlx::query("UPDATE platform.mail_outbox SET available_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        platform::mail_outbox::deliver_due(&pool, &up)
            .await
            .unwrap()
            .sent,
        1
    );
    assert_eq!(smtp.wait_for(1, WAIT).await[0].subject(), "Hello");
    assert_eq!(
        platform::mail_outbox::deliver_due(&pool, &up)
            .await
            .unwrap()
            .sent,
        0,
        "sent once"
    );
    pool.close().await;
}

#[tokio::test]
async fn a_burst_of_mail_goes_out_at_once_not_a_batch_per_poll() {
    // A bulk action queues many messages in one transaction: one wake-up for all of them.
    let (app, smtp) = app_with_smtp().await;
    const BURST: usize = 400;
    let mut tx = tenant_store::begin_platform(&app.pool).await.unwrap();
    for i in 0..BURST {
        let mail = platform::mail::OutgoingMail {
            to: format!("shopper{i}@example.com"),
            from: "Storefront <no-reply@storefront.test>".into(),
            reply_to: None,
            subject: format!("Notice {i}"),
            text: "Hi".into(),
            html: None,
        };
        platform::mail_outbox::enqueue(&mut tx, &mail)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // A batch per five-second poll would need well over a minute for these.
    let received = smtp.wait_for(BURST, Duration::from_secs(30)).await;
    assert_eq!(received.len(), BURST);
    let unsent: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform.mail_outbox WHERE sent_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(unsent, 0);
}
