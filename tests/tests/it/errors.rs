//! Errors: HTML for browsers, JSON for the Admin API, never an internal detail.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use platform::app::App;
use platform::config::Settings;
use platform::error::AppError;
use storefront_tests::TestApp;

#[tokio::test]
async fn a_missing_store_page_is_an_html_404() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    let res = app.get("alpha.storefront.test", "/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("Page not found"));
}

#[tokio::test]
async fn admin_api_paths_get_json_errors() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    let res = app
        .get("alpha.storefront.test", "/admin/api/v1/nothing.json")
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/json");
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["error"]["code"], "not_found");
    assert_eq!(json["error"]["request_id"], request_id.as_str());
}

async fn panics() -> &'static str {
    panic!("secret panic detail: card 4242")
}

fn misbehaving_routes() -> Router {
    Router::new()
        .route("/boom", get(panics))
        .route("/admin/api/v1/boom", get(panics))
        .route(
            "/fails",
            get(|| async { Err::<(), _>(AppError::Internal(anyhow::anyhow!("password=hunter2"))) }),
        )
        .route(
            "/invalid",
            get(|| async { Err::<(), _>(AppError::invalid("subdomain", "is already taken")) }),
        )
        .route(
            "/admin/api/v1/invalid",
            get(|| async { Err::<(), _>(AppError::invalid("title", "can't be blank")) }),
        )
}

#[tokio::test]
async fn a_panic_becomes_an_opaque_500_page_with_the_request_id() {
    let app = TestApp::spawn_with_routes(misbehaving_routes()).await;
    let res = app.get("anything", "/boom").await;
    assert_eq!(res.status(), 500);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(body.contains("Something went wrong"));
    assert!(body.contains(&request_id), "the page quotes the request id");
    assert!(!body.contains("secret") && !body.contains("4242") && !body.contains("panicked"));

    // The server survives the panic.
    assert_eq!(app.get("anything", "/invalid").await.status(), 422);
}

#[tokio::test]
async fn internal_errors_never_show_their_cause() {
    let app = TestApp::spawn_with_routes(misbehaving_routes()).await;
    let res = app.get("anything", "/fails").await;
    assert_eq!(res.status(), 500);
    let body = res.text().await.unwrap();
    assert!(!body.contains("hunter2"));

    let res = app.get("anything", "/admin/api/v1/boom").await;
    assert_eq!(res.status(), 500);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["error"]["code"], "internal_error");
    assert!(!json.to_string().contains("secret"));
}

#[tokio::test]
async fn validation_errors_name_the_field_in_html_and_json() {
    let app = TestApp::spawn_with_routes(misbehaving_routes()).await;
    let res = app.get("anything", "/invalid").await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("<strong>subdomain</strong>: is already taken"));

    let res = app.get("anything", "/admin/api/v1/invalid").await;
    assert_eq!(res.status(), 422);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["error"]["code"], "validation_failed");
    assert_eq!(json["error"]["fields"]["title"][0], "can't be blank");
}

#[tokio::test]
async fn readyz_reports_an_unreachable_database_as_503() {
    let data_dir = tempfile::tempdir().unwrap();
    let settings =
        Settings::for_database("postgres://nobody@127.0.0.1:1/none", data_dir.path().into());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    let state = App::build(settings, pool).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, platform::router::build(state)).into_future());

    let res = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(res.status(), 503);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["database"], "unreachable");
    let res = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the process itself is up");
}
