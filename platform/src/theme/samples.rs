//! Sample views for test-rendering a merchant's template before it is saved. They only
//! need to be close to the real views: a page is test-rendered only when the default
//! theme's own template renders with its sample, so a sample that has fallen behind a view
//! turns the check off instead of refusing good templates. Text that can be long on a real
//! store (a product's description) is long here too, so a template whose memory grows with
//! it is refused at save rather than on the store.

use serde_json::{Value, json};

/// `(page template, view)` for the pages a sample exists for, around the store's real
/// `shop` frame.
pub fn pages(shop: Value) -> Vec<(&'static str, Value)> {
    let card = json!({
        "handle": "sample-product",
        "title": "Sample product",
        "vendor": "Sample vendor",
        "price": "$10.00",
        "compare_at": "$12.00",
        "sold_out": false,
        "image_url": null,
        "image_url_large": null,
        "image_alt": "",
        "image_width": null,
        "image_height": null,
    });
    let canonical = "https://example.com/";
    let variant = json!({
        "id": "01a24819-f3ad-702f-ad57-9106255cd426",
        "title": "M / Blue",
        "options": ["M", "Blue", null],
        "sku": "SAMPLE-1",
        "price": "$10.00",
        "price_minor": 1000,
        "compare_at": "$12.00",
        "available": true,
        "stock_label": "In stock",
        "max_quantity": 3,
    });
    let option = |field: &str, name: &str, value: &str| json!({ "field": field, "name": name, "values": [{ "value": value, "selected": true }] });
    vec![
        (
            "store/product.html",
            json!({
                "shop": shop,
                "canonical_url": canonical,
                "product": {
                    "handle": "sample-product",
                    "title": "Sample product",
                    "body_html": long_description(),
                    "vendor": "Sample vendor",
                    "product_type": "Sample",
                    "seo_title": "",
                    "seo_description": "A sample product.",
                    "has_options": true,
                },
                "options": [option("option1", "Size", "M"), option("option2", "Colour", "Blue")],
                "variants": [variant],
                "selected": variant,
                "selection_message": null,
                "error": null,
                "quantity": "1",
                "images": [{
                    "url": "/media/sample/480.webp",
                    "url_large": "/media/sample/1024.webp",
                    "url_thumb": "/media/sample/160.webp",
                    "alt": "Sample product",
                    "width": 1024,
                    "height": 1024,
                }],
                "related": [card],
                "json_ld": "{}",
            }),
        ),
        (
            "store/home.html",
            json!({
                "shop": shop,
                "canonical_url": canonical,
                "featured": { "handle": "frontpage", "title": "Featured", "products": [card] },
                "newest": [card],
            }),
        ),
        (
            "store/collection.html",
            json!({
                "shop": shop,
                "canonical_url": canonical,
                "collection": { "handle": "all", "title": "All products", "body_html": "<p>All of them.</p>" },
                "products": [card],
                "sort_options": [{ "value": "best", "label": "Featured", "selected": true }],
                "sort": "best",
                "previous_url": null,
                "next_url": "/collections/all?page=2",
            }),
        ),
        (
            "store/policy.html",
            json!({
                "shop": shop,
                "canonical_url": canonical,
                "title": "Refund policy",
                "body_html": "<p>Returns within 30 days.</p>",
            }),
        ),
        (
            "store/contact.html",
            json!({
                "shop": shop,
                "canonical_url": canonical,
                "form": { "name": "", "email": "", "phone": "", "body": "" },
                "errors": {},
                "sent": false,
            }),
        ),
        ("store/404.html", json!({ "shop": shop })),
    ]
}

/// A product description as long as merchants' longest (64 KB of HTML).
fn long_description() -> String {
    let paragraph = "<p>Made by hand from <strong>organic linen</strong>, washed for softness \
                     and cut to last: a sample paragraph of a long product description.</p>\n";
    paragraph.repeat(64 * 1024 / paragraph.len())
}
