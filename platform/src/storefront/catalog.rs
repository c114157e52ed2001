//! Browsing: `/collections/{handle}` (and `/collections/all`), `/products/{handle}`.
//! Drafts, archived products and collections with nothing on sale are 404s.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use billing::Currency;
use serde::{Deserialize, Serialize};
use tenant_store::StoreError;
use tenant_store::catalog::{Product, Variant};
use tenant_store::shop::{self, CardPage, PageAt, ProductCard, ShopCollection, Sort};
use tower_sessions::Session;
use uuid::Uuid;

use super::layout::{self, Shop, display_money};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};
use crate::media_urls::image_url;

/// Products on a collection page.
pub const PAGE_SIZE: i64 = 24;

/// A product card as templates show it.
#[derive(Clone, Debug, Serialize)]
pub struct CardView {
    /// Handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Brand.
    pub vendor: String,
    /// "$12.00", or "From $12.00" when variants differ.
    pub price: String,
    /// The "was" price, if any.
    pub compare_at: Option<String>,
    /// Whether nothing can be bought.
    pub sold_out: bool,
    /// A small rendition of the first image.
    pub image_url: Option<String>,
    /// A larger rendition for `srcset`.
    pub image_url_large: Option<String>,
    /// Alt text of the image.
    pub image_alt: String,
    /// Image width, for layout without shifts.
    pub image_width: Option<i32>,
    /// Image height.
    pub image_height: Option<i32>,
}

/// Cards for templates.
pub fn cards(cards: Vec<ProductCard>, currency: Currency) -> Vec<CardView> {
    cards
        .into_iter()
        .map(|c| {
            let price = display_money(c.price_min_minor, currency);
            CardView {
                price: if c.price_max_minor > c.price_min_minor {
                    format!("From {price}")
                } else {
                    price
                },
                compare_at: c.compare_at_minor.map(|m| display_money(m, currency)),
                sold_out: !c.available,
                image_url: c.image_key.as_deref().map(|k| image_url(k, 480)),
                image_url_large: c.image_key.as_deref().map(|k| image_url(k, 1024)),
                image_alt: if c.image_alt.is_empty() {
                    c.title.clone()
                } else {
                    c.image_alt
                },
                image_width: c.image_width,
                image_height: c.image_height,
                handle: c.handle,
                title: c.title,
                vendor: c.vendor,
            }
        })
        .collect()
}

/// `?sort_by=&after=&before=` on a collection.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    sort_by: String,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Serialize)]
struct SortOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Serialize)]
struct CollectionView {
    shop: Shop,
    collection: CollectionInfo,
    products: Vec<CardView>,
    sort_by: &'static str,
    sort_options: Vec<SortOption>,
    next_url: Option<String>,
    previous_url: Option<String>,
    canonical_url: String,
}

#[derive(Serialize)]
struct CollectionInfo {
    handle: String,
    title: String,
    body_html: String,
}

fn page_url(handle: &str, sort: Sort, param: &str, cursor: &str) -> String {
    let mut url = format!("/collections/{handle}?");
    if sort != Sort::Featured {
        url.push_str(&format!("sort_by={}&", sort.as_str()));
    }
    url.push_str(param);
    url.push('=');
    url.push_str(&form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>());
    url
}

/// `GET /collections/{handle}`: a collection's products, sorted and paginated.
pub async fn show_collection(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let sort = Sort::parse(&q.sort_by);
    let at = match (q.after, q.before) {
        (Some(c), _) => PageAt::After(c),
        (None, Some(c)) => PageAt::Before(c),
        (None, None) => PageAt::First,
    };
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let shop = Shop::load(&app, &mut tx, &session, base.clone()).await?;
    let (info, listing): (CollectionInfo, CardPage) = if handle == "all" {
        let listing = list_or_404(shop::list_cards(&mut tx, None, sort, &at, PAGE_SIZE).await)?;
        (
            CollectionInfo {
                handle: "all".into(),
                title: "All products".into(),
                body_html: String::new(),
            },
            listing,
        )
    } else {
        let c: ShopCollection = shop::collection_by_handle(&mut tx, &handle).await?;
        let listing = list_or_404(shop::list_cards(&mut tx, Some(&c), sort, &at, PAGE_SIZE).await)?;
        (
            CollectionInfo {
                handle: c.handle,
                title: c.title,
                body_html: c.body_html,
            },
            listing,
        )
    };
    tx.end_read_only();
    let currency = shop.currency()?;
    let view = CollectionView {
        canonical_url: format!("{base}/collections/{}", info.handle),
        next_url: listing
            .next
            .as_deref()
            .map(|c| page_url(&info.handle, sort, "after", c)),
        previous_url: listing
            .previous
            .as_deref()
            .map(|c| page_url(&info.handle, sort, "before", c)),
        products: cards(listing.cards, currency),
        sort_by: sort.as_str(),
        sort_options: Sort::ALL
            .iter()
            .map(|(s, value, label)| SortOption {
                value,
                label,
                selected: *s == sort,
            })
            .collect(),
        collection: info,
        shop,
    };
    layout::page(&app, &tenant, &headers, "store/collection.html", &view).await
}

/// A cursor from another list (or typed by hand) is a 404, not a 422: the page doesn't exist.
fn list_or_404(r: Result<CardPage, StoreError>) -> Result<CardPage, AppError> {
    match r {
        Err(StoreError::Invalid { field: "page", .. }) => Err(AppError::NotFound),
        other => Ok(other?),
    }
}

/// `?variant=<id>` or `?option1=..&option2=..&option3=..` choosing a variant.
#[derive(Debug, Default, Deserialize)]
pub struct VariantQuery {
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    option1: Option<String>,
    #[serde(default)]
    option2: Option<String>,
    #[serde(default)]
    option3: Option<String>,
}

#[derive(Serialize)]
struct OptionView {
    /// `option1`..`option3`.
    field: String,
    name: String,
    values: Vec<OptionValue>,
}

#[derive(Serialize)]
struct OptionValue {
    value: String,
    selected: bool,
}

#[derive(Serialize)]
struct VariantView {
    id: Uuid,
    title: String,
    options: Vec<Option<String>>,
    sku: String,
    price: String,
    price_minor: i64,
    compare_at: Option<String>,
    available: bool,
    /// "In stock", "Only 3 left", "Sold out".
    stock_label: String,
    max_quantity: i32,
}

#[derive(Serialize)]
struct ImageView {
    url: String,
    url_large: String,
    url_thumb: String,
    alt: String,
    width: i32,
    height: i32,
}

#[derive(Serialize)]
struct ProductView {
    shop: Shop,
    product: ProductInfo,
    options: Vec<OptionView>,
    variants: Vec<VariantView>,
    /// The chosen variant; None when the chosen options match no variant.
    selected: Option<VariantView>,
    /// "This combination is unavailable." and the like.
    selection_message: Option<String>,
    /// An add-to-cart problem (stock, quantity), shown next to the quantity.
    error: Option<String>,
    quantity: String,
    images: Vec<ImageView>,
    related: Vec<CardView>,
    canonical_url: String,
    json_ld: String,
}

#[derive(Serialize)]
struct ProductInfo {
    handle: String,
    title: String,
    body_html: String,
    vendor: String,
    product_type: String,
    seo_title: String,
    seo_description: String,
    has_options: bool,
}

/// Which variant the query picks: by id, else by option values (a product without
/// options has its one variant), else the first available one.
pub(super) fn choose<'a>(
    product: &'a Product,
    q: &VariantQuery,
) -> (Option<&'a Variant>, Option<String>) {
    if let Some(v) = q
        .variant
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok())
        .and_then(|id| product.variants.iter().find(|v| v.id == id))
    {
        return (Some(v), None);
    }
    let chosen = [&q.option1, &q.option2, &q.option3];
    if chosen.iter().any(|o| o.is_some()) && !product.options.is_empty() {
        let wanted: Vec<Option<&str>> = chosen
            .iter()
            .take(product.options.len())
            .map(|o| o.as_deref())
            .collect();
        let found = product.variants.iter().find(|v| {
            let have = [&v.option1, &v.option2, &v.option3];
            wanted
                .iter()
                .zip(have)
                .all(|(w, h)| w.is_none() || *w == h.as_deref())
        });
        return match found {
            Some(v) => (Some(v), None),
            None => (None, Some("This combination is unavailable.".to_owned())),
        };
    }
    let first = product
        .variants
        .iter()
        .find(|v| v.available())
        .or(product.variants.first());
    (first, None)
}

fn variant_view(v: &Variant, currency: Currency) -> VariantView {
    let stock_label = match v.stock_shown() {
        _ if !v.available() => "Sold out".to_owned(),
        Some(left) => format!("Only {left} left"),
        None => "In stock".to_owned(),
    };
    VariantView {
        id: v.id,
        title: v.title(),
        options: vec![v.option1.clone(), v.option2.clone(), v.option3.clone()],
        sku: v.sku.clone(),
        price: display_money(v.price_minor, currency),
        price_minor: v.price_minor,
        compare_at: v
            .compare_at_minor
            .filter(|c| *c > v.price_minor)
            .map(|c| display_money(c, currency)),
        available: v.available(),
        stock_label,
        // Only the stock the page tells (a sale above it leaves cached pages alone); adding
        // more than there is gets the cart's "only N left" message.
        max_quantity: v
            .stock_shown()
            .unwrap_or(tenant_store::cart::MAX_LINE_QUANTITY),
    }
}
/// The product as schema.org's `Product` (JSON-LD), for search engines: serialized from
/// these structures straight into the page's string.
#[derive(Serialize)]
struct LdProduct<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
    description: std::borrow::Cow<'a, str>,
    brand: LdBrand<'a>,
    image: Vec<String>,
    offers: Vec<LdOffer<'a>>,
}

#[derive(Serialize)]
struct LdBrand<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LdOffer<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    sku: &'a str,
    price: String,
    price_currency: &'a str,
    availability: &'static str,
    url: String,
}

fn json_ld(product: &Product, currency: Currency, base: &str, images: &[ImageView]) -> String {
    let doc = LdProduct {
        context: "https://schema.org",
        kind: "Product",
        name: &product.title,
        description: if product.seo_description.is_empty() {
            strip_tags(&product.body_html).into()
        } else {
            product.seo_description.as_str().into()
        },
        brand: LdBrand {
            kind: "Brand",
            name: &product.vendor,
        },
        image: images
            .iter()
            .map(|i| format!("{base}{}", i.url_large))
            .collect(),
        offers: product
            .variants
            .iter()
            .map(|v| LdOffer {
                kind: "Offer",
                sku: &v.sku,
                price: billing::Money::new(v.price_minor, currency).to_decimal_string(),
                price_currency: currency.as_str(),
                availability: if v.available() {
                    "https://schema.org/InStock"
                } else {
                    "https://schema.org/OutOfStock"
                },
                url: format!("{base}/products/{}?variant={}", product.handle, v.id),
            })
            .collect(),
    };
    let json = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned());
    // Inside <script>, "</" must not appear: escape it the JSON way.
    if json.contains("</") {
        json.replace("</", "<\\/")
    } else {
        json
    }
}

/// Plain text of sanitized HTML, for meta descriptions.
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let text = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    text.chars().take(300).collect()
}

/// An add to cart that was refused: the message, and the quantity the shopper typed.
pub struct Refused {
    /// Shown next to the quantity.
    pub message: String,
    /// Kept in the quantity field.
    pub quantity: Option<String>,
}

/// Renders a product page, or with `refused` the page again after a refused add to cart.
pub async fn render_product(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    headers: &HeaderMap,
    handle: &str,
    q: &VariantQuery,
    refused: Option<Refused>,
) -> Result<Response, AppError> {
    let (error, quantity) = match refused {
        Some(r) => (Some(r.message), r.quantity),
        None => (None, None),
    };
    let base = request_base_url(app, headers);
    let (product, related, shop) =
        match read_product_page(app, tenant, session, handle, &base).await? {
            Some(read) => read,
            None => {
                // No active product has the handle: perhaps one had it before.
                let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
                let product = match shop::product_by_handle(&mut tx, handle).await? {
                    shop::ProductLookup::Found(p) => p,
                    shop::ProductLookup::Moved(to) => {
                        tx.end_read_only();
                        return Ok(layout::moved(&format!("/products/{to}")));
                    }
                };
                let shop = Shop::load(app, &mut tx, session, base.clone()).await?;
                let related = shop::related(&mut tx, product.id, shop::RELATED_ON_PAGE).await?;
                tx.end_read_only();
                (*product, related, shop)
            }
        };
    let currency = shop.currency()?;

    let (chosen, selection_message) = choose(&product, q);
    let selected_values: Vec<Option<String>> = match chosen {
        Some(v) => vec![v.option1.clone(), v.option2.clone(), v.option3.clone()],
        None => vec![q.option1.clone(), q.option2.clone(), q.option3.clone()],
    };
    let options = product
        .options
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut values: Vec<String> = Vec::new();
            for v in &product.variants {
                let value = [&v.option1, &v.option2, &v.option3][i].clone();
                if let Some(value) = value
                    && !values.contains(&value)
                {
                    values.push(value);
                }
            }
            OptionView {
                field: format!("option{}", i + 1),
                name: name.clone(),
                values: values
                    .into_iter()
                    .map(|value| OptionValue {
                        selected: selected_values.get(i).and_then(|s| s.as_deref())
                            == Some(value.as_str()),
                        value,
                    })
                    .collect(),
            }
        })
        .collect();
    let images: Vec<ImageView> = product
        .images
        .iter()
        .map(|i| ImageView {
            url: image_url(&i.storage_key, 480),
            url_large: image_url(&i.storage_key, 1024),
            url_thumb: image_url(&i.storage_key, 160),
            alt: if i.alt.is_empty() {
                product.title.clone()
            } else {
                i.alt.clone()
            },
            width: i.width,
            height: i.height,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let view = ProductView {
        json_ld: json_ld(&product, currency, &base, &images),
        canonical_url: format!("{base}/products/{}", product.handle),
        selected: chosen.map(|v| variant_view(v, currency)),
        variants: product
            .variants
            .iter()
            .map(|v| variant_view(v, currency))
            .collect(),
        options,
        selection_message,
        error,
        quantity: quantity.unwrap_or_else(|| "1".into()),
        images,
        related: cards(related, currency),
        product: ProductInfo {
            handle: product.handle.clone(),
            title: product.title.clone(),
            body_html: product.body_html.clone(),
            vendor: product.vendor.clone(),
            product_type: product.product_type.clone(),
            seo_title: product.seo_title.clone(),
            seo_description: if product.seo_description.is_empty() {
                strip_tags(&product.body_html)
            } else {
                product.seo_description.clone()
            },
            has_options: !product.options.is_empty(),
        },
        shop,
    };
    if status == StatusCode::OK {
        return layout::page(app, tenant, headers, "store/product.html", &view).await;
    }
    layout::page_with_status(app, tenant, status, "store/product.html", &view).await
}

/// The product page's reading in one statement sent as one message with its tenant scope
/// ([`tenant_store::read_at_once`]): the product, its related cards, the session's row if
/// it is still to be read and the cart's count; the store's frame comes from the node's
/// memory. None when no active product has the handle.
async fn read_product_page(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    handle: &str,
    base: &str,
) -> Result<Option<(Product, Vec<ProductCard>, Shop)>, AppError> {
    let unread = crate::sessions::unread(session);
    // A session read already (by a layer in front) names its cart itself.
    let cart = match unread {
        Some(_) => None,
        None => layout::cart_id(session).await?,
    };
    let session_id = unread.map(|id| id.to_string()).unwrap_or_default();
    let cart = cart.map(|c| c.to_string()).unwrap_or_default();
    let read = tenant_store::ReadStatement {
        name: "product_page",
        sql: &shop::PRODUCT_PAGE,
    };
    let rows = tenant_store::read_at_once(
        &app.reads,
        &tenant.schema,
        read,
        &[handle, &session_id, layout::CART_KEY, &cart],
    )
    .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let page = shop::ProductPage::from_row(row)?;
    if let Some(id) = unread {
        crate::sessions::hand_over_row(session, id, page.session)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    let mut shop = Shop::without_cart(app, &tenant.schema, base.to_owned()).await?;
    shop.cart_count = super::page_cache::cart_count_of_this_page().unwrap_or(page.cart_count);
    Ok(Some((page.product, page.related, shop)))
}

/// `GET /products/{handle}`: the product page, with the variant the query chooses.
pub async fn show_product(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Query(q): Query<VariantQuery>,
) -> Result<Response, AppError> {
    render_product(&app, &tenant, &session, &headers, &handle, &q, None).await
}

/// `GET /collections/{collection}/products/{handle}`: Shopify's nested product URL; the
/// canonical link points at `/products/{handle}`.
pub async fn show_nested_product(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Path((_, handle)): Path<(String, String)>,
    Query(q): Query<VariantQuery>,
) -> Result<Response, AppError> {
    render_product(&app, &tenant, &session, &headers, &handle, &q, None).await
}

/// Option values from a submitted form, for re-choosing a variant.
pub fn variant_query(fields: &HashMap<String, String>) -> VariantQuery {
    VariantQuery {
        variant: fields.get("id").cloned().filter(|s| !s.is_empty()),
        option1: fields.get("option1").cloned(),
        option2: fields.get("option2").cloned(),
        option3: fields.get("option3").cloned(),
    }
}
