//! Whole journeys in a real browser: a merchant opens a store and sets it up, shoppers buy
//! from it at desktop and phone size, and the merchant ships and refunds.

use std::time::Duration;

use secrecy::SecretString;
use storefront_tests::TestApp;
use storefront_tests::browser::Chrome;
use storefront_tests::smtp::SmtpReceiver;

use super::png_file;

const PASSWORD: &str = "correct horse battery";
const MAIL_WAIT: Duration = Duration::from_secs(15);

/// Keys WebDriver types for ArrowDown and Enter.
const ARROW_DOWN: &str = "\u{E015}";
const ENTER: &str = "\u{E007}";

/// The merchant: from the platform's landing page to a store with a logo, a product with
/// options, variants and a photo, a collection, shipping, a tax, a discount code and the
/// test card.
async fn open_and_set_up_a_store(app: &TestApp, smtp: &SmtpReceiver) -> Chrome {
    let mut chrome = app.chrome("storefront.test", "merchant-setup").await;
    chrome.visit("/").await;
    chrome.follow("a[href='/signup']").await;
    chrome
        .fill_form(
            "signup",
            &[
                ("store_name", "Fjord Knitwear"),
                ("subdomain", "fjord"),
                ("email", "owner@fjord.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    chrome.submit("signup").await;
    // The login link of the signup lands in the new store's admin, signed in.
    chrome.host = TestApp::store_host("fjord");
    assert_eq!(chrome.url().await.host_str(), Some("fjord.storefront.test"));
    assert_eq!(chrome.path().await, "/admin");
    assert!(
        chrome
            .text()
            .await
            .contains("Please confirm your email address"),
        "{}",
        chrome.text().await
    );

    // The verification link from the mail.
    let mails = smtp.wait_for(1, MAIL_WAIT).await;
    let link = mails[0]
        .find_link("http://storefront.test/account/verify/")
        .expect("a verification link in the signup mail");
    chrome.visit(&link).await;
    assert!(
        chrome
            .text()
            .await
            .contains("your email address is verified")
    );
    chrome.visit("/admin").await;
    assert!(
        !chrome
            .text()
            .await
            .contains("Please confirm your email address")
    );

    // Settings: contact details and a logo narrower than any rendition the store shows.
    chrome.visit("/admin/settings").await;
    chrome
        .fill_form(
            "settings-save",
            &[
                ("contact_email", "hello@fjord.example"),
                ("phone", "+47 22 00 00 00"),
                ("address_line1", "Strandgata 1"),
                ("city", "Bergen"),
                ("postal_code", "5004"),
                ("country", "NO"),
                ("seo_title", "Fjord Knitwear: wool from the west coast"),
                ("refund_policy", "Return unworn items within 30 days."),
            ],
        )
        .await;
    chrome.submit("settings-save").await;
    assert!(chrome.text().await.contains("Settings saved."));
    let (_dir, logo) = png_file(400, 120);
    chrome.upload("#logo-file", &logo).await;
    chrome.fill("#logo-alt", "Fjord Knitwear").await;
    chrome.submit("logo-upload").await;
    assert!(chrome.has("img[alt='Fjord Knitwear']").await);

    // A product with two options, three variants and a photo.
    chrome.visit("/admin/products/new").await;
    chrome
        .fill_form(
            "product-save",
            &[
                ("title", "Lopi sweater"),
                ("body", "Hand-knitted from **Icelandic wool**."),
                ("status", "active"),
                ("vendor", "Fjord"),
                ("product_type", "Sweaters"),
                ("option1", "Size"),
                ("option2", "Colour"),
                ("v0_o1", "M"),
                ("v0_o2", "Grey"),
                ("v0_sku", "LOPI-M-GREY"),
                ("v0_price", "129.00"),
                ("v0_grams", "700"),
                ("v0_track", "on"),
                ("v0_qty", "8"),
                ("v1_o1", "L"),
                ("v1_o2", "Grey"),
                ("v1_sku", "LOPI-L-GREY"),
                ("v1_price", "139.00"),
                ("v1_grams", "750"),
                ("v1_track", "on"),
                ("v1_qty", "3"),
                ("v2_o1", "L"),
                ("v2_o2", "Blue"),
                ("v2_sku", "LOPI-L-BLUE"),
                ("v2_price", "139.00"),
                ("v2_grams", "750"),
                ("v2_track", "on"),
                ("v2_qty", "0"),
            ],
        )
        .await;
    chrome
        .click("form[data-form='product-save'] input[name=body_format][value=markdown]")
        .await;
    chrome.submit("product-save").await;
    assert!(chrome.path().await.starts_with("/admin/products/"));
    let (_dir, photo) = png_file(800, 800);
    chrome
        .upload("form[data-form='image-upload'] input[type=file]", &photo)
        .await;
    chrome.submit("image-upload").await;
    assert!(chrome.has("img[src^='/media/']").await);

    // A collection holding it.
    chrome.visit("/admin/collections/new").await;
    chrome
        .fill_form(
            "collection-save",
            &[
                ("title", "Winter"),
                ("published", "on"),
                ("products", "lopi-sweater"),
            ],
        )
        .await;
    chrome.submit("collection-save").await;
    assert!(chrome.text().await.contains("Winter"));

    // Shipping, a tax, a discount code and the test card.
    chrome.visit("/admin/settings/shipping/new").await;
    chrome
        .fill_form(
            "shipping-rate-save",
            &[("name", "Standard"), ("price", "9.00")],
        )
        .await;
    chrome
        .click("form[data-form='shipping-rate-save'] input[name=kind][value=flat]")
        .await;
    chrome.submit("shipping-rate-save").await;
    assert!(chrome.text().await.contains("Standard"));

    chrome.visit("/admin/settings/taxes").await;
    chrome
        .fill_form(
            "tax-rate-add",
            &[("country", "NO"), ("name", "MVA"), ("rate", "25")],
        )
        .await;
    chrome.submit("tax-rate-add").await;
    assert!(chrome.text().await.contains("MVA"));

    chrome.visit("/admin/discounts/new").await;
    chrome
        .fill_form("discount-save", &[("code", "WINTER10"), ("value", "10")])
        .await;
    chrome
        .click("form[data-form='discount-save'] input[name=kind][value=percentage]")
        .await;
    chrome.submit("discount-save").await;
    assert!(chrome.text().await.contains("WINTER10"));

    chrome.visit("/admin/settings/payments/test").await;
    chrome
        .fill_form("gateway-save", &[("enabled", "on"), ("label", "Test card")])
        .await;
    chrome.submit("gateway-save").await;
    assert!(chrome.text().await.contains("Enabled"));
    chrome
}

/// What one shopper buys.
struct Purchase {
    size: &'static str,
    colour: &'static str,
    quantity: &'static str,
    email: &'static str,
    /// What the product page says of the variant's stock.
    stock: &'static str,
    /// The order's total: (price × quantity − 10 %) + 25 % MVA on that + 9.00 shipping.
    total: &'static str,
}

/// A shopper on the store's own host: home, collection, product (the variant picker),
/// cart, search with suggestions by keyboard, checkout as a guest with the discount code, a
/// declined card and then a good one, the order page and its invoice. Returns the order's
/// number as shown.
async fn shop(chrome: &mut Chrome, buy: &Purchase) -> String {
    chrome.visit("/").await;
    assert!(chrome.has("header img[alt='Fjord Knitwear']").await);
    chrome.follow("a[href='/collections/all']").await;
    chrome.visit("/collections/winter").await;
    assert!(chrome.text().await.contains("Lopi sweater"));
    chrome.follow("a[href='/products/lopi-sweater']").await;

    // Choosing options updates the price, stock and button in place.
    chrome.select("#option1", "L").await;
    chrome.select("#option2", "Blue").await;
    chrome
        .wait_until(
            "the sold-out variant to show",
            "return document.querySelector('button[data-add], form.buy-form button.button').textContent.trim() === 'Sold out';",
        )
        .await;
    assert!(chrome.text_of("[data-price]").await.contains("139.00"));
    chrome.select("#option1", buy.size).await;
    chrome.select("#option2", buy.colour).await;
    chrome
        .wait_until(
            "the chosen variant to be on sale",
            "return document.querySelector('form.buy-form button.button').textContent.trim() === 'Add to cart';",
        )
        .await;
    let price = if buy.size == "M" { "129.00" } else { "139.00" };
    assert!(chrome.text_of("[data-price]").await.contains(price));
    let stock = chrome.text_of("[data-stock]").await;
    assert!(stock.contains(buy.stock), "{stock}");
    chrome.check().await;
    chrome.submit("cart-add").await;

    // The cart: change the quantity.
    if chrome.path().await != "/cart" {
        chrome.visit("/cart").await;
    }
    assert!(chrome.text().await.contains("Lopi sweater"));
    chrome
        .fill(
            "form[data-form='cart-change'] input[name=quantity]",
            buy.quantity,
        )
        .await;
    chrome.submit("cart-change").await;
    assert_eq!(
        chrome
            .value("form[data-form='cart-change'] input[name=quantity]")
            .await,
        buy.quantity
    );

    // Search: suggestions as one types, chosen with the keyboard; then the results page.
    chrome.fill("#site-search", "lopi").await;
    chrome
        .wait_until(
            "suggestions to open",
            "const i = document.querySelector('#site-search'); return i.getAttribute('aria-expanded') === 'true';",
        )
        .await;
    chrome.check().await;
    chrome.press("#site-search", ARROW_DOWN).await;
    let active = chrome
        .attr("#site-search", "aria-activedescendant")
        .await
        .unwrap_or_default();
    assert!(!active.is_empty(), "ArrowDown makes a suggestion active");
    chrome.press("#site-search", ENTER).await;
    chrome
        .wait_until(
            "the suggestion's page",
            "return location.pathname === '/products/lopi-sweater' && document.readyState === 'complete';",
        )
        .await;
    chrome.check().await;
    chrome.fill("#site-search", "sweater").await;
    chrome.submit("site-search").await;
    assert!(chrome.path().await.starts_with("/search?q=sweater"));
    assert!(chrome.text().await.contains("Lopi sweater"));

    // Checkout as a guest.
    chrome.visit("/checkout").await;
    chrome
        .fill_form(
            "checkout",
            &[
                ("email", buy.email),
                ("first_name", "Ingrid"),
                ("last_name", "Berg"),
                ("address1", "Bryggen 7"),
                ("city", "Bergen"),
                ("zip", "5003"),
                ("country", "NO"),
                ("discount_code", "WINTER10"),
            ],
        )
        .await;
    chrome.submit_button("checkout", "Update totals").await;
    chrome.click("input[name=shipping_rate]").await;
    chrome.click("input[name=gateway][value=test]").await;
    chrome.submit_button("checkout", "Update totals").await;
    let summary = chrome.text_of(".order-summary").await;
    for part in ["Discount (WINTER10)", "Shipping", "MVA (25%)", buy.total] {
        assert!(summary.contains(part), "{part} in {summary}");
    }
    let place = chrome
        .js(
            "return Array.from(document.querySelectorAll('form[data-form=checkout] button')).map(b => b.innerText.trim()).find(t => t.startsWith('Place order'));",
            vec![],
        )
        .await;
    chrome
        .submit_button("checkout", place.as_str().expect("a Place order button"))
        .await;

    // The test card: declined first, then paid.
    assert!(
        chrome.path().await.ends_with("/pay"),
        "{}",
        chrome.path().await
    );
    chrome
        .fill("input[name=card_number]", "4000 0000 0000 0002")
        .await;
    chrome.expect_status(422).submit("pay").await;
    assert!(chrome.text().await.to_lowercase().contains("declined"));
    chrome
        .fill("input[name=card_number]", "4242 4242 4242 4242")
        .await;
    chrome.submit("pay").await;
    let status = chrome.text_of(".order-status").await;
    assert!(status.contains("Your payment was received"), "{status}");
    assert!(chrome.text().await.contains(buy.total));
    let number = chrome
        .text_of("h1")
        .await
        .trim_start_matches("Order ")
        .to_owned();
    chrome.follow("a[href$='/invoice']").await;
    assert!(chrome.text().await.contains(&number));
    number
}

/// The merchant ships the first order with a tracking number, refunds part of it, and
/// reads the sales report.
async fn fulfil_refund_and_report(chrome: &mut Chrome, number: &str) {
    chrome.visit("/admin/orders").await;
    chrome.follow_link(number).await;
    let heading = chrome.text_of("h1").await;
    assert!(heading.contains(number), "{heading} is the order {number}");
    chrome
        .fill_form(
            "order-fulfil",
            &[("carrier", "Posten"), ("tracking_number", "LX123456789NO")],
        )
        .await;
    chrome.submit("order-fulfil").await;
    let page = chrome.text().await;
    assert!(page.contains("LX123456789NO"), "{page}");
    assert!(chrome.has("[data-fulfillment-status=fulfilled]").await || page.contains("Fulfilled"));

    chrome
        .fill_form("order-refund", &[("amount", "20.00")])
        .await;
    chrome.submit("order-refund").await;
    assert!(chrome.text_of("[data-refunded]").await.contains("20.00"));
    assert!(chrome.text().await.contains("Partially refunded"));

    chrome.visit("/admin/reports").await;
    chrome.select("#period", "Month").await;
    chrome.submit("reports-range").await;
    assert!(chrome.path().await.contains("period=month"));
    let table = chrome.text_of("#sales-table").await;
    assert!(table.contains('2'), "two orders in the month: {table}");
}

#[tokio::test]
async fn a_merchant_opens_a_store_and_shoppers_buy_from_it_on_a_laptop_and_a_phone() {
    let smtp = SmtpReceiver::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(|s| s.smtp_url = Some(SecretString::from(url))).await;
    let merchant = open_and_set_up_a_store(&app, &smtp).await;

    let host = TestApp::store_host("fjord");
    let mut laptop = app.chrome(&host, "shopper-desktop").await;
    let mut phone = app.phone(&host, "shopper-phone").await;
    let (first, second) = tokio::join!(
        shop(
            &mut laptop,
            &Purchase {
                size: "L",
                colour: "Grey",
                quantity: "2",
                email: "ingrid@example.com",
                stock: "Only 3 left",
                total: "$321.75",
            }
        ),
        shop(
            &mut phone,
            &Purchase {
                size: "M",
                colour: "Grey",
                quantity: "1",
                email: "sofie@example.com",
                stock: "In stock",
                total: "$154.13",
            }
        ),
    );
    assert_ne!(first, second);
    laptop.close().await;
    phone.close().await;

    let mut merchant = merchant;
    fulfil_refund_and_report(&mut merchant, &first).await;
    merchant.close().await;
}
