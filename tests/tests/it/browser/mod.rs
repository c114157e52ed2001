//! The browser suite: journeys and forms in a real Chromium, every page it reaches checked
//! for what a person would meet (see `storefront_tests::browser`).

mod admin_catalog;
mod admin_settings;
mod forgery;
mod forms;
mod journeys;
mod storefront;

use std::path::PathBuf;

use platform::tenancy::Tenant;
use storefront_tests::browser::Chrome;
use storefront_tests::{OWNER_PASSWORD, TestApp};

/// A store `subdomain` whose owner (`owner@<subdomain>.example.com`, [`OWNER_PASSWORD`]) has
/// signed in to its admin through the login form, in a desktop Chrome whose screenshots go
/// to `target/browser/<journey>/`.
pub async fn signed_in_owner(app: &TestApp, subdomain: &str, journey: &str) -> (Tenant, Chrome) {
    let (tenant, _) = app
        .store_with_owner(subdomain, &format!("{subdomain} goods"))
        .await;
    let mut chrome = app.chrome(&TestApp::store_host(subdomain), journey).await;
    sign_in(
        &mut chrome,
        &format!("owner@{subdomain}.example.com"),
        OWNER_PASSWORD,
    )
    .await;
    (tenant, chrome)
}

/// Signs in to the admin of the browser's store through its login form.
pub async fn sign_in(chrome: &mut Chrome, email: &str, password: &str) {
    chrome.visit("/admin/login").await;
    chrome
        .fill_form("admin-login", &[("email", email), ("password", password)])
        .await;
    chrome.submit("admin-login").await;
    assert_eq!(chrome.path().await, "/admin", "{}", chrome.text().await);
}

/// A PNG of `width`×`height` pixels in a file of its own, for upload fields.
pub fn png_file(width: u32, height: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("picture-{width}x{height}.png"));
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 140])
    });
    image.save(&path).unwrap();
    (dir, path)
}
