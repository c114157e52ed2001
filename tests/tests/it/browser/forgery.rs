//! Forms posted by a real browser from somewhere else are refused: every store is a sibling
//! subdomain of the platform domain, so another store's page is "same site" to the browser.

use storefront_tests::TestApp;

use crate::fixtures;

#[tokio::test]
async fn a_form_on_another_stores_page_cannot_fill_this_stores_cart() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let item = fixtures::product(&app, &alpha, "Wool hat", 2500, 10).await;
    let evil = app.create_tenant("evil", "Evil").await;

    // Evil's merchant writes a contact page whose button posts into Alpha's cart.
    let forged = format!(
        r#"{{% extends "store/base.html" %}}{{% block content %}}
<h1>Win a prize</h1>
<form id="forged" method="post" action="http://alpha.storefront.test/cart/add">
  <input type="hidden" name="id" value="{}"><input type="hidden" name="quantity" value="5">
  <button type="submit">Claim it</button>
</form>{{% endblock content %}}"#,
        item.variant
    );
    let mut tx = tenant_store::begin(&app.pool, &evil.schema).await.unwrap();
    sqlx::query(
        "INSERT INTO theme_templates (name, source, updated_by) VALUES ('store/contact.html', $1, 'test')",
    )
    .bind(&forged)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.state.themes.invalidate(evil.id).await;

    let mut chrome = app.chrome(&TestApp::store_host("evil"), "forgery").await;
    chrome.visit("/contact").await;
    assert!(chrome.text().await.contains("Win a prize"));
    chrome.expect_status(403).follow("#forged button").await;
    assert_eq!(chrome.url().await.host_str(), Some("alpha.storefront.test"));
    assert!(
        chrome
            .text()
            .await
            .contains("This form has expired or came from another site")
    );
    let mut tx = tenant_store::begin(&app.pool, &alpha.schema).await.unwrap();
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_lines")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(lines, 0, "nothing reached Alpha's carts");

    // The same button on Alpha's own page works.
    chrome.host = TestApp::store_host("alpha");
    chrome.visit(&format!("/products/{}", item.handle)).await;
    chrome.submit("cart-add").await;
    assert!(chrome.text().await.contains("Wool hat"));
    chrome.close().await;
}

#[tokio::test]
async fn another_stores_page_cannot_frame_this_stores_admin_or_storefront() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha").await;
    let hat = fixtures::product(&app, &alpha, "Wool hat", 2500, 10).await;
    let evil = app.create_tenant("evil", "Evil").await;
    // Evil's merchant overlays Alpha's pages, to make Alpha's merchant and shoppers click
    // through an invisible frame (clickjacking).
    let framing = format!(
        r#"{{% extends "store/base.html" %}}{{% block content %}}
<h1>Free gift</h1>
<iframe title="admin" style="width: 100%" src="http://alpha.storefront.test/admin/login"></iframe>
<iframe title="shop" style="width: 100%" src="http://alpha.storefront.test/products/{}"></iframe>
{{% endblock content %}}"#,
        hat.handle
    );
    let mut tx = tenant_store::begin(&app.pool, &evil.schema).await.unwrap();
    sqlx::query(
        "INSERT INTO theme_templates (name, source, updated_by) VALUES ('store/contact.html', $1, 'test')",
    )
    .bind(&framing)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.state.themes.invalidate(evil.id).await;

    let mut chrome = app.chrome(&TestApp::store_host("evil"), "framing").await;
    // The browser refuses both frames, and says why; the error page it shows in each
    // can't talk to the framing page either.
    chrome
        .expect_console("frame-ancestors 'none'")
        .expect_console("frame-ancestors 'self'")
        .expect_console("postMessage")
        .expect_console("postMessage")
        .visit("/contact")
        .await;
    assert!(chrome.text().await.contains("Free gift"));
    chrome.close().await;
}
