//! Host routing: subdomains, custom domains, the platform site, unknown hosts, and the
//! host cache kept fresh across app nodes.

use std::sync::Arc;
use std::time::Duration;

use platform::tenancy;
use storefront_tests::TestApp;

/// Polls `host` on `app` until it answers `status` (changes reach other nodes by
/// LISTEN/NOTIFY, asynchronously). Panics after ten seconds.
async fn wait_for_status(app: &TestApp, host: &str, status: u16) -> String {
    for _ in 0..200 {
        let (s, body) = app.get_text(host, "/").await;
        if s == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{host} never answered {status}");
}

#[tokio::test]
async fn a_subdomain_serves_its_store_whatever_the_case_port_or_trailing_dot() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    for host in [
        "alpha.storefront.test",
        "ALPHA.Storefront.Test",
        "alpha.storefront.test:8080",
        "alpha.storefront.test.",
        "Alpha.storefront.test.:443",
    ] {
        let (status, body) = app.get_text(host, "/").await;
        assert_eq!(status, 200, "{host}");
        assert!(body.contains("<title>Alpha Goods</title>"), "{host}");
    }
}

#[tokio::test]
async fn the_bare_platform_domain_serves_the_platform_site() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    for host in ["storefront.test", "STOREFRONT.test:80", "storefront.test."] {
        let (status, body) = app.get_text(host, "/").await;
        assert_eq!(status, 200, "{host}");
        assert!(body.contains("Your store, live in seconds"), "{host}");
        assert!(!body.contains("Alpha Goods"));
    }
}

#[tokio::test]
async fn an_unknown_host_gets_a_small_html_404() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    for host in [
        "nobody.storefront.test",
        "a.alpha.storefront.test",
        "example.org",
        "localhost",
        "",
    ] {
        let res = app.get(host, "/").await;
        assert_eq!(res.status(), 404, "{host:?}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let body = res.text().await.unwrap();
        assert!(body.contains("No store lives at this address"), "{host:?}");
        assert!(!body.contains("Alpha Goods"));
    }
}

#[tokio::test]
async fn a_verified_custom_domain_serves_its_store_and_an_unverified_one_does_not() {
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
    let (status, body) = app.get_text("Shop.Alpha.Example.", "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Alpha Goods"));
    let (status, _) = app.get_text("pending.alpha.example", "/").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn host_changes_reach_every_app_node_through_the_database() {
    let node1 = TestApp::spawn().await;
    let node2 = TestApp::spawn_node(Arc::clone(&node1.db)).await;
    let host = "late.storefront.test";

    // Node 2 looks the host up before the store exists and caches "no such store".
    assert_eq!(node2.get_text(host, "/").await.0, 404);
    assert_eq!(node2.get_text(host, "/").await.0, 404);

    // The store is created through node 1; node 2 learns of it without a restart.
    node1.create_tenant("late", "Late Bloomer").await;
    let body = wait_for_status(&node2, host, 200).await;
    assert!(body.contains("Late Bloomer"));

    // Deleting it stops node 2 serving it.
    assert!(tenancy::delete(&node1.pool, "late").await.unwrap());
    wait_for_status(&node2, host, 404).await;
}

#[tokio::test]
async fn health_endpoints_answer_on_every_host() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    for host in [
        "storefront.test",
        "alpha.storefront.test",
        "unknown.example",
    ] {
        let (status, body) = app.get_text(host, "/healthz").await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"status":"ok"}"#),
            "{host}"
        );
        let (status, body) = app.get_text(host, "/readyz").await;
        assert_eq!(status, 200, "{host}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["database"], "ok");
    }
}

/// What the app's connections to `app`'s database that listen for notifications last ran.
async fn listening(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT query FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'storefront' \
           AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_node_listens_for_every_change_on_one_connection_of_its_own() {
    let app = TestApp::spawn().await;
    for _ in 0..200 {
        if !listening(&app).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every follower has started by now: each would have had its own connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listening = listening(&app).await;
    assert_eq!(listening.len(), 1, "{listening:?}");
    for channel in [
        "storefront_hostnames",
        "storefront_theme",
        "storefront_mail",
        "tenant_outbox",
    ] {
        assert!(listening[0].contains(channel), "{channel}: {listening:?}");
    }
}

#[tokio::test]
async fn a_node_with_the_fewest_connections_allowed_serves_its_stores_and_follows_changes() {
    // One connection for the pool, one for the read lane, one to listen.
    let app = TestApp::spawn_with(|s| s.database_max_connections = 3).await;
    app.create_tenant("alpha", "Alpha Goods").await;
    let host = "alpha.storefront.test";
    for path in ["/", "/cart", "/collections/all", "/search?q=shirt"] {
        let (status, _) = app.get_text(host, path).await;
        assert_eq!(status, 200, "{path}");
    }
    // A store deleted in the database is dropped here by notification.
    assert!(tenancy::delete(&app.pool, "alpha").await.unwrap());
    wait_for_status(&app, host, 404).await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers_of_its_readers() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    let store = "alpha.storefront.test";
    for (host, path, frames, policy) in [
        (store, "/", "SAMEORIGIN", "frame-ancestors 'self'"),
        (
            store,
            "/no-such-page",
            "SAMEORIGIN",
            "frame-ancestors 'self'",
        ),
        (store, "/admin/login", "DENY", "frame-ancestors 'none'"),
        (
            store,
            "/admin/api/v1/products.json",
            "DENY",
            "default-src 'none'",
        ),
        (
            "storefront.test",
            "/signup",
            "DENY",
            "frame-ancestors 'none'",
        ),
        (
            "storefront.test",
            "/operator/login",
            "DENY",
            "form-action 'self'",
        ),
    ] {
        let res = app.get(host, path).await;
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_else(|| panic!("{host}{path} has no {name}"))
        };
        assert_eq!(header("x-frame-options"), frames, "{host}{path}");
        assert!(
            header("content-security-policy").contains(policy),
            "{host}{path}: {}",
            header("content-security-policy")
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{host}{path}");
        assert_eq!(
            header("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{host}{path}"
        );
        assert!(res.headers().get("strict-transport-security").is_none());
    }
    // A page that keeps its address secret keeps its own referrer policy.
    let res = app.get(store, "/orders/not-a-real-token").await;
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn the_route_table_lists_what_the_router_serves() {
    use platform::router::{Site, route_table};

    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    let table = route_table(&app.state);
    let has = |site: Site, method: &str, path: &str| {
        table
            .iter()
            .any(|r| r.site == site && r.method.as_str() == method && r.path == path)
    };
    assert!(has(Site::Any, "GET", "/healthz"));
    assert!(has(Site::Platform, "POST", "/signup"));
    assert!(has(Site::Platform, "POST", "/operator/tenants/{id}/plan"));
    assert!(has(Site::Store, "GET", "/products/{handle}"));
    assert!(has(Site::Store, "POST", "/admin/products/{id}/images"));
    assert!(has(Site::Store, "PUT", "/admin/api/v1/products/{id}"));
    assert!(has(Site::Store, "DELETE", "/admin/api/v1/pages/{id}"));
    assert!(table.len() > 150, "{} routes", table.len());
    let mut seen = std::collections::HashSet::new();
    for r in &table {
        assert!(
            seen.insert((r.site, r.method.clone(), r.path)),
            "listed twice: {r:?}"
        );
    }

    // Each listed method is one the router answers: never 405 Method Not Allowed.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for r in &table {
        let host = match r.site {
            Site::Any | Site::Store => "alpha.storefront.test",
            Site::Platform => "storefront.test",
        };
        let path = r
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let res = client
            .request(r.method.clone(), format!("http://{}{path}", app.addr))
            .header(reqwest::header::HOST, host)
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 405, "{r:?}");
    }
}
