//! Store settings in the admin, through HTTP: saving, validation that keeps the input and
//! changes nothing, the currency rule, the logo, permissions and tenant isolation.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};
use reqwest::multipart::{Form, Part};
use storefront_tests::{Browser, Page, TestApp};
use tenant_store::catalog::{self, ProductInput, VariantInput};

/// Every field of the settings form, filled as a merchant would.
fn filled() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "Alpha Coffee Roasters"),
        ("contact_email", "hello@alpha.example"),
        ("currency", "EUR"),
        ("timezone", "Europe/Berlin"),
        ("low_stock_threshold", "3"),
        ("logo_alt", "Alpha's bean logo"),
        ("color_accent", "#AA3300"),
        ("color_text", "#111111"),
        ("color_background", "#fdfcf8"),
        ("phone", "+49 30 1234567"),
        ("address_line1", "Torstraße 1"),
        ("address_line2", "Hof 2"),
        ("city", "Berlin"),
        ("region", "Berlin"),
        ("postal_code", "10119"),
        ("country", "de"),
        ("seo_title", "Fresh roasted coffee from Berlin"),
        ("seo_description", "Single origin beans, roasted weekly."),
        (
            "refund_policy",
            "Returns within **30 days**.<script>alert(1)</script>",
        ),
        ("shipping_policy", "Ships in 2 days."),
        ("privacy_policy", "We keep your address to ship your order."),
        ("terms_of_service", "Be nice."),
        ("customer_accounts", "optional"),
    ]
}

async fn post_settings(b: &mut Browser<'_>, fields: &[(&str, &str)]) -> Page {
    let csrf = b.get("/admin/settings").await.csrf();
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post_form("/admin/settings", &all).await
}

fn with(
    fields: &[(&'static str, &'static str)],
    key: &str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    fields
        .iter()
        .map(|&(k, v)| if k == key { (k, value) } else { (k, v) })
        .collect()
}

#[tokio::test]
async fn the_owner_saves_settings_and_the_store_and_registry_show_them() {
    let app = TestApp::spawn().await;
    let (tenant, mut admin) = app.store_with_owner("alpha", "Alpha").await;

    let saved = post_settings(&mut admin, &filled()).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some("/admin/settings?saved=1"));

    let page = admin.get("/admin/settings?saved=1").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Settings saved."));
    assert!(page.body.contains(r#"value="Alpha Coffee Roasters""#));
    assert!(
        page.body.contains(r##"value="#aa3300""##),
        "colours are stored lower case"
    );
    assert!(
        page.body.contains(r#"value="DE""#),
        "country codes are stored upper case"
    );
    assert!(page.body.contains(r#"value="EUR""#));

    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let s = tenant_store::settings::load(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.city, "Berlin");
    assert_eq!(s.low_stock_threshold, 3);
    assert!(s.customer_accounts_enabled());
    assert!(s.refund_policy_html.contains("<strong>30 days</strong>"));
    assert!(
        !s.refund_policy_html.contains("<script"),
        "policies are sanitized: {}",
        s.refund_policy_html
    );

    // The registry (operator console, /login) knows the new name.
    let name: String = sqlx::query_scalar("SELECT name FROM platform.tenants WHERE id = $1")
        .bind(tenant.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Alpha Coffee Roasters");
    let audit = admin.get("/admin/audit").await;
    assert!(audit.body.contains("settings.update"));
}

#[tokio::test]
async fn invalid_settings_show_each_error_next_to_its_field_keep_the_input_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (tenant, mut admin) = app.store_with_owner("alpha", "Alpha").await;

    let mut bad = with(&filled(), "color_accent", "red");
    bad = with(&bad, "country", "Germany");
    bad = with(&bad, "name", "  ");
    bad = with(&bad, "contact_email", "not-an-email");
    bad = with(&bad, "low_stock_threshold", "-1");
    let page = post_settings(&mut admin, &bad).await;
    assert_eq!(page.status, 422, "{}", page.body);
    for field in [
        "color_accent",
        "country",
        "name",
        "contact_email",
        "low_stock_threshold",
    ] {
        assert!(
            page.body.contains(&format!(r#"data-field="{field}""#)),
            "an error shows next to {field}"
        );
    }
    assert!(page.body.contains("must be a colour like #2d6a4f"));
    // What the merchant typed is still there.
    assert!(page.body.contains(r#"value="Germany""#));
    assert!(page.body.contains(r#"value="+49 30 1234567""#));
    assert!(page.body.contains("Ships in 2 days."));

    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let s = tenant_store::settings::load(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.name, "Alpha", "nothing was saved");
    assert_eq!(s.phone, "");
    assert_eq!(s.currency, "USD");
}

#[tokio::test]
async fn currency_with_other_minor_units_is_refused_once_products_exist() {
    let app = TestApp::spawn().await;
    let (tenant, mut admin) = app.store_with_owner("alpha", "Alpha").await;
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    catalog::create_product(
        &mut tx,
        ProductInput {
            title: "Beans".into(),
            variants: vec![VariantInput {
                price_minor: 1200,
                ..VariantInput::default()
            }],
            ..ProductInput::default()
        },
        "test",
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // JPY has no minor unit: 1200 cents would become 1200 yen.
    let page = post_settings(&mut admin, &with(&filled(), "currency", "JPY")).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains(r#"data-field="currency""#));
    assert!(page.body.contains("while products exist"));

    // EUR has cents like USD: allowed.
    let page = post_settings(&mut admin, &filled()).await;
    assert_eq!(page.status, 303, "{}", page.body);
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload_logo(app: &TestApp, b: &mut Browser<'_>, bytes: Vec<u8>, name: &str) -> Page {
    let csrf = b.get("/admin/settings").await.csrf();
    let form = Form::new().text("alt", "Alpha logo").part(
        "image",
        Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("image/png")
            .unwrap(),
    );
    let req = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!(
            "http://{}/admin/settings/logo?_csrf={csrf}",
            app.addr
        ))
        .multipart(form);
    b.send(req).await
}

#[tokio::test]
async fn a_logo_is_uploaded_served_replaced_and_removed() {
    let app = TestApp::spawn().await;
    let (_, mut admin) = app.store_with_owner("alpha", "Alpha").await;

    let refused = upload_logo(&app, &mut admin, b"just text".to_vec(), "logo.png").await;
    assert_eq!(
        refused.status, 422,
        "a text file is not an image: {}",
        refused.body
    );

    let done = upload_logo(&app, &mut admin, png(600, 200), "logo.png").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/admin/settings"));
    let page = admin.get("/admin/settings").await;
    let start = page.body.find("/media/").expect("the logo is shown");
    let url: String = page.body[start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let (status, _) = app.get_text(&TestApp::store_host("alpha"), &url).await;
    assert_eq!(status, 200, "the logo is served at {url}");
    assert!(page.body.contains(r#"alt="Alpha logo""#));

    let csrf = page.csrf();
    let removed = admin
        .post_form("/admin/settings/logo/delete", &[("_csrf", &csrf)])
        .await;
    assert_eq!(removed.status, 303);
    let page = admin.get("/admin/settings").await;
    assert!(page.body.contains("No logo"));
    let (status, _) = app.get_text(&TestApp::store_host("alpha"), &url).await;
    assert_eq!(status, 404, "the unused logo files are gone");
}

#[tokio::test]
async fn settings_need_the_settings_permission_and_stay_in_their_store() {
    let app = TestApp::spawn().await;
    let (alpha, _) = app.store_with_owner("alpha", "Alpha").await;
    let (_, mut bravo) = app.store_with_owner("bravo", "Bravo").await;

    let mut clerk = app
        .staff_member("alpha", "clerk@alpha.example.com", &["products"])
        .await;
    assert_eq!(clerk.get("/admin/settings").await.status, 403);
    let csrf = clerk.get("/admin").await.csrf();
    let mut fields = vec![("_csrf", csrf.as_str())];
    fields.extend(filled());
    assert_eq!(
        clerk.post_form("/admin/settings", &fields).await.status,
        403
    );

    // Bravo's owner changes Bravo only.
    assert_eq!(post_settings(&mut bravo, &filled()).await.status, 303);
    let mut tx = tenant_store::begin(&app.pool, &alpha.schema).await.unwrap();
    let s = tenant_store::settings::load(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.name, "Alpha");
    assert_eq!(s.city, "");

    // Bravo's session cookie means nothing on Alpha's host.
    let mut intruder = app.browser(&TestApp::store_host("alpha"));
    intruder.cookie = bravo.cookie.clone();
    let page = intruder.get("/admin/settings").await;
    assert_eq!(page.status, 303, "sent to sign in");
    assert!(page.location.unwrap().starts_with("/admin/login"));
}
