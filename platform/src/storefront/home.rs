//! `GET /`: the store's home page: branding, a featured collection, the newest products
//! and the latest news.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use tenant_store::StoreError;
use tenant_store::shop::{self, PageAt, Sort};
use tower_sessions::Session;

use super::catalog::{CardView, cards};
use super::layout::{self, Shop};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};

/// Products shown from the featured collection and from the newest.
const SHOWN: i64 = 8;
/// The collection Shopify themes feature on the home page, when the store has one.
const FEATURED_HANDLE: &str = "frontpage";

#[derive(Serialize)]
struct Featured {
    handle: String,
    title: String,
    body_html: String,
    products: Vec<CardView>,
}

#[derive(Serialize)]
struct HomeView {
    shop: Shop,
    featured: Option<Featured>,
    newest: Vec<CardView>,
    news: Vec<tenant_store::content::ArticleSummary>,
    canonical_url: String,
}

/// The home page.
pub async fn show_home(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let shop = Shop::load(&app, &mut tx, &session, base.clone()).await?;
    let featured = match shop::collection_by_handle(&mut tx, FEATURED_HANDLE).await {
        Ok(c) => Some(c),
        Err(StoreError::NotFound) => shop::collections(&mut tx, 1).await?.into_iter().next(),
        Err(e) => return Err(e.into()),
    };
    let featured = match featured {
        Some(c) => {
            let listing =
                shop::list_cards(&mut tx, Some(&c), Sort::Featured, &PageAt::First, SHOWN).await?;
            Some((c, listing.cards))
        }
        None => None,
    };
    let newest = shop::list_cards(&mut tx, None, Sort::Newest, &PageAt::First, SHOWN).await?;
    let news = super::content::latest_news(&mut tx, 3).await?;
    tx.end_read_only();
    let currency = shop.currency()?;
    let view = HomeView {
        featured: featured.map(|(c, products)| Featured {
            handle: c.handle,
            title: c.title,
            body_html: c.body_html,
            products: cards(products, currency),
        }),
        newest: cards(newest.cards, currency),
        news,
        canonical_url: format!("{base}/"),
        shop,
    };
    layout::page(&app, &tenant, &headers, "store/home.html", &view).await
}
