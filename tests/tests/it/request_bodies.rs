//! Compressed request bodies: gzip, deflate and br are decoded (a JSON body to the Admin API
//! or a form alike), a decoded body over the limit is a 413 however small it was sent, and
//! any other encoding is a 415.

use std::io::Write as _;

use serde_json::{Value, json};
use storefront_tests::TestApp;

/// A store and an API token that may write products.
async fn store(app: &TestApp, sub: &str) -> (String, String) {
    app.create_tenant(sub, "Packed Goods").await;
    let (result, out) = app
        .cli(
            &[
                "token",
                "create",
                "--tenant",
                sub,
                "--scopes",
                "products:read,products:write",
            ],
            "",
        )
        .await;
    result.expect("token create");
    (
        TestApp::store_host(sub),
        out.lines().last().unwrap().to_owned(),
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(bytes).unwrap();
    }
    out
}

/// `bytes` zeros, gzipped a megabyte at a time (about a thousandth of the size).
fn gzip_bomb(megabytes: usize) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..megabytes {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

async fn post(
    app: &TestApp,
    host: &str,
    token: &str,
    path: &str,
    encoding: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("http://{}{path}", app.addr))
        .header(reqwest::header::HOST, host)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::CONTENT_ENCODING, encoding)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn compressed_json_bodies_to_the_admin_api_are_decoded() {
    let app = TestApp::spawn().await;
    let (host, token) = store(&app, "packed").await;
    let product = |title: &str| {
        json!({"product": {"title": title, "variants": [{"price": "4.50"}]}})
            .to_string()
            .into_bytes()
    };
    for (encoding, body) in [
        ("gzip", gzip(&product("Gzip Tea"))),
        ("x-gzip", gzip(&product("X-Gzip Tea"))),
        ("GZIP", gzip(&product("Upper Gzip Tea"))),
        ("deflate", deflate(&product("Deflate Tea"))),
        ("br", brotli(&product("Brotli Tea"))),
        ("identity", product("Plain Tea")),
    ] {
        let (status, json) = post(
            &app,
            &host,
            &token,
            "/admin/api/v1/products.json",
            encoding,
            body,
        )
        .await;
        assert_eq!(status, 201, "{encoding}: {json}");
        assert!(
            json["product"]["title"].as_str().unwrap().ends_with("Tea"),
            "{json}"
        );
    }
}

#[tokio::test]
async fn a_compressed_form_is_decoded_and_guarded_like_any_other() {
    let app = TestApp::spawn().await;
    let (host, _) = store(&app, "packed-form").await;
    let send = |body: &str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("http://{}/contact", app.addr))
            .header(reqwest::header::HOST, &host)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(gzip(body.as_bytes()))
            .send()
    };
    let res = send("name=Ada&email=ada%40example.com&body=Hello")
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = send("name=Ada%00&email=ada%40example.com&body=Hello")
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("<strong>name</strong>"));
}

#[tokio::test]
async fn a_zip_bomb_is_a_413_and_a_broken_stream_a_400() {
    let app = TestApp::spawn().await;
    let (host, token) = store(&app, "bombed").await;
    // 64 MB of zeros in about 64 KB: far past the 2 MB any JSON or form body may be.
    let bomb = gzip_bomb(64);
    assert!(bomb.len() < 200 * 1024, "{} bytes", bomb.len());
    let (status, json) = post(
        &app,
        &host,
        &token,
        "/admin/api/v1/products.json",
        "gzip",
        bomb.clone(),
    )
    .await;
    assert_eq!(status, 413, "{json}");
    assert_eq!(json["error"]["code"], "payload_too_large", "{json}");

    // To a form endpoint too.
    let res = reqwest::Client::new()
        .post(format!("http://{}/contact", app.addr))
        .header(reqwest::header::HOST, &host)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::CONTENT_ENCODING, "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);

    // Not gzip at all.
    let (status, json) = post(
        &app,
        &host,
        &token,
        "/admin/api/v1/products.json",
        "gzip",
        b"{\"product\": {}}".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["error"]["code"], "bad_request", "{json}");
}

#[tokio::test]
async fn an_unknown_encoding_is_a_415_naming_the_ones_accepted() {
    let app = TestApp::spawn().await;
    let (host, token) = store(&app, "odd-encoding").await;
    for encoding in ["zstd", "compress", "gzip, br", "rot13"] {
        let (status, json) = post(
            &app,
            &host,
            &token,
            "/admin/api/v1/products.json",
            encoding,
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(status, 415, "{encoding}: {json}");
        assert_eq!(json["error"]["code"], "unsupported_media_type");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains("gzip, deflate, br"), "{message}");
    }
}
