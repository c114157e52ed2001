//! Product images through HTTP against the running app: upload (a good image, a text file
//! named .jpg, an oversized file, a decompression bomb), serving with immutable caching,
//! tenant isolation of media URLs, alt text, permissions, deletion.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use image::{ImageFormat, Rgb, RgbImage};
use platform::tenancy::Tenant;
use reqwest::multipart::{Form, Part};
use storefront_tests::{Browser, Page, TestApp};
use tenant_store::StoreError;
use tenant_store::catalog::images::{self, NewImage};
use tenant_store::catalog::{self, Image, ProductInput, VariantInput};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";
const LIMIT_MB: usize = 20;

/// A store with one product; returns the tenant and the product's id.
async fn store_with_product(app: &TestApp, sub: &str) -> (Tenant, Uuid) {
    let tenant = app.create_tenant(sub, "Alpha Goods").await;
    let id = create_product(app, &tenant, "Red Mug").await;
    let hash = platform::accounts::hash_password(PASSWORD).unwrap();
    sqlx::query("UPDATE platform.users SET password_hash = $1 WHERE email = $2")
        .bind(hash)
        .bind(format!("owner@{sub}.example.com"))
        .execute(&app.pool)
        .await
        .unwrap();
    (tenant, id)
}

async fn create_product(app: &TestApp, tenant: &Tenant, title: &str) -> Uuid {
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let product = catalog::create_product(
        &mut tx,
        ProductInput {
            title: title.into(),
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
    product.id
}

async fn signed_in<'a>(app: &'a TestApp, sub: &str, email: &str) -> Browser<'a> {
    let mut browser = app.browser(&TestApp::store_host(sub));
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

/// Posts the upload form as a browser does: multipart, the CSRF token in the query string.
async fn upload(
    app: &TestApp,
    browser: &mut Browser<'_>,
    product: Uuid,
    file_name: &str,
    bytes: Vec<u8>,
    alt: &str,
) -> Page {
    let csrf = browser.get("/admin").await.csrf();
    let form = Form::new().text("alt", alt.to_owned()).part(
        "image",
        Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let req = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!(
            "http://{}/admin/products/{product}/images?_csrf={csrf}",
            app.addr
        ))
        .multipart(form);
    browser.send(req).await
}

fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A 1200×800 photo-like PNG (gradients, so the JPEG renditions are realistic).
fn photo() -> Vec<u8> {
    png(&RgbImage::from_fn(1200, 800, |x, y| {
        Rgb([(x / 5) as u8, (y / 4) as u8, ((x + y) % 256) as u8])
    }))
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid 1×1 PNG whose header then claims 50000×50000 pixels: a few dozen bytes that
/// would need 7.5 GB to decode.
fn decompression_bomb() -> Vec<u8> {
    let mut bytes = png(&RgbImage::new(1, 1));
    // Signature (8), chunk length (4), "IHDR" (4), then width and height.
    assert_eq!(&bytes[12..16], b"IHDR");
    bytes[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    assert!(bytes.len() < 100);
    bytes
}

async fn images_of(app: &TestApp, tenant: &Tenant, product: Uuid) -> Vec<Image> {
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    images::list_images(&mut tx, product).await.unwrap()
}

fn media_dir(app: &TestApp) -> PathBuf {
    app.state.settings.data_dir.join("media")
}

/// Every file stored under the tenant's prefix.
fn stored_files(app: &TestApp, tenant: &Tenant) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&media_dir(app).join(tenant.schema.as_str()), &mut out);
    out.sort();
    out
}

async fn audit_actions(app: &TestApp, tenant: &Tenant) -> Vec<String> {
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_good_image_is_resized_stored_and_served_with_immutable_caching() {
    let app = TestApp::spawn().await;
    let (alpha, product) = store_with_product(&app, "alpha").await;
    let mut owner = signed_in(&app, "alpha", "owner@alpha.example.com").await;

    let done = upload(&app, &mut owner, product, "mug.png", photo(), "A red mug").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/admin/products/{product}").as_str())
    );

    let images = images_of(&app, &alpha, product).await;
    assert_eq!(images.len(), 1);
    let image = &images[0];
    assert_eq!(image.alt, "A red mug");
    assert_eq!((image.width, image.height), (1200, 800));
    assert_eq!(image.content_type, "image/jpeg");
    assert_eq!(image.position, 1);
    let (owner_schema, hash) = image.storage_key.split_once('/').unwrap();
    assert_eq!(owner_schema, alpha.schema.as_str());
    assert_eq!(hash.len(), 64, "a SHA-256 content address");

    // Served on the store's host at each width up to the original's, never larger.
    let shopper = TestApp::store_host("alpha");
    let res = app
        .get(&shopper, &format!("/media/{}/480", image.storage_key))
        .await;
    assert_eq!(res.status(), 200);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "image/jpeg");
    assert_eq!(
        header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let etag = header("etag");
    assert!(etag.starts_with('"') && etag.contains(hash), "{etag}");
    let bytes = res.bytes().await.unwrap();
    let served = image::load_from_memory(&bytes).unwrap();
    assert_eq!(
        image::guess_format(&bytes).unwrap(),
        ImageFormat::Jpeg,
        "re-encoded"
    );
    assert_eq!((served.width(), served.height()), (480, 320));

    // Every width a page may ask for answers, never scaled up: the 2048 px slot holds the
    // 1200 px original. Widths the store never makes are 404s.
    for (width, size) in [(160, (160, 107)), (1024, (1024, 683)), (2048, (1200, 800))] {
        let path = format!("/media/{}/{width}", image.storage_key);
        let res = app.get(&shopper, &path).await;
        assert_eq!(res.status(), 200, "{path}");
        let served = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
        assert_eq!((served.width(), served.height()), size, "{path}");
    }
    let path = format!("/media/{}/640", image.storage_key);
    assert_eq!(app.get(&shopper, &path).await.status(), 404, "{path}");
    // A cache holding the rendition revalidates without a body.
    let client = reqwest::Client::new();
    let not_modified = client
        .get(format!(
            "http://{}/media/{}/480",
            app.addr, image.storage_key
        ))
        .header("host", &shopper)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);

    // The renditions are files under DATA_DIR/media/<schema>/<hash>/.
    let dir = media_dir(&app).join(&image.storage_key);
    let files: Vec<String> = stored_files(&app, &alpha)
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    assert_eq!(files, ["1024.jpg", "160.jpg", "2048.jpg", "480.jpg"]);

    // The editor shows the thumbnail with its alt text and the forms.
    let editor = owner.get(&format!("/admin/products/{product}")).await;
    assert_eq!(editor.status, 200, "{}", editor.body);
    // Tera escapes "/" in attributes as an entity, which browsers read back as "/".
    let html = editor.body.replace("&#x2F;", "/");
    assert!(
        html.contains(&format!("src=\"/media/{}/160\"", image.storage_key)),
        "{html}"
    );
    assert!(html.contains("alt=\"A red mug\""));
    assert!(html.contains(&format!("action=\"/admin/products/{product}/images?_csrf=")));

    // Alt text can be changed; each change is a product update with an audit entry.
    let csrf = owner.get("/admin").await.csrf();
    let alt = owner
        .post_form(
            &format!("/admin/products/{product}/images/{}/alt", image.id),
            &[("_csrf", &csrf), ("alt", "  A red mug on a table ")],
        )
        .await;
    assert_eq!(alt.status, 303, "{}", alt.body);
    assert_eq!(
        images_of(&app, &alpha, product).await[0].alt,
        "A red mug on a table"
    );
    assert_eq!(
        audit_actions(&app, &alpha).await,
        ["product.image.add", "product.image.alt"]
    );
    let mut tx = tenant_store::begin(&app.pool, &alpha.schema).await.unwrap();
    let updates: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE topic = 'product.updated'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(updates, 2);
}

/// The served image's size and the slot its ETag names.
async fn served(app: &TestApp, host: &str, path: &str) -> ((u32, u32), String) {
    let res = app.get(host, path).await;
    assert_eq!(res.status(), 200, "{path}");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let image = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    ((image.width(), image.height()), etag)
}

#[tokio::test]
async fn a_small_image_answers_at_every_width_at_its_own_size() {
    // Pages ask for fixed widths (a logo at 480, a product's main image at 1024, feeds at
    // 2048) whatever the original's size: none of them may be a broken image.
    let app = TestApp::spawn().await;
    let (alpha, mug) = store_with_product(&app, "alpha").await;
    let mut owner = signed_in(&app, "alpha", "owner@alpha.example.com").await;
    let small = png(&RgbImage::from_fn(300, 200, |x, _| Rgb([x as u8, 80, 160])));
    let done = upload(&app, &mut owner, mug, "small.png", small, "small").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let key = images_of(&app, &alpha, mug).await[0].storage_key.clone();
    assert_eq!(
        stored_files(&app, &alpha).len(),
        2,
        "160 px and the original"
    );

    let host = TestApp::store_host("alpha");
    let (size, etag_160) = served(&app, &host, &format!("/media/{key}/160")).await;
    assert_eq!(size, (160, 107));
    for width in [480, 1024, 2048] {
        let (size, etag) = served(&app, &host, &format!("/media/{key}/{width}")).await;
        assert_eq!(size, (300, 200), "never scaled up: {width}");
        assert!(
            etag.ends_with("-480\""),
            "named by the rendition served: {etag}"
        );
    }

    // An image stored before its original was kept in the next slot up has only its
    // smaller renditions: every width still answers, with the widest there is.
    std::fs::remove_file(media_dir(&app).join(&key).join("480.jpg")).unwrap();
    for width in [480, 1024, 2048] {
        let (size, etag) = served(&app, &host, &format!("/media/{key}/{width}")).await;
        assert_eq!((size, etag), ((160, 107), etag_160.clone()), "{width}");
    }
}

#[tokio::test]
async fn another_stores_host_cannot_fetch_a_media_url() {
    let app = TestApp::spawn().await;
    let (alpha, product) = store_with_product(&app, "alpha").await;
    let beta = app.create_tenant("beta", "Beta").await;
    let mut owner = signed_in(&app, "alpha", "owner@alpha.example.com").await;
    let done = upload(&app, &mut owner, product, "mug.png", photo(), "").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let key = images_of(&app, &alpha, product).await[0]
        .storage_key
        .clone();
    let hash = key.split_once('/').unwrap().1;

    let own = TestApp::store_host("alpha");
    let other = TestApp::store_host("beta");
    assert_eq!(
        app.get(&own, &format!("/media/{key}/160")).await.status(),
        200
    );
    for path in [
        format!("/media/{key}/160"),
        format!("/media/{}/{hash}/160", beta.schema.as_str()),
    ] {
        assert_eq!(app.get(&other, &path).await.status(), 404, "{path}");
    }
    for path in [
        format!("/media/{key}/160/extra"),
        format!("/media/{key}"),
        "/media/..%2F..%2Fsecret_key/160".to_owned(),
        format!("/media/{}/{}/160", alpha.schema.as_str(), "0".repeat(64)),
    ] {
        assert_eq!(app.get(&own, &path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn a_text_file_named_jpg_is_refused_by_its_content() {
    let app = TestApp::spawn().await;
    let (alpha, product) = store_with_product(&app, "alpha").await;
    let mut owner = signed_in(&app, "alpha", "owner@alpha.example.com").await;

    let page = upload(
        &app,
        &mut owner,
        product,
        "photo.jpg",
        b"These are my holiday notes, not a photo.\n".to_vec(),
        "Holiday",
    )
    .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body
            .contains("the file is not a JPEG, PNG, WebP or GIF image"),
        "{}",
        page.body
    );
    assert!(images_of(&app, &alpha, product).await.is_empty());
    assert!(stored_files(&app, &alpha).is_empty());

    // No file chosen at all.
    let page = upload(&app, &mut owner, product, "empty.png", Vec::new(), "").await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("choose an image file to upload"));
}

#[tokio::test]
async fn an_oversized_file_is_refused_with_the_limit_named() {
    let app = TestApp::spawn().await;
    let (alpha, product) = store_with_product(&app, "alpha").await;
    let mut owner = signed_in(&app, "alpha", "owner@alpha.example.com").await;

    // Just over the limit: the form is read to its end and refused.
    let mut big = photo();
    big.resize(LIMIT_MB * 1024 * 1024 + 1000, 0);
    let page = upload(&app, &mut owner, product, "big.png", big, "").await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("larger than 20 MB"), "{}", page.body);

    // Far over: refused from the declared length alone, before any of the body is sent.
    let csrf = owner.get("/admin").await.csrf();
    let head = format!(
        "POST /admin/products/{product}/images?_csrf={csrf} HTTP/1.1\r\n\
         Host: {}\r\nCookie: {}={}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {}\r\n\r\n",
        owner.host,
        platform::sessions::COOKIE,
        owner.cookie.as_deref().unwrap(),
        200 * 1024 * 1024,
    );
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 422"), "{answer}");
    assert!(answer.contains("larger than 20 MB"), "{answer}");

    // An image with a side over 10,000 pixels is refused too, whatever its byte size.
    let wide = png(&RgbImage::new(10_001, 1));
    let page = upload(&app, &mut owner, product, "wide.png", wide, "").await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body
            .contains("10001×1 pixels: each side may be at most 10000 pixels"),
        "{}",
        page.body
    );
    assert!(images_of(&app, &alpha, product).await.is_empty());
    assert!(stored_files(&app, &alpha).is_empty());
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_from_its_header_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (alpha, product) = store_with_product(&app, "alpha").await;
    let mut owner = signed_in(&app, "alpha", "owner@alpha.example.com").await;

    let page = upload(
        &app,
        &mut owner,
        product,
        "bomb.png",
        decompression_bomb(),
        "",
    )
    .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body
            .contains("50000×50000 pixels is more than the 40-megapixel limit"),
        "{}",
        page.body
    );
    assert!(images_of(&app, &alpha, product).await.is_empty());
    assert!(stored_files(&app, &alpha).is_empty());
    assert!(audit_actions(&app, &alpha).await.is_empty());
}

#[tokio::test]
async fn only_members_with_the_products_permission_manage_images() {
    let app = TestApp::spawn().await;
    let (alpha, product) = store_with_product(&app, "alpha").await;
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

    let mut clerk = signed_in(&app, "alpha", "clerk@alpha.example").await;
    let page = upload(&app, &mut clerk, product, "mug.png", photo(), "").await;
    assert_eq!(page.status, 403, "{}", page.body);
    let csrf = clerk.get("/admin").await.csrf();
    let fake = Uuid::now_v7();
    for path in [
        format!("/admin/products/{product}/images/{fake}/alt"),
        format!("/admin/products/{product}/images/{fake}/delete"),
    ] {
        let page = clerk
            .post_form(&path, &[("_csrf", &csrf), ("alt", "x")])
            .await;
        assert_eq!(page.status, 403, "{path}");
    }
    assert!(images_of(&app, &alpha, product).await.is_empty());

    // Given the permission, the same member may upload; strangers are sent to sign in.
    sqlx::query(
        "UPDATE platform.memberships SET permissions = '{products}' \
         WHERE user_id = (SELECT id FROM platform.users WHERE email = 'clerk@alpha.example')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let page = upload(&app, &mut clerk, product, "mug.png", photo(), "").await;
    assert_eq!(page.status, 303, "{}", page.body);

    let mut stranger = app.browser(&TestApp::store_host("alpha"));
    let page = stranger
        .post_form(&format!("/admin/products/{product}/images"), &[])
        .await;
    assert_eq!(page.status, 403, "no session, no CSRF token");

    // An unknown product is a 404, before the upload is even read.
    let mut owner = signed_in(&app, "alpha", "owner@alpha.example.com").await;
    let page = upload(&app, &mut owner, Uuid::now_v7(), "mug.png", photo(), "").await;
    assert_eq!(page.status, 404);
}

#[tokio::test]
async fn deleting_an_image_removes_its_files_once_no_image_uses_them() {
    let app = TestApp::spawn().await;
    let (alpha, mug) = store_with_product(&app, "alpha").await;
    let cup = create_product(&app, &alpha, "Blue Cup").await;
    let mut owner = signed_in(&app, "alpha", "owner@alpha.example.com").await;

    // The same file on two products shares one set of renditions.
    for (product, alt) in [(mug, "first"), (mug, "second"), (cup, "shared")] {
        let done = upload(&app, &mut owner, product, "mug.png", photo(), alt).await;
        assert_eq!(done.status, 303, "{}", done.body);
    }
    let mug_images = images_of(&app, &alpha, mug).await;
    assert_eq!(
        mug_images
            .iter()
            .map(|i| (i.position, i.alt.as_str()))
            .collect::<Vec<_>>(),
        [(1, "first"), (2, "second")]
    );
    let key = mug_images[0].storage_key.clone();
    assert_eq!(stored_files(&app, &alpha).len(), 4);

    let delete =
        |product: Uuid, image: Uuid| format!("/admin/products/{product}/images/{image}/delete");
    let csrf = owner.get("/admin").await.csrf();

    // Another product's image id is not found under this product.
    let cup_image = images_of(&app, &alpha, cup).await[0].id;
    let page = owner
        .post_form(&delete(mug, cup_image), &[("_csrf", &csrf)])
        .await;
    assert_eq!(page.status, 404);

    let page = owner
        .post_form(&delete(mug, mug_images[0].id), &[("_csrf", &csrf)])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let left = images_of(&app, &alpha, mug).await;
    assert_eq!(
        left.iter()
            .map(|i| (i.position, i.alt.as_str()))
            .collect::<Vec<_>>(),
        [(1, "second")],
        "positions close up"
    );
    for (product, image) in [(mug, left[0].id), (cup, cup_image)] {
        assert_eq!(stored_files(&app, &alpha).len(), 4, "still referenced");
        let page = owner
            .post_form(&delete(product, image), &[("_csrf", &csrf)])
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
    }
    assert!(stored_files(&app, &alpha).is_empty(), "files removed");
    let res = app
        .get(&TestApp::store_host("alpha"), &format!("/media/{key}/160"))
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn images_keep_an_order_and_belong_to_their_own_product() {
    let app = TestApp::spawn().await;
    let (alpha, mug) = store_with_product(&app, "alpha").await;
    let cup = create_product(&app, &alpha, "Blue Cup").await;
    let mut tx = tenant_store::begin(&app.pool, &alpha.schema).await.unwrap();
    let new = |alt| NewImage {
        storage_key: "k",
        content_type: "image/jpeg",
        width: 10,
        height: 10,
        alt,
    };
    let mut ids = Vec::new();
    for alt in ["one", "two", "three"] {
        ids.push(images::add_image(&mut tx, mug, new(alt)).await.unwrap().id);
    }
    let cup_image = images::add_image(&mut tx, cup, new("cup")).await.unwrap();
    assert_eq!(cup_image.position, 1);

    let reordered = images::reorder(&mut tx, mug, &[ids[2], ids[0], ids[1]])
        .await
        .unwrap();
    assert_eq!(
        reordered
            .iter()
            .map(|i| (i.position, i.alt.as_str()))
            .collect::<Vec<_>>(),
        [(1, "three"), (2, "one"), (3, "two")]
    );
    for wrong in [
        vec![ids[0], ids[1]],
        vec![ids[0], ids[1], ids[2], cup_image.id],
        vec![ids[0], ids[1], cup_image.id],
    ] {
        let err = images::reorder(&mut tx, mug, &wrong).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "images",
                    ..
                }
            ),
            "{err}"
        );
    }
    let err = images::set_alt(&mut tx, mug, cup_image.id, "x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    let err = images::add_image(&mut tx, Uuid::now_v7(), new("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    let long = "x".repeat(images::MAX_ALT_CHARS + 1);
    let err = images::set_alt(&mut tx, mug, ids[0], &long)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { field: "alt", .. }),
        "{err}"
    );
    assert_eq!(images::count_references(&mut tx, "k").await.unwrap(), 4);
}
