//! Sample views for test-rendering a merchant's template before it is saved. They only
//! need to be close to the real views: a page is test-rendered only when the default
//! theme's own template renders with its sample, so a sample that has fallen behind a view
//! turns the check off instead of refusing good templates.

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
    vec![
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
