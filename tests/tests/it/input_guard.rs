//! The input guard: text PostgreSQL cannot store (NUL, lone surrogates escaped in JSON) is
//! refused at every edge with a 4xx naming the field, before anything reaches SQL; everything
//! else (right-to-left marks, combining accents, emoji, control characters) passes untouched.

use platform::tenancy::Tenant;
use serde_json::{Value, json};
use storefront_tests::{Browser, Page, TestApp};

use crate::fixtures::{self, Item};

/// Ordinary text that must survive every edge byte for byte: right-to-left marks and an
/// override, Hebrew, a combining accent, a zero-width joiner sequence, an emoji.
const ORDINARY: &str = "\u{200f}שלום\u{202e} cafe\u{301} 👩\u{200d}💻 ✓";

/// A store with one product on sale, its owner signed in, and an API token with every
/// scope.
struct Store<'a> {
    tenant: Tenant,
    host: String,
    item: Item,
    owner: Browser<'a>,
    token: String,
}

async fn store<'a>(app: &'a TestApp, sub: &str) -> Store<'a> {
    let (tenant, owner) = app.store_with_owner(sub, "Guarded Goods").await;
    let item = fixtures::product(app, &tenant, "Linen Apron", 2500, 10).await;
    let (result, out) = app
        .cli(
            &[
                "token",
                "create",
                "--tenant",
                sub,
                "--scopes",
                &platform::api_tokens::Scope::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ],
            "",
        )
        .await;
    result.expect("token create");
    Store {
        tenant,
        host: TestApp::store_host(sub),
        item,
        owner,
        token: out.lines().last().unwrap().to_owned(),
    }
}

/// A reply from the Admin API.
struct Reply {
    status: u16,
    json: Value,
}

async fn api(
    app: &TestApp,
    s: &Store<'_>,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> Reply {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{}{path}", app.addr))
        .header(reqwest::header::HOST, &s.host)
        .bearer_auth(&s.token);
    if let Some(body) = body {
        req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply { status, json }
}

/// Whether an HTML error page names `field` (the error page lists `<strong>field</strong>:
/// message`; editors mark the field with its message).
fn names_field(page: &Page, field: &str) -> bool {
    page.body.contains(&format!("<strong>{field}</strong>"))
}

/// How many products have `title` (PostgreSQL cannot even be asked about a NUL: such a
/// title counts the products whose title has its two halves around a NUL's place).
async fn products_named(app: &TestApp, t: &Tenant, title: &str) -> i64 {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let pattern = title
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
        .replace('\0', "_");
    let n = sqlx::query_scalar("SELECT count(*) FROM products WHERE title LIKE $1")
        .bind(pattern)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

#[tokio::test]
async fn a_nul_in_a_store_path_is_refused_naming_the_path() {
    let app = TestApp::spawn().await;
    let s = store(&app, "nul-paths").await;
    let mut shopper = app.browser(&s.host);
    for path in [
        "/products/%00",
        "/products/apron%00",
        "/collections/%00",
        "/collections/all/products/%00",
        "/pages/%00",
        "/blogs/news/%00",
        "/blogs/%00",
        "/policies/%00",
        "/orders/%00",
        "/account/addresses/%00",
        "/admin/products/%00",
        "/admin/session/%00",
        "/admin/api/v1/products/%00",
    ] {
        let page = shopper.get(path).await;
        assert_eq!(page.status, 422, "{path}: {}", page.body);
        if path.starts_with("/admin/api/") {
            let json: Value = serde_json::from_str(&page.body).unwrap();
            assert_eq!(json["error"]["code"], "validation_failed", "{path}");
            assert!(json["error"]["fields"]["path"].is_array(), "{path}: {json}");
        } else {
            assert!(names_field(&page, "path"), "{path}: {}", page.body);
        }
    }
    let mut platform = app.browser(storefront_tests::PLATFORM_DOMAIN);
    let page = platform.get("/account/verify/%00").await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "path"));
}

#[tokio::test]
async fn a_nul_in_a_query_string_is_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let mut s = store(&app, "nul-query").await;
    let mut shopper = app.browser(&s.host);
    for (path, field) in [
        ("/search?q=%00", "q"),
        ("/search?q=tea&type=%00", "type"),
        ("/search/suggest.json?q=a%00", "q"),
        ("/collections/all?sort_by=%00", "sort_by"),
        ("/collections/all?after=%00", "after"),
        (
            &format!("/products/{}?variant=%00", s.item.handle) as &str,
            "variant",
        ),
        ("/?x%00y=1", "query"),
    ] {
        let page = shopper.get(path).await;
        assert_eq!(page.status, 422, "{path}: {}", page.body);
        assert!(names_field(&page, field), "{path}: {}", page.body);
    }
    // Customer search in the admin.
    for path in [
        "/admin/customers?q=%00",
        "/admin/orders?q=%00",
        "/admin/products?q=%00",
    ] {
        let page = s.owner.get(path).await;
        assert_eq!(page.status, 422, "{path}: {}", page.body);
        assert!(names_field(&page, "q"), "{path}: {}", page.body);
    }
    // And in the Admin API.
    let reply = api(
        &app,
        &s,
        reqwest::Method::GET,
        "/admin/api/v1/customers/search.json?query=%00",
        None,
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.json);
    assert_eq!(reply.json["error"]["code"], "validation_failed");
    assert!(
        reply.json["error"]["fields"]["query"].is_array(),
        "{}",
        reply.json
    );
    assert!(reply.json["errors"]["query"].is_array(), "{}", reply.json);
}

#[tokio::test]
async fn a_nul_in_a_shopper_form_is_refused_naming_the_field_and_nothing_is_saved() {
    let app = TestApp::spawn().await;
    let s = store(&app, "nul-forms").await;
    let mut shopper = app.browser(&s.host);
    let variant = s.item.variant.to_string();

    let page = shopper
        .post_form(
            "/cart/add",
            &[("product", "apron\0"), ("id", &variant), ("quantity", "1")],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "product"), "{}", page.body);
    let page = shopper
        .post_form(
            "/cart/add",
            &[
                ("product", &s.item.handle),
                ("id", &variant),
                ("quantity", "1\0"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "quantity"), "{}", page.body);

    let page = shopper
        .post_form(
            "/contact",
            &[
                ("name", "Ada\0"),
                ("email", "ada@example.com"),
                ("body", "Hello"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "name"), "{}", page.body);

    // Checkout: a real cart, then a NUL in the address.
    let added = shopper
        .post_form(
            "/cart/add",
            &[
                ("product", &s.item.handle),
                ("id", &variant),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let checkout = shopper.get("/checkout").await;
    let csrf = checkout.csrf();
    let mut fields = crate::checkout::address_fields(&csrf, "k-nul", "test");
    fields.retain(|(f, _)| *f != "address1");
    fields.push(("address1", "Unter den Linden\u{0} 1"));
    let page = shopper.post_form("/checkout", &fields).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "address1"), "{}", page.body);
    // A field name can carry the NUL too.
    let page = shopper
        .post_form(
            "/checkout",
            &[("_csrf", csrf.as_str()), ("email\0", "ada@example.com")],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);

    // Registering a customer account.
    let page = shopper
        .post_form(
            "/account/register",
            &[
                ("_csrf", &csrf),
                ("email", "ada\0@example.com"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "email"), "{}", page.body);

    let mut tx = tenant_store::begin(&app.pool, &s.tenant.schema)
        .await
        .unwrap();
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let enquiries: i64 = sqlx::query_scalar("SELECT count(*) FROM enquiries")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((orders, enquiries), (0, 0));
}

#[tokio::test]
async fn a_nul_in_an_admin_form_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let mut s = store(&app, "nul-admin").await;
    let csrf = s.owner.get("/admin/products/new").await.csrf();
    let page = s
        .owner
        .post_form(
            "/admin/products",
            &[
                ("_csrf", &csrf),
                ("title", "Tea\0Pot"),
                ("status", "active"),
                ("price", "10.00"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "title"), "{}", page.body);
    let page = s
        .owner
        .post_form(
            "/admin/search/synonyms",
            &[("_csrf", &csrf), ("terms", "tee, \0shirt")],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "terms"), "{}", page.body);
    // The admin sign-in form, before any session.
    let mut stranger = app.browser(&s.host);
    let csrf = stranger.get("/admin/login").await.csrf();
    let page = stranger
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &csrf),
                ("email", "owner@nul-admin.example.com\0"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(names_field(&page, "email"), "{}", page.body);
    assert_eq!(products_named(&app, &s.tenant, "Tea\0Pot").await, 0);
}

#[tokio::test]
async fn a_nul_in_admin_api_json_is_a_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let s = store(&app, "nul-api").await;
    let product = json!({"product": {"title": "Tea\u{0}Pot", "variants": [{"price": "1.00"}]}});
    let reply = api(
        &app,
        &s,
        reqwest::Method::POST,
        "/admin/api/v1/products.json",
        Some(product.to_string()),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.json);
    assert_eq!(reply.json["error"]["code"], "validation_failed");
    assert!(
        reply.json["error"]["fields"]["title"].is_array(),
        "{}",
        reply.json
    );

    // Deeper down, and in a key.
    let product =
        json!({"product": {"title": "Tea", "variants": [{"price": "1.00", "sku": "\u{0}"}]}});
    let reply = api(
        &app,
        &s,
        reqwest::Method::POST,
        "/admin/api/v1/products.json",
        Some(product.to_string()),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.json);
    assert!(
        reply.json["error"]["fields"]["variants[0].sku"].is_array(),
        "{}",
        reply.json
    );
    let page = json!({"page": {"title": "About", "body_html": "x", "metafields\u{0}": 1}});
    let reply = api(
        &app,
        &s,
        reqwest::Method::POST,
        "/admin/api/v1/pages.json",
        Some(page.to_string()),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.json);

    // Every string the API stores: pages, articles, inventory.
    let page = json!({"page": {"title": "About", "body_html": "<p>a\u{0}</p>"}});
    let reply = api(
        &app,
        &s,
        reqwest::Method::POST,
        "/admin/api/v1/pages.json",
        Some(page.to_string()),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.json);
    assert!(
        reply.json["error"]["fields"]["body_html"].is_array(),
        "{}",
        reply.json
    );
    assert_eq!(products_named(&app, &s.tenant, "Tea\0Pot").await, 0);
}

#[tokio::test]
async fn a_lone_surrogate_escaped_in_json_is_a_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let s = store(&app, "surrogates").await;
    for (raw, field) in [
        (r#"{"product": {"title": "\ud800"}}"#, "title"),
        (r#"{"product": {"title": "tea \udc00 pot"}}"#, "title"),
        (
            r#"{"product": {"title": "Tea", "variants": [{"sku": "\udbff"}]}}"#,
            "variants[0].sku",
        ),
    ] {
        let reply = api(
            &app,
            &s,
            reqwest::Method::POST,
            "/admin/api/v1/products.json",
            Some(raw.to_owned()),
        )
        .await;
        assert_eq!(reply.status, 422, "{raw}: {}", reply.json);
        assert!(
            reply.json["error"]["fields"][field].is_array(),
            "{raw}: {}",
            reply.json
        );
    }
    // A surrogate pair is an ordinary character.
    let reply = api(
        &app,
        &s,
        reqwest::Method::POST,
        "/admin/api/v1/products.json",
        Some(r#"{"product": {"title": "Tea \ud83c\udf75"}}"#.to_owned()),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.json);
    assert_eq!(reply.json["product"]["title"], "Tea 🍵");
}

#[tokio::test]
async fn control_characters_other_than_nul_are_kept_as_sent() {
    let app = TestApp::spawn().await;
    let s = store(&app, "controls").await;
    let mut shopper = app.browser(&s.host);
    let name = "Ada \u{1b}[31m\u{7}\u{7f} Lovelace";
    let body = "Line one\r\n\tLine\u{b}\u{c} two";
    let page = shopper
        .post_form(
            "/contact",
            &[("name", name), ("email", "ada@example.com"), ("body", body)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let mut tx = tenant_store::begin(&app.pool, &s.tenant.schema)
        .await
        .unwrap();
    let (stored_name, stored_body): (String, String) =
        sqlx::query_as("SELECT name, body FROM enquiries")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((stored_name.as_str(), stored_body.as_str()), (name, body));
}

#[tokio::test]
async fn ordinary_unicode_passes_every_edge_untouched() {
    let app = TestApp::spawn().await;
    let mut s = store(&app, "unicode").await;

    // The Admin API.
    let reply = api(
        &app,
        &s,
        reqwest::Method::POST,
        "/admin/api/v1/products.json",
        Some(json!({"product": {"title": ORDINARY, "vendor": ORDINARY}}).to_string()),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.json);
    assert_eq!(reply.json["product"]["title"], ORDINARY);
    assert_eq!(products_named(&app, &s.tenant, ORDINARY).await, 1);

    // An admin form.
    let csrf = s.owner.get("/admin/pages/new").await.csrf();
    let page = s
        .owner
        .post_form(
            "/admin/pages",
            &[
                ("_csrf", &csrf),
                ("title", ORDINARY),
                ("handle", "unicode"),
                ("body_format", "markdown"),
                ("body", ORDINARY),
                ("published", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let mut tx = tenant_store::begin(&app.pool, &s.tenant.schema)
        .await
        .unwrap();
    let title: String = sqlx::query_scalar("SELECT title FROM pages WHERE handle = 'unicode'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(title, ORDINARY);

    // A query string and a path.
    let mut shopper = app.browser(&s.host);
    let q: String = form_urlencoded(ORDINARY);
    let page = shopper.get(&format!("/search?q={q}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = shopper.get(&format!("/products/{q}")).await;
    assert_eq!(page.status, 404, "{}", page.body);
}

fn form_urlencoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_nul_in_an_upload_text_field_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let mut s = store(&app, "nul-uploads").await;
    let csrf = s.owner.get("/admin").await.csrf();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut tx = tenant_store::begin(&app.pool, &s.tenant.schema)
        .await
        .unwrap();
    let product: uuid::Uuid = sqlx::query_scalar("SELECT id FROM products LIMIT 1")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // The image's alt text.
    let form = reqwest::multipart::Form::new().text("alt", "A\0B").part(
        "image",
        reqwest::multipart::Part::bytes(vec![0u8; 16])
            .file_name("a.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let req = client
        .post(format!(
            "http://{}/admin/products/{product}/images?_csrf={csrf}",
            app.addr
        ))
        .multipart(form);
    let page = s.owner.send(req).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("alt") && page.body.contains("U+0000"),
        "{}",
        page.body
    );

    // The CSV file's name (a NUL cannot even be in a part's header: a malformed upload).
    let boundary = "----guard";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\0.csv\"\r\n\
         Content-Type: text/csv\r\n\r\nHandle,Title\r\ntea,Tea\r\n--{boundary}--\r\n"
    );
    let req = client
        .post(format!(
            "http://{}/admin/products/import?_csrf={csrf}",
            app.addr
        ))
        .header(
            reqwest::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let page = s.owner.send(req).await;
    assert!(
        (400..500).contains(&page.status),
        "{}: {}",
        page.status,
        page.body
    );
    let mut tx = tenant_store::begin(&app.pool, &s.tenant.schema)
        .await
        .unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM import_jobs")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(jobs, 0);
}

#[tokio::test]
async fn a_nul_in_a_csv_cell_is_an_error_by_line_and_column() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("nul-csv", "Nul CSV").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("products.csv");
    std::fs::write(
        &path,
        "Handle,Title,Vendor,Variant SKU,Variant Price,Option1 Name,Option1 Value\n\
         good-tea,Good Tea,Acme,GT-1,5.00,,\n\
         bad-tea,Bad\0Tea,Acme,BT-1,5.00,,\n\
         bad-mug,Bad Mug,Acme,BM-\u{0}1,5.00,,\n\
         bad-pot,Bad Pot,Acme,BP-1,5.00,Size\0,Large\n",
    )
    .unwrap();
    let (result, out) = app
        .cli(
            &[
                "import",
                "products",
                "--tenant",
                "nul-csv",
                path.to_str().unwrap(),
            ],
            "",
        )
        .await;
    assert!(result.is_err(), "three products fail: {out}");
    assert!(out.contains("1 created"), "{out}");
    assert!(out.contains("line 3, Title: "), "{out}");
    assert!(out.contains("line 4, Variant SKU: "), "{out}");
    assert!(out.contains("line 5, Option1 Name: "), "{out}");
    assert!(out.contains("U+0000"), "{out}");
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let handles: Vec<String> = sqlx::query_scalar("SELECT handle FROM products ORDER BY handle")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(handles, ["good-tea"]);
}
