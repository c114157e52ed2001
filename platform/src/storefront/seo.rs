//! `/robots.txt` and the sitemaps: `/sitemap.xml` is an index of `/sitemaps/products.xml`
//! pages (each up to [`URLS_PER_SITEMAP`] products, keyed by product id so any page costs
//! the same) and `/sitemaps/collections.xml`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::with_validators;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};

/// URLs in one products sitemap (the protocol allows 50,000).
pub const URLS_PER_SITEMAP: i64 = 5_000;

const XML: &str = "application/xml; charset=utf-8";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// `GET /robots.txt`.
pub async fn robots(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let base = request_base_url(&app, &headers);
    let body = format!(
        "User-agent: *\nDisallow: /admin\nDisallow: /cart\nDisallow: /checkout\nDisallow: /orders\n\
         Disallow: /account\nDisallow: /search\nDisallow: /*?*sort_by*\n\nSitemap: {base}/sitemap.xml\n"
    );
    with_validators(&headers, StatusCode::OK, body, "text/plain; charset=utf-8")
}

/// `GET /sitemap.xml`: the index.
pub async fn sitemap_index(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    // The first id of every page: one pass over the primary key of active products.
    let starts: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM products \
         WHERE status = 'active') s WHERE (n - 1) % $1 = 0 ORDER BY id",
    )
    .bind(URLS_PER_SITEMAP)
    .fetch_all(&mut *tx)
    .await?;
    tx.end_read_only();
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for start in starts {
        body.push_str(&format!(
            "  <sitemap><loc>{base}/sitemaps/products.xml?from={start}</loc></sitemap>\n"
        ));
    }
    body.push_str(&format!(
        "  <sitemap><loc>{base}/sitemaps/collections.xml</loc></sitemap>\n</sitemapindex>\n"
    ));
    Ok(with_validators(&headers, StatusCode::OK, body, XML))
}

/// `?from=<product id>`.
#[derive(Deserialize)]
pub struct FromQuery {
    #[serde(default)]
    from: Option<Uuid>,
}

/// `GET /sitemaps/products.xml?from=<id>`: up to [`URLS_PER_SITEMAP`] products from `from`.
pub async fn products_sitemap(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    Query(q): Query<FromQuery>,
) -> Result<Response, AppError> {
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let rows: Vec<(String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "SELECT handle, updated_at, image_key FROM products \
         WHERE status = 'active' AND id >= $1 ORDER BY id LIMIT $2",
    )
    .bind(q.from.unwrap_or(Uuid::nil()))
    .bind(URLS_PER_SITEMAP)
    .fetch_all(&mut *tx)
    .await?;
    tx.end_read_only();
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" \
         xmlns:image=\"http://www.google.com/schemas/sitemap-image/1.1\">\n",
    );
    for (handle, updated, image) in rows {
        body.push_str(&format!(
            "  <url><loc>{base}/products/{}</loc><lastmod>{}</lastmod>",
            escape(&handle),
            updated.format("%Y-%m-%d")
        ));
        if let Some(key) = image {
            body.push_str(&format!(
                "<image:image><image:loc>{base}{}</image:loc></image:image>",
                escape(&crate::media_urls::image_url(&key, 1024))
            ));
        }
        body.push_str("</url>\n");
    }
    body.push_str("</urlset>\n");
    Ok(with_validators(&headers, StatusCode::OK, body, XML))
}

/// `GET /sitemaps/collections.xml`: the home page and every collection with products.
pub async fn collections_sitemap(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let collections = tenant_store::shop::collections(&mut tx, 50_000).await?;
    tx.end_read_only();
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    body.push_str(&format!("  <url><loc>{base}/</loc></url>\n"));
    body.push_str(&format!("  <url><loc>{base}/collections/all</loc></url>\n"));
    for c in collections {
        body.push_str(&format!(
            "  <url><loc>{base}/collections/{}</loc></url>\n",
            escape(&c.handle)
        ));
    }
    body.push_str("</urlset>\n");
    Ok(with_validators(&headers, StatusCode::OK, body, XML))
}
