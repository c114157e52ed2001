//! Shopify product CSV: import from the command line and the admin, idempotent re-import,
//! export that imports back to the same catalog, permissions and tenant isolation.

use std::time::{Duration, Instant};

use platform::catalog_csv::Report;
use platform::catalog_csv::images::ImageFetcher;
use platform::catalog_csv::import::Silent;
use platform::tenancy::Tenant;
use storefront_tests::{Browser, Page, TestApp};
use tenant_store::catalog::{self, Found, Product, Status, inventory};

const PASSWORD: &str = "owner password 1";
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/shopify_products.csv");
/// The four products of the fixture that import; `broken-hoodie` has a bad price.
const GOOD: [&str; 4] = ["classic-tee", "enamel-mug", "gift-wrap", "linen-apron"];
const BAD_PRICE: &str = "line 11, Variant Price: “abc” is not a price";

async fn import(app: &TestApp, sub: &str, path: &str) -> (anyhow::Result<()>, String) {
    app.cli(&["import", "products", "--tenant", sub, path], "")
        .await
}

async fn product(app: &TestApp, t: &Tenant, handle: &str) -> Option<Product> {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let found = catalog::find_by_handle(&mut tx, handle).await;
    tx.commit().await.unwrap();
    match found {
        Ok(Found::Product(p)) => Some(*p),
        _ => None,
    }
}

async fn count(app: &TestApp, t: &Tenant, sql: &str) -> i64 {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// What a merchant would call "the same catalog": every field but ids and timestamps.
fn normalised(p: &Product) -> serde_json::Value {
    let variants: Vec<_> = p
        .variants
        .iter()
        .map(|v| {
            serde_json::json!([
                v.option1,
                v.option2,
                v.option3,
                v.sku,
                v.price_minor,
                v.compare_at_minor,
                v.weight_grams,
                v.track_inventory,
                v.inventory_quantity
            ])
        })
        .collect();
    serde_json::json!({
        "handle": p.handle, "title": p.title, "body_html": p.body_html, "status": p.status,
        "vendor": p.vendor, "type": p.product_type, "tags": p.tags, "seo_title": p.seo_title,
        "seo_description": p.seo_description, "options": p.options, "variants": variants,
    })
}

async fn catalog_of(app: &TestApp, t: &Tenant) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for handle in GOOD {
        out.push(normalised(&product(app, t, handle).await.expect(handle)));
    }
    out
}

#[tokio::test]
async fn a_shopify_export_imports_with_its_tricky_rows_and_the_broken_product_is_reported() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;

    let (result, out) = import(&app, "alpha", FIXTURE).await;
    let err = result.expect_err("a product failed: non-zero exit");
    assert!(
        format!("{err:#}").contains("1 product(s) were not imported"),
        "{err:#}"
    );
    assert!(
        out.contains("4 created, 0 updated, 0 unchanged, 1 failed (10 rows)"),
        "{out}"
    );
    assert!(out.contains(&format!("  {BAD_PRICE}\n")), "{out}");
    assert!(
        out.contains(
            // No internet here: the URL is tried and the product imported without it.
            "line 15, Image Src: “https://cdn.shopify.com/s/files/1/apron-2.jpg” not imported: could not connect to the server"
        ),
        "{out}"
    );
    assert!(
        out.contains("10/10 rows (100%)"),
        "plain progress lines: {out}"
    );

    // Quoted commas, a multi-line quoted description, three variants on following rows.
    let tee = product(&app, &alpha, "classic-tee").await.unwrap();
    assert_eq!(tee.title, "Classic Tee, Organic Cotton");
    assert_eq!(tee.vendor, "Acme, Inc.");
    assert_eq!(
        tee.body_source,
        "<p>Our softest tee.</p>\n<ul>\n<li>100% organic cotton</li>\n<li>Fits \"true to size\"</li>\n</ul>"
    );
    assert_eq!(tee.status, Status::Active);
    assert_eq!(tee.tags, ["summer", "cotton"]);
    assert_eq!(tee.options, ["Size", "Color"]);
    assert_eq!(tee.seo_description, "The softest tee, in organic cotton.");
    let variants: Vec<_> = tee
        .variants
        .iter()
        .map(|v| {
            (
                v.title(),
                v.sku.as_str(),
                v.price_minor,
                v.compare_at_minor,
                v.weight_grams,
                v.track_inventory,
                v.inventory_quantity,
            )
        })
        .collect();
    assert_eq!(
        variants,
        [
            (
                "S / Black".into(),
                "TEE-S-BLK",
                2500,
                Some(3000),
                200,
                true,
                10
            ),
            (
                "M / Black".into(),
                "TEE-M-BLK",
                2500,
                Some(3000),
                200,
                true,
                5
            ),
            ("L / Black".into(), "TEE-L-BLK", 2750, None, 210, true, 0),
        ]
    );
    let history = inventory::history(
        &mut tenant_store::begin(&app.pool, &alpha.schema).await.unwrap(),
        tee.variants[0].id,
        10,
    )
    .await
    .unwrap();
    assert_eq!((history.len(), history[0].actor.as_str()), (1, "import"));

    // "Title / Default Title" is a product without options; Status wins over Published.
    let mug = product(&app, &alpha, "enamel-mug").await.unwrap();
    assert!(mug.options.is_empty());
    assert_eq!(mug.status, Status::Draft);
    assert_eq!(mug.variants.len(), 1);
    assert_eq!(mug.variants[0].title(), "Default Title");
    assert_eq!(mug.variants[0].price_minor, 1250);
    assert!(!mug.variants[0].track_inventory);
    // No option columns at all, Published FALSE.
    let wrap = product(&app, &alpha, "gift-wrap").await.unwrap();
    assert_eq!((wrap.status, wrap.options.len()), (Status::Draft, 0));
    assert_eq!(wrap.tags, ["gift", "wrap"]);
    // An image-only row adds no variant.
    let apron = product(&app, &alpha, "linen-apron").await.unwrap();
    assert_eq!(apron.status, Status::Archived);
    assert_eq!(apron.variants.len(), 2);
    assert_eq!(apron.variants[1].sku, "");
    assert_eq!(apron.seo_title, "Linen Apron | Flax & Co");

    // The product with the bad price is not there, not even its good first row.
    assert!(product(&app, &alpha, "broken-hoodie").await.is_none());
    assert_eq!(
        count(
            &app,
            &alpha,
            "SELECT count(*) FROM variants WHERE sku LIKE 'HOOD-%'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            &alpha,
            "SELECT count(*) FROM audit_log WHERE action = 'product.import' AND actor = 'import'"
        )
        .await,
        4
    );
}

#[tokio::test]
async fn the_plans_product_limit_stops_new_products_with_an_error_by_row() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    sqlx::query("UPDATE platform.plans SET product_limit = 2 WHERE code = $1")
        .bind(&alpha.plan_code)
        .execute(&app.pool)
        .await
        .unwrap();
    let (result, out) = import(&app, "alpha", FIXTURE).await;
    assert!(result.is_err());
    assert!(
        out.contains("2 created, 0 updated, 0 unchanged, 3 failed"),
        "{out}"
    );
    assert!(
        out.contains("  line 12, Handle: not created: the store's plan allows at most 2 products"),
        "{out}"
    );
    assert!(out.contains("  line 13, Handle: not created:"), "{out}");
    assert_eq!(
        count(&app, &alpha, "SELECT count(*) FROM products").await,
        2
    );
    // Products already in the store are still updated at the limit.
    let (_, out) = import(&app, "alpha", FIXTURE).await;
    assert!(
        out.contains("0 created, 0 updated, 2 unchanged, 3 failed"),
        "{out}"
    );
}

#[tokio::test]
async fn importing_again_changes_nothing_and_a_changed_file_changes_only_what_changed() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let _ = import(&app, "alpha", FIXTURE).await;
    let before = catalog_of(&app, &alpha).await;
    let ids = |p: &Product| {
        (
            p.id,
            p.variants.iter().map(|v| v.id).collect::<Vec<_>>(),
            p.updated_at,
        )
    };
    let tee = product(&app, &alpha, "classic-tee").await.unwrap();
    let apron = product(&app, &alpha, "linen-apron").await.unwrap();
    let adjustments = "SELECT count(*) FROM inventory_adjustments";
    let outbox = "SELECT count(*) FROM outbox";
    let (adjusted, events) = (
        count(&app, &alpha, adjustments).await,
        count(&app, &alpha, outbox).await,
    );

    let (_, out) = import(&app, "alpha", FIXTURE).await;
    assert!(
        out.contains("0 created, 0 updated, 4 unchanged, 1 failed"),
        "{out}"
    );
    assert_eq!(catalog_of(&app, &alpha).await, before);
    assert_eq!(
        ids(&product(&app, &alpha, "classic-tee").await.unwrap()),
        ids(&tee)
    );
    assert_eq!(count(&app, &alpha, adjustments).await, adjusted);
    assert_eq!(count(&app, &alpha, outbox).await, events, "no events");
    assert_eq!(
        count(&app, &alpha, "SELECT count(*) FROM products").await,
        4
    );

    // A stock count, a title and a SKU-less variant's price change.
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let changed = fixture
        .replace("TEE-M-BLK,200,shopify,5,", "TEE-M-BLK,200,shopify,7,")
        .replace("enamel-mug,Enamel Mug,", "enamel-mug,Enamel Camp Mug,")
        .replace(
            "Charcoal,,,,,,180,shopify,2,deny,manual,34.00",
            "Charcoal,,,,,,180,shopify,2,deny,manual,36.00",
        );
    assert_ne!(changed, fixture);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changed.csv");
    std::fs::write(&path, changed).unwrap();
    let (_, out) = import(&app, "alpha", path.to_str().unwrap()).await;
    assert!(
        out.contains("0 created, 3 updated, 1 unchanged, 1 failed"),
        "{out}"
    );

    let tee_after = product(&app, &alpha, "classic-tee").await.unwrap();
    assert_eq!(ids(&tee_after).1, ids(&tee).1, "variants kept their ids");
    assert_eq!(tee_after.variants[1].inventory_quantity, 7);
    let mut tx = tenant_store::begin(&app.pool, &alpha.schema).await.unwrap();
    let history = inventory::history(&mut tx, tee.variants[1].id, 10)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[0].delta, history[0].reason.as_str()),
        (2, "CSV import")
    );
    assert_eq!(
        count(&app, &alpha, adjustments).await,
        adjusted + 1,
        "one stock change, one adjustment"
    );
    let apron_after = product(&app, &alpha, "linen-apron").await.unwrap();
    assert_eq!(
        ids(&apron_after).1,
        ids(&apron).1,
        "a variant without SKU is matched by its options"
    );
    assert_eq!(apron_after.variants[1].price_minor, 3600);
    assert_eq!(
        product(&app, &alpha, "enamel-mug").await.unwrap().title,
        "Enamel Camp Mug"
    );
}

#[tokio::test]
async fn an_export_imports_into_another_store_as_the_same_catalog() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let beta = app.create_tenant("beta", "Beta").await;
    let _ = import(&app, "alpha", FIXTURE).await;

    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("alpha.csv");
    let exported = exported.to_str().unwrap();
    let (result, out) = app
        .cli(&["export", "products", "--tenant", "alpha", exported], "")
        .await;
    result.unwrap();
    assert!(out.contains("exported 4 product(s) of alpha"), "{out}");
    let text = std::fs::read_to_string(exported).unwrap();
    assert!(text.starts_with("Handle,Title,Body (HTML),Vendor,"));

    let (result, out) = import(&app, "beta", exported).await;
    result.unwrap_or_else(|e| panic!("{e:#}\n{out}"));
    assert!(
        out.contains("4 created, 0 updated, 0 unchanged, 0 failed"),
        "{out}"
    );
    assert_eq!(
        catalog_of(&app, &beta).await,
        catalog_of(&app, &alpha).await
    );

    // Exported again, the two stores write the same file; imported back, nothing changes.
    let (result, again) = app
        .cli(&["export", "products", "--tenant", "beta", "-"], "")
        .await;
    result.unwrap();
    assert_eq!(again, text);
    let (result, out) = import(&app, "alpha", exported).await;
    result.unwrap();
    assert!(
        out.contains("0 created, 0 updated, 4 unchanged, 0 failed"),
        "{out}"
    );
}

/// A store created with the CLI and its owner signed in to the admin.
async fn owner<'a>(app: &'a TestApp, sub: &str) -> Browser<'a> {
    let email = format!("owner@{sub}.example");
    let (result, _) = app
        .cli(
            &[
                "tenant",
                "create",
                "--subdomain",
                sub,
                "--name",
                "Store",
                "--owner-email",
                &email,
                "--owner-password",
                PASSWORD,
            ],
            "",
        )
        .await;
    result.unwrap();
    sign_in(app, sub, &email).await
}

async fn sign_in<'a>(app: &'a TestApp, sub: &str, email: &str) -> Browser<'a> {
    let mut b = app.browser(&format!("{sub}.storefront.test"));
    let csrf = b.get("/admin/login").await.csrf();
    let page = b
        .post_form(
            "/admin/login",
            &[("_csrf", &csrf), ("email", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    b
}

/// An HTTP client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts `csv` as the import form does: multipart, the CSRF token in the query string.
async fn upload(app: &TestApp, b: &mut Browser<'_>, name: &str, csv: &[u8]) -> Page {
    let csrf = b.get("/admin/products/import").await.csrf();
    let boundary = "----storefront-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = client()
        .post(format!(
            "http://{}/admin/products/import?_csrf={csrf}",
            app.addr
        ))
        .header(
            reqwest::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    b.send(req).await
}

/// Follows an import's page until it is no longer running.
async fn finished(b: &mut Browser<'_>, path: &str) -> Page {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        if !page.body.contains("data-status=\"running\"") {
            return page;
        }
        assert!(
            page.body
                .contains("<meta http-equiv=\"refresh\" content=\"1\">"),
            "a running import's page reloads itself"
        );
        assert!(Instant::now() < deadline, "the import did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn job_errors(app: &TestApp, t: &Tenant) -> Vec<String> {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let errors: serde_json::Value = sqlx::query_scalar("SELECT errors FROM import_jobs")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "line {}, {}: {}",
                e["line"],
                e["column"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn an_upload_in_the_admin_runs_in_the_background_to_the_same_report() {
    let app = TestApp::spawn().await;
    let mut alpha = owner(&app, "alpha").await;
    let form = alpha.get("/admin/products/import").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("action=\"/admin/products/import?_csrf="));
    assert!(form.body.contains("enctype=\"multipart/form-data\""));

    let csv = std::fs::read(FIXTURE).unwrap();
    let started = upload(&app, &mut alpha, "shopify_products.csv", &csv).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let job = started.location.unwrap();
    assert!(job.starts_with("/admin/products/import/"), "{job}");

    let page = finished(&mut alpha, &job).await;
    assert!(page.body.contains("data-status=\"done\""), "{}", page.body);
    for (what, n) in [
        ("created", 4),
        ("updated", 0),
        ("unchanged", 0),
        ("failed", 1),
    ] {
        assert!(
            page.body.contains(&format!("data-count=\"{what}\">{n}<")),
            "{what}: {}",
            page.body
        );
    }
    assert!(page.body.contains("Variant Price: “abc” is not a price"));
    assert!(page.body.contains("data-note-line=\"15\""));

    // The same file through the command line gives the same report.
    let alpha_tenant = platform::tenancy::find_by_subdomain(&app.pool, "alpha")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job_errors(&app, &alpha_tenant).await, [BAD_PRICE]);
    let cli_store = app.create_tenant("cli", "CLI").await;
    let (_, out) = import(&app, "cli", FIXTURE).await;
    assert!(out.contains("4 created, 0 updated, 0 unchanged, 1 failed"));
    assert_eq!(
        catalog_of(&app, &alpha_tenant).await,
        catalog_of(&app, &cli_store).await
    );
    assert_eq!(
        count(
            &app,
            &alpha_tenant,
            "SELECT count(*) FROM audit_log WHERE actor = 'owner@alpha.example' AND action = 'product.import'"
        )
        .await,
        4
    );

    // The import page lists it; a second upload of the same file changes nothing.
    assert!(
        alpha
            .get("/admin/products/import")
            .await
            .body
            .contains("data-job=")
    );
    let again = upload(&app, &mut alpha, "again.csv", &csv).await;
    let page = finished(&mut alpha, &again.location.unwrap()).await;
    assert!(
        page.body.contains("data-count=\"unchanged\">4<"),
        "{}",
        page.body
    );

    // The export downloads as an attachment and is what the command line writes.
    let res = client()
        .get(format!("http://{}/admin/products/export.csv", app.addr))
        .header(reqwest::header::HOST, "alpha.storefront.test")
        .header(
            reqwest::header::COOKIE,
            format!(
                "{}={}",
                platform::sessions::COOKIE,
                alpha.cookie.as_deref().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let disposition = res.headers()[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"products-alpha-"),
        "{disposition}"
    );
    assert!(
        res.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let downloaded = res.text().await.unwrap();
    let (_, printed) = app
        .cli(&["export", "products", "--tenant", "alpha"], "")
        .await;
    assert_eq!(downloaded, printed);
}

#[tokio::test]
async fn bad_uploads_are_refused_on_the_form_with_the_reason() {
    let app = TestApp::spawn().await;
    let mut alpha = owner(&app, "alpha").await;
    let page = upload(
        &app,
        &mut alpha,
        "products.csv",
        b"Title,Variant Price\nA,1\n",
    )
    .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("no Handle column"), "{}", page.body);
    let page = upload(&app, &mut alpha, "empty.csv", b"").await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("is empty"), "{}", page.body);

    // Without the token in the query string the upload is refused before it is read.
    let res = alpha
        .send(
            client()
                .post(format!("http://{}/admin/products/import", app.addr))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "multipart/form-data; boundary=x",
                )
                .body("--x--\r\n"),
        )
        .await;
    assert_eq!(res.status, 403);
}

#[tokio::test]
async fn staff_without_the_products_permission_and_other_stores_see_no_import() {
    let app = TestApp::spawn().await;
    let mut alpha = owner(&app, "alpha").await;
    let started = upload(&app, &mut alpha, "p.csv", &std::fs::read(FIXTURE).unwrap()).await;
    let job = started.location.unwrap();
    finished(&mut alpha, &job).await;

    let hash = platform::accounts::hash_password(PASSWORD).unwrap();
    sqlx::query(
        "WITH u AS (INSERT INTO platform.users (id, email, password_hash) \
                    VALUES (gen_random_uuid(), 'clerk@alpha.example', $1) RETURNING id) \
         INSERT INTO platform.memberships (user_id, tenant_id, role, permissions) \
         SELECT u.id, t.id, 'staff', '{orders}' FROM u, platform.tenants t WHERE t.subdomain = 'alpha'",
    )
    .bind(hash)
    .execute(&app.pool)
    .await
    .unwrap();
    let mut clerk = sign_in(&app, "alpha", "clerk@alpha.example").await;
    for path in [
        "/admin/products/import",
        job.as_str(),
        "/admin/products/export.csv",
    ] {
        assert_eq!(clerk.get(path).await.status, 403, "{path}");
    }
    let csrf = clerk.get("/admin").await.csrf();
    let refused = clerk
        .send(
            client()
                .post(format!(
                    "http://{}/admin/products/import?_csrf={csrf}",
                    app.addr
                ))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "multipart/form-data; boundary=x",
                )
                .body("--x--\r\n"),
        )
        .await;
    assert_eq!(refused.status, 403);

    // Another store's owner: the job does not exist there, and their list is empty.
    let mut beta = owner(&app, "beta").await;
    assert_eq!(beta.get(&job).await.status, 404);
    let list = beta.get("/admin/products/import").await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains("data-job="));
    let beta_tenant = platform::tenancy::find_by_subdomain(&app.pool, "beta")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        count(&app, &beta_tenant, "SELECT count(*) FROM import_jobs").await,
        0
    );
}

#[tokio::test]
async fn a_file_over_the_upload_limit_is_refused_with_the_limit() {
    let app = TestApp::spawn().await;
    let mut alpha = owner(&app, "alpha").await;
    let mut csv = b"Handle,Title,Variant Price\n".to_vec();
    csv.resize(50 * 1024 * 1024 + 1, b'x');
    let page = upload(&app, &mut alpha, "huge.csv", &csv).await;
    assert_eq!(page.status, 413, "{}", page.body);
    assert!(page.body.contains("larger than 50 MB"), "{}", page.body);
    // A body declared far over the limit is refused before it is read.
    csv.resize(60 * 1024 * 1024, b'x');
    let page = upload(&app, &mut alpha, "huger.csv", &csv).await;
    assert_eq!(page.status, 413, "{}", page.body);
    assert!(page.body.contains("larger than 50 MB"), "{}", page.body);
    let alpha_tenant = platform::tenancy::find_by_subdomain(&app.pool, "alpha")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        count(&app, &alpha_tenant, "SELECT count(*) FROM import_jobs").await,
        0
    );
}

/// Serves images for an import to fetch: `/shirt.png`, `/shirt.jpg`, `/not-an-image.png`
/// (text), and 404 elsewhere. Returns `http://127.0.0.1:<port>`.
async fn image_server() -> String {
    fn encode(format: image::ImageFormat, side: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(side, side, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 3) as u8, 128])
        });
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), format)
            .unwrap();
        out
    }
    let png = encode(image::ImageFormat::Png, 40);
    let jpg = encode(image::ImageFormat::Jpeg, 60);
    let router = axum::Router::new()
        .route(
            "/shirt.png",
            axum::routing::get(move || async move { ([("content-type", "image/png")], png) }),
        )
        .route(
            "/shirt.jpg",
            axum::routing::get(move || async move { ([("content-type", "image/jpeg")], jpg) }),
        )
        .route(
            "/not-an-image.png",
            axum::routing::get(|| async { "hello" }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Imports `csv` into `t` as the app would, fetching images into the app's media store
/// (development settings: the loopback image server is allowed).
async fn import_with_images(app: &TestApp, t: &Tenant, csv: &str) -> Report {
    let fetcher = ImageFetcher::new(app.state.media.clone(), &app.state.settings).unwrap();
    let total = platform::catalog_csv::count_rows(csv.as_bytes()).unwrap();
    platform::catalog_csv::import_products(
        &app.pool,
        t,
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        "import",
        total,
        &Silent,
        Some(&fetcher),
    )
    .await
    .unwrap()
}

fn notes(report: &Report) -> Vec<String> {
    report.notes.iter().map(ToString::to_string).collect()
}

fn image_summary(p: &Product) -> Vec<(i32, String, i32, i32)> {
    p.images
        .iter()
        .map(|i| (i.position, i.alt.clone(), i.width, i.height))
        .collect()
}

fn images_csv(base: &str) -> String {
    format!(
        "Handle,Title,Variant Price,Image Src,Image Position,Image Alt Text,Variant Image\n\
         shirt,Shirt,10.00,{base}/shirt.jpg,2,Back,\n\
         shirt,,,{base}/shirt.png,1,Front,\n\
         shirt,,,{base}/missing.png,3,,\n\
         shirt,,,{base}/shirt.png,,,\n\
         mug,Mug,4.00,{base}/not-an-image.png,1,,{base}/shirt.png\n"
    )
}

#[tokio::test]
async fn images_are_fetched_and_attached_in_position_order_and_failures_are_notes() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let base = image_server().await;

    let report = import_with_images(&app, &alpha, &images_csv(&base)).await;
    assert_eq!(
        (report.created, report.failed),
        (2, 0),
        "{:?}",
        report.errors
    );
    assert_eq!(
        notes(&report),
        [
            format!(
                "line 4, Image Src: “{base}/missing.png” not imported: the server answered 404 Not Found"
            ),
            format!(
                "line 6, Image Src: “{base}/not-an-image.png” not imported: the file is not a JPEG, PNG, WebP or GIF image"
            ),
        ]
    );
    let shirt = product(&app, &alpha, "shirt").await.unwrap();
    assert_eq!(
        image_summary(&shirt),
        [(1, "Front".into(), 40, 40), (2, "Back".into(), 60, 60)]
    );
    let mug = product(&app, &alpha, "mug").await.unwrap();
    assert_eq!(image_summary(&mug), [(1, String::new(), 40, 40)]);
    assert_eq!(mug.images[0].storage_key, shirt.images[0].storage_key);
    assert!(
        shirt.images[0]
            .storage_key
            .starts_with(&format!("{}/", alpha.schema.as_str())),
        "stored under the importing store's schema"
    );

    // The renditions are served on the store's host.
    let host = TestApp::store_host("alpha");
    for image in &shirt.images {
        let res = app
            .get(&host, &format!("/media/{}/160", image.storage_key))
            .await;
        assert_eq!(res.status(), 200, "{}", image.storage_key);
    }

    // Importing the same file again adds nothing.
    let again = import_with_images(&app, &alpha, &images_csv(&base)).await;
    assert_eq!(
        (again.created, again.updated, again.unchanged, again.failed),
        (0, 0, 2, 0)
    );
    assert_eq!(notes(&again).len(), 2, "{:?}", notes(&again));
    let shirt_again = product(&app, &alpha, "shirt").await.unwrap();
    assert_eq!(image_summary(&shirt_again), image_summary(&shirt));
    assert_eq!(
        count(&app, &alpha, "SELECT count(*) FROM product_images").await,
        3
    );
}

#[tokio::test]
async fn an_export_imported_back_reuses_the_stores_own_images_without_downloading() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let base = image_server().await;
    import_with_images(&app, &alpha, &images_csv(&base)).await;

    let (result, exported) = app
        .cli(&["export", "products", "--tenant", "alpha", "-"], "")
        .await;
    result.unwrap();
    assert!(
        exported.contains("http://alpha.storefront.test/media/"),
        "{exported}"
    );

    // Back into the same store: nothing changes, nothing is duplicated.
    let report = import_with_images(&app, &alpha, &exported).await;
    assert_eq!(
        (
            report.created,
            report.updated,
            report.unchanged,
            report.failed
        ),
        (0, 0, 2, 0),
        "{:?}",
        report.notes
    );
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_eq!(
        count(&app, &alpha, "SELECT count(*) FROM product_images").await,
        3
    );

    // As new products (another handle), the images are the store's own: mapped back to
    // their keys (the export's host does not even resolve here), in the same order.
    let copied: String = exported
        .lines()
        .map(|line| match line.split_once(',') {
            Some((handle, rest)) if handle != "Handle" => format!("{handle}-copy,{rest}\n"),
            _ => format!("{line}\n"),
        })
        .collect();
    let report = import_with_images(&app, &alpha, &copied).await;
    assert_eq!(
        (report.created, report.failed),
        (2, 0),
        "{:?}",
        report.errors
    );
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let shirt = product(&app, &alpha, "shirt").await.unwrap();
    let copy = product(&app, &alpha, "shirt-copy").await.unwrap();
    assert_eq!(image_summary(&copy), image_summary(&shirt));
    let keys =
        |p: &Product| -> Vec<String> { p.images.iter().map(|i| i.storage_key.clone()).collect() };
    assert_eq!(keys(&copy), keys(&shirt));
    assert_eq!(
        count(&app, &alpha, "SELECT count(*) FROM product_images").await,
        6
    );
}

#[tokio::test]
async fn an_export_writes_formulas_as_text_and_imports_them_back_as_they_were() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let beta = app.create_tenant("beta", "Beta").await;
    // What a spreadsheet would run when the merchant opens the export.
    let mut tx = tenant_store::begin(&app.pool, &alpha.schema).await.unwrap();
    catalog::create_product(
        &mut tx,
        catalog::ProductInput {
            title: "=HYPERLINK(\"http://evil.example\",\"Click me\")".into(),
            handle: Some("formula-shirt".into()),
            vendor: "+cmd|' /C calc'!A0".into(),
            product_type: "@SUM(1+1)".into(),
            seo_title: "=1+1".into(),
            options: vec!["Size".into()],
            variants: vec![catalog::VariantInput {
                option_values: vec!["'quoted".into()],
                sku: "-2+3".into(),
                price_minor: 1500,
                ..catalog::VariantInput::default()
            }],
            ..catalog::ProductInput::default()
        },
        "test",
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (result, text) = app
        .cli(&["export", "products", "--tenant", "alpha", "-"], "")
        .await;
    result.unwrap();
    for cell in [
        "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Click me\"\")\"",
        "'+cmd|' /C calc'!A0",
        "'@SUM(1+1)",
        "'-2+3",
        ",'=1+1,",
        "''quoted",
    ] {
        assert!(text.contains(cell), "{cell} in\n{text}");
    }
    assert!(!text.contains(",=HYPERLINK") && !text.contains(",\"=HYPERLINK"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alpha.csv");
    std::fs::write(&file, &text).unwrap();
    let (result, out) = import(&app, "beta", file.to_str().unwrap()).await;
    result.unwrap_or_else(|e| panic!("{e:#}\n{out}"));
    let there = product(&app, &alpha, "formula-shirt").await.unwrap();
    let here = product(&app, &beta, "formula-shirt").await.unwrap();
    assert_eq!(normalised(&here), normalised(&there));
    assert_eq!(
        here.title,
        "=HYPERLINK(\"http://evil.example\",\"Click me\")"
    );
    assert_eq!(here.variants[0].option1.as_deref(), Some("'quoted"));
}

#[tokio::test]
async fn stock_below_zero_in_a_file_imports_as_zero_with_a_note() {
    // Shopify lets stock run below zero (selling on when out of stock); here it never does.
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oversold.csv");
    std::fs::write(
        &file,
        "Handle,Title,Variant Price,Variant Inventory Tracker,Variant Inventory Qty,Status\n\
         oversold-mug,Oversold mug,12.00,shopify,-3,active\n",
    )
    .unwrap();
    let (result, out) = import(&app, "alpha", file.to_str().unwrap()).await;
    result.unwrap_or_else(|e| panic!("{e:#}\n{out}"));
    assert!(out.contains("1 created"), "{out}");
    assert!(
        out.contains("line 2, Variant Inventory Qty: stock -3 read as 0"),
        "{out}"
    );
    let mug = product(&app, &alpha, "oversold-mug").await.unwrap();
    assert_eq!(mug.variants[0].inventory_quantity, 0);
}
