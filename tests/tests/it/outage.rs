//! The database going away and coming back, as the app meets it on the network (through a
//! proxy the test cuts): shoppers get a quick 503 that says when to try again, never a
//! page kept from before that no change can reach any more, and the store is back when the
//! database is.

use std::time::Duration;

use storefront_tests::TestApp;

use crate::fixtures::product;

const HOST: &str = "alpha.storefront.test";

/// Waits up to five seconds for `done`.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited five seconds for {what}");
}

#[tokio::test]
async fn a_database_that_goes_away_is_a_503_with_retry_after_and_pages_come_back_with_it() {
    let (app, proxy) = TestApp::spawn_behind_proxy(|_| {}).await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let hat = product(&app, &alpha, "Wool hat", 2500, 5).await;
    let page = format!("/products/{}", hat.handle);
    assert_eq!(app.get(HOST, &page).await.status(), 200);

    proxy.cut();
    // Connections the pool held break; new ones get no answer.
    for _ in 0..2 {
        let res = app.get(HOST, &page).await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "5");
        let body = res.text().await.unwrap();
        assert!(body.contains("Please try again in a moment"), "{body}");
    }
    let res = app
        .get_with(
            HOST,
            "/admin/api/v1/products.json",
            &[("accept", "application/json")],
        )
        .await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["error"]["code"], "database_unavailable");
    assert_eq!(app.get(HOST, "/readyz").await.status(), 503);

    proxy.restore();
    let res = app.get(HOST, &page).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Wool hat"));
}

#[tokio::test]
async fn no_stored_page_is_served_while_changes_cannot_be_heard() {
    let (app, proxy) = TestApp::spawn_behind_proxy(|s| s.page_cache_mb = 16).await;
    let pages = app.state.pages.clone();
    eventually("the page cache to follow changes", || pages.is_listening()).await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let hat = product(&app, &alpha, "Wool hat", 2500, 5).await;
    let page = format!("/products/{}", hat.handle);
    for _ in 0..2 {
        assert_eq!(app.get(HOST, &page).await.status(), 200);
    }
    assert!(!pages.is_empty().await, "the page was stored");

    // While this node can't hear changes, another node may be making them: what it kept
    // may be stale, so it serves none of it.
    proxy.cut();
    eventually("the page cache to know it hears nothing", || {
        !pages.is_listening()
    })
    .await;
    let res = app.get(HOST, &page).await;
    assert_eq!(res.status(), 503, "not the page stored before");

    proxy.restore();
    eventually("the page cache to follow changes again", || {
        pages.is_listening()
    })
    .await;
    let res = app.get(HOST, &page).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Wool hat"));
}
