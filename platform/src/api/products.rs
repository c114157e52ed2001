//! `/admin/api/v1/products`: products with their variants, options and images in Shopify's
//! shape (`{"product": {...}}`, decimal-string prices, comma-separated tags).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use billing::{Currency, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest as _, Sha256};
use tenant_store::catalog::{
    self, BodyFormat, Cursor, Product, ProductFilter, ProductInput, Status, Variant, VariantInput,
};
use tenant_store::{StoreError, audit, settings};
use utoipa::ToSchema;
use uuid::Uuid;

use super::paging::{DEFAULT_LIMIT, json_with_next, parse_limit};
use super::{ApiClient, ApiError, JsonBody, path_id};
use crate::api_tokens::Scope;
use crate::app::AppState;
use crate::error::AppError;
use crate::media_urls;
use crate::tenancy;

/// The width of the image rendition `src` points at.
const IMAGE_WIDTH: u32 = 1024;

/// A product as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductJson {
    /// Identifier.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// The description as sanitized HTML.
    pub body_html: String,
    /// Brand.
    pub vendor: String,
    /// The merchant's category.
    pub product_type: String,
    /// URL handle (`/products/{handle}` on the storefront).
    pub handle: String,
    /// `active`, `draft` or `archived`.
    #[schema(example = "active")]
    pub status: String,
    /// Tags, comma-separated.
    #[schema(example = "cotton, summer")]
    pub tags: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was first made active.
    pub published_at: Option<DateTime<Utc>>,
    /// Variants in order.
    pub variants: Vec<VariantJson>,
    /// Options in order, with the values the variants use.
    pub options: Vec<OptionJson>,
    /// Images in order.
    pub images: Vec<ImageJson>,
    /// The first image.
    pub image: Option<ImageJson>,
}

/// A variant as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantJson {
    /// Identifier.
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// "S / Blue", or "Default Title" without options.
    pub title: String,
    /// Order within the product (1-based).
    pub position: i32,
    /// Stock-keeping unit ("" when none).
    pub sku: String,
    /// Price in the store's currency, as a decimal string.
    #[schema(example = "25.00")]
    pub price: String,
    /// Former price shown struck through.
    #[schema(example = "30.00")]
    pub compare_at_price: Option<String>,
    /// Value of the first option.
    pub option1: Option<String>,
    /// Value of the second option.
    pub option2: Option<String>,
    /// Value of the third option.
    pub option3: Option<String>,
    /// Shipping weight in grams.
    pub grams: i32,
    /// `"shopify"` when stock is counted, null otherwise.
    #[schema(example = "shopify")]
    pub inventory_management: Option<String>,
    /// Units in stock.
    pub inventory_quantity: i32,
    /// The variant's stock item for `inventory_levels/set` (the variant's id).
    pub inventory_item_id: Uuid,
}

/// A product option as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptionJson {
    /// The product.
    pub product_id: Uuid,
    /// Name (`Size`).
    pub name: String,
    /// Order (1-based).
    pub position: i32,
    /// The values the variants use, in order of first use.
    pub values: Vec<String>,
}

/// A product image as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImageJson {
    /// Identifier.
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// Order (1-based).
    pub position: i32,
    /// Alternative text.
    pub alt: String,
    /// URL of a 1024-pixel-wide rendition, relative to the store's host.
    pub src: String,
    /// Width of the original in pixels.
    pub width: i32,
    /// Height of the original in pixels.
    pub height: i32,
}

/// `{"product": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductEnvelope {
    /// The product.
    pub product: ProductJson,
}

/// `{"products": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    /// The page of products, most recently changed first.
    pub products: Vec<ProductJson>,
}

/// `{"count": N}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductCount {
    /// How many products the store has.
    pub count: i64,
}

/// What a create or update request sends: `{"product": {...}}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProductRequest {
    /// The fields to set.
    pub product: ProductFields,
}

/// Product fields a request may set. On update, fields left out keep their values; read-only
/// fields (`id`, `created_at`, `images`, ...) are ignored, so a product read from the API can
/// be sent back as it is.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProductFields {
    /// Title (required on create).
    pub title: Option<String>,
    /// Description as HTML (sanitized when stored).
    pub body_html: Option<String>,
    /// Brand.
    pub vendor: Option<String>,
    /// The merchant's category.
    pub product_type: Option<String>,
    /// URL handle; derived from the title when left out on create.
    pub handle: Option<String>,
    /// `active` (the default on create, as in Shopify), `draft` or `archived`.
    pub status: Option<String>,
    /// Tags: a comma-separated string (or an array of strings).
    #[schema(example = "cotton, summer")]
    pub tags: Option<TagsInput>,
    /// Option names in order, at most three: `[{"name": "Size"}]` (or `["Size"]`).
    pub options: Option<Vec<OptionInput>>,
    /// The variants. On update they replace the product's: entries with an `id` change that
    /// variant, others are new, and variants left out are deleted. Left out on create, the
    /// product gets one variant priced 0.00.
    pub variants: Option<Vec<VariantFields>>,
}

/// Tags as Shopify sends them (a string) or as a list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TagsInput {
    /// `"a, b, c"`.
    Text(String),
    /// `["a", "b", "c"]`.
    List(Vec<String>),
}

impl TagsInput {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::Text(s) => s.split(',').map(|t| t.trim().to_owned()).collect(),
            Self::List(l) => l,
        }
    }
}

/// An option as sent: an object with a name (other keys such as `values` are ignored: the
/// variants say which values exist), or just the name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OptionInput {
    /// `"Size"`.
    Name(String),
    /// `{"name": "Size", ...}`.
    Object {
        /// The option's name.
        name: String,
    },
}

impl OptionInput {
    fn into_name(self) -> String {
        match self {
            Self::Name(n) | Self::Object { name: n } => n,
        }
    }
}

/// Variant fields a request may set; on update, fields left out keep the variant's values.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VariantFields {
    /// An existing variant of this product, to change it in place (its stock history stays).
    pub id: Option<Uuid>,
    /// Value of the first option.
    pub option1: Option<String>,
    /// Value of the second option.
    pub option2: Option<String>,
    /// Value of the third option.
    pub option3: Option<String>,
    /// Stock-keeping unit, unique in the store.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub sku: Option<Option<String>>,
    /// Price as a decimal string in the store's currency (`"25.00"`; a number is accepted).
    #[schema(example = "25.00")]
    pub price: Option<Decimal>,
    /// Former price, or null to remove it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Decimal>, example = "30.00")]
    pub compare_at_price: Option<Option<Decimal>>,
    /// Shipping weight in grams.
    pub grams: Option<i32>,
    /// `"shopify"` to count stock, null not to.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "shopify")]
    pub inventory_management: Option<Option<String>>,
    /// Units in stock (recorded as a stock adjustment).
    pub inventory_quantity: Option<i32>,
}

/// A decimal amount as sent: Shopify's string, or a JSON number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Decimal {
    /// `"25.00"`.
    Text(String),
    /// `25`, `25.5`.
    #[schema(value_type = f64)]
    Number(serde_json::Number),
}

impl Decimal {
    fn text(&self) -> String {
        match self {
            Self::Text(s) => s.trim().to_owned(),
            Self::Number(n) => n.to_string(),
        }
    }
}

/// Tells a field that was sent as null (`Some(None)`) from one left out (`None`).
fn nullable<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// The store's currency, in which prices are written.
async fn currency(conn: &mut sqlx::PgConnection) -> Result<Currency, ApiError> {
    let code = settings::load(conn).await?.currency;
    Currency::parse(&code)
        .map_err(|e| ApiError::from(anyhow::anyhow!("store currency {code:?}: {e}")))
}

fn decimal(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).to_decimal_string()
}

/// The API's view of a product.
pub fn product_json(p: &Product, currency: Currency) -> ProductJson {
    let variants: Vec<VariantJson> = p
        .variants
        .iter()
        .map(|v| variant_json(p.id, v, currency))
        .collect();
    let options = p
        .options
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut values: Vec<String> = Vec::new();
            for v in &p.variants {
                let value = [&v.option1, &v.option2, &v.option3][i.min(2)];
                if let Some(value) = value
                    && !values.contains(value)
                {
                    values.push(value.clone());
                }
            }
            OptionJson {
                product_id: p.id,
                name: name.clone(),
                position: i as i32 + 1,
                values,
            }
        })
        .collect();
    let images: Vec<ImageJson> = p
        .images
        .iter()
        .map(|img| ImageJson {
            id: img.id,
            product_id: p.id,
            position: img.position,
            alt: img.alt.clone(),
            src: media_urls::image_url(&img.storage_key, IMAGE_WIDTH),
            width: img.width,
            height: img.height,
        })
        .collect();
    let image = images.first().cloned();
    ProductJson {
        id: p.id,
        title: p.title.clone(),
        body_html: p.body_html.clone(),
        vendor: p.vendor.clone(),
        product_type: p.product_type.clone(),
        handle: p.handle.clone(),
        status: p.status.as_str().to_owned(),
        tags: p.tags.join(", "),
        created_at: p.created_at,
        updated_at: p.updated_at,
        published_at: p.published_at,
        variants,
        options,
        images,
        image,
    }
}

fn variant_json(product_id: Uuid, v: &Variant, currency: Currency) -> VariantJson {
    VariantJson {
        id: v.id,
        product_id,
        title: v.title(),
        position: v.position,
        sku: v.sku.clone(),
        price: decimal(v.price_minor, currency),
        compare_at_price: v.compare_at_minor.map(|c| decimal(c, currency)),
        option1: v.option1.clone(),
        option2: v.option2.clone(),
        option3: v.option3.clone(),
        grams: v.weight_grams,
        inventory_management: v.track_inventory.then(|| "shopify".to_owned()),
        inventory_quantity: v.inventory_quantity,
        inventory_item_id: v.id,
    }
}

/// Turns request fields into the catalog's input, starting from `existing` on update.
/// Amounts are parsed in `currency`; every problem found is reported at once, by field.
fn product_input(
    existing: Option<&Product>,
    f: ProductFields,
    currency: Currency,
) -> Result<ProductInput, AppError> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let keep = |get: fn(&Product) -> &String| existing.map(|p| get(p).clone()).unwrap_or_default();
    let status = match f.status.as_deref() {
        Some(s) => Status::parse(s)
            .map_err(|m| errors.push(("status".into(), m)))
            .ok(),
        // Shopify's default for a product made through the API: on sale at once.
        None if existing.is_none() => Some(Status::Active),
        None => None,
    };
    let (body, body_format) = match f.body_html {
        Some(html) => (html, BodyFormat::Html),
        None => existing.map_or_else(Default::default, |p| (p.body_source.clone(), p.body_format)),
    };
    let options: Vec<String> = match f.options {
        Some(list) => list.into_iter().map(OptionInput::into_name).collect(),
        None => existing.map(|p| p.options.clone()).unwrap_or_default(),
    };
    let variants = match f.variants {
        Some(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, v)| variant_input(i, existing, v, options.len(), currency, &mut errors))
            .collect(),
        None => match existing {
            Some(p) => p.variants.iter().map(unchanged_variant).collect(),
            // Shopify gives a product sent without variants a single default one.
            None if options.is_empty() => vec![VariantInput::default()],
            None => Vec::new(),
        },
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    Ok(ProductInput {
        title: f.title.unwrap_or_else(|| keep(|p| &p.title)),
        handle: f.handle,
        body,
        body_format,
        status,
        vendor: f.vendor.unwrap_or_else(|| keep(|p| &p.vendor)),
        product_type: f.product_type.unwrap_or_else(|| keep(|p| &p.product_type)),
        tags: match f.tags {
            Some(t) => t.into_vec(),
            None => existing.map(|p| p.tags.clone()).unwrap_or_default(),
        },
        seo_title: keep(|p| &p.seo_title),
        seo_description: keep(|p| &p.seo_description),
        options,
        variants,
    })
}

fn unchanged_variant(v: &Variant) -> VariantInput {
    VariantInput {
        id: Some(v.id),
        option_values: [&v.option1, &v.option2, &v.option3]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        sku: v.sku.clone(),
        price_minor: v.price_minor,
        compare_at_minor: v.compare_at_minor,
        weight_grams: v.weight_grams,
        track_inventory: v.track_inventory,
        inventory_quantity: v.inventory_quantity,
    }
}

/// One variant of a request, merged over the product's variant with the same id.
fn variant_input(
    i: usize,
    existing: Option<&Product>,
    f: VariantFields,
    option_count: usize,
    currency: Currency,
    errors: &mut Vec<(String, String)>,
) -> VariantInput {
    let field = |name: &str| format!("variants[{i}].{name}");
    let old =
        f.id.and_then(|id| existing.and_then(|p| p.variants.iter().find(|v| v.id == id)));
    let given = [f.option1, f.option2, f.option3];
    let before = old.map_or([None, None, None], |v| {
        [v.option1.clone(), v.option2.clone(), v.option3.clone()]
    });
    let mut option_values = Vec::with_capacity(option_count);
    for (k, (given, before)) in given.into_iter().zip(before).enumerate() {
        // Shopify shows a product without options as one "Title" option whose only value is
        // "Default Title"; scripts send it back.
        let given = given.filter(|v| !(option_count == 0 && v == "Default Title"));
        if k < option_count {
            option_values.push(given.or(before).unwrap_or_default());
        } else if given.is_some() {
            errors.push((
                field(&format!("option{}", k + 1)),
                format!("the product has {option_count} option(s)"),
            ));
        }
    }
    let mut amount = |name: &str, d: &Decimal| match Money::parse_decimal(&d.text(), currency) {
        Ok(m) => Some(m.minor),
        Err(e) => {
            errors.push((field(name), e.to_string()));
            None
        }
    };
    let price_minor = match &f.price {
        Some(d) => amount("price", d).unwrap_or(0),
        None => old.map_or(0, |v| v.price_minor),
    };
    let compare_at_minor = match &f.compare_at_price {
        None => old.and_then(|v| v.compare_at_minor),
        Some(None) => None,
        Some(Some(d)) if d.text().is_empty() => None,
        Some(Some(d)) => amount("compare_at_price", d),
    };
    let track_inventory = match f.inventory_management.as_ref().map(|m| m.as_deref()) {
        None => old.is_some_and(|v| v.track_inventory),
        Some(None | Some("")) => false,
        Some(Some("shopify")) => true,
        Some(Some(_)) => {
            errors.push((
                field("inventory_management"),
                "must be \"shopify\" or null".into(),
            ));
            false
        }
    };
    VariantInput {
        id: f.id,
        option_values,
        sku: match f.sku {
            None => old.map(|v| v.sku.clone()).unwrap_or_default(),
            Some(sku) => sku.unwrap_or_default(),
        },
        price_minor,
        compare_at_minor,
        weight_grams: f.grams.or(old.map(|v| v.weight_grams)).unwrap_or(0),
        track_inventory,
        inventory_quantity: f
            .inventory_quantity
            .or(old.map(|v| v.inventory_quantity))
            .unwrap_or(0),
    }
}

/// The catalog names a variant's weight `weight`; the API calls it `grams`.
fn api_field_names(e: StoreError) -> ApiError {
    match e {
        StoreError::Fields(fields) => AppError::Invalid(
            fields
                .into_iter()
                .map(|(f, m)| match f.strip_suffix(".weight") {
                    Some(prefix) => (format!("{prefix}.grams"), m),
                    None => (f, m),
                })
                .collect(),
        )
        .into(),
        other => other.into(),
    }
}

/// A weak validator for a representation: it changes whenever the body does (stock changes
/// included, which do not touch the product's `updated_at`).
fn etag(id: Uuid, updated_at: DateTime<Utc>, body: &[u8]) -> String {
    let digest = hex::encode(&Sha256::digest(body)[..8]);
    format!(
        "W/\"{}-{}-{digest}\"",
        id.simple(),
        updated_at.timestamp_micros()
    )
}

/// Whether `If-None-Match` already names `etag` (weak comparison, as for GET).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == strip(etag))
}

/// A single product response with its ETag.
fn product_response(
    status: StatusCode,
    p: &Product,
    currency: Currency,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(&ProductEnvelope {
        product: product_json(p, currency),
    })
    .map_err(anyhow::Error::from)?;
    let tag = etag(p.id, p.updated_at, &body);
    let mut res = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    Ok(res)
}

/// Query parameters of the list.
struct ListQuery {
    limit: i64,
    page_info: Option<Cursor>,
    status: Option<Status>,
}

impl ListQuery {
    /// Reads `limit`, `page_info` and `status`; other parameters are ignored, as Shopify's
    /// read-only filters this API does not offer yet would be.
    fn parse(query: Option<&str>) -> Result<Self, AppError> {
        let mut q = Self {
            limit: DEFAULT_LIMIT,
            page_info: None,
            status: None,
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "limit" => q.limit = parse_limit(&value)?,
                "page_info" => q.page_info = Some(Cursor::decode(value.trim())?),
                "status" => {
                    q.status =
                        Some(Status::parse(&value).map_err(|m| AppError::invalid("status", m))?)
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

/// `GET /admin/api/v1/products.json`: a page of products, most recently changed first.
#[utoipa::path(
    get,
    path = "/admin/api/v1/products",
    tag = "products",
    params(
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 250 (default 50)"),
        ("page_info" = Option<String>, Query, description = "Cursor from the previous page's `Link` header"),
        ("status" = Option<String>, Query, description = "Only products with this status"),
    ),
    responses(
        (status = 200, description = "A page of products; a `Link: <...>; rel=\"next\"` header points at the next one", body = ProductList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:read"),
        (status = 422, description = "A bad `limit`, `page_info` or `status`"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_products(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(Scope::ProductsRead)?;
    let query = ListQuery::parse(uri.query())?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let currency = currency(&mut tx).await?;
    let page = catalog::list_products(
        &mut tx,
        &ProductFilter {
            status: query.status,
            after: query.page_info,
            limit: query.limit,
            ..ProductFilter::default()
        },
    )
    .await?;
    // The list shows whole products, as Shopify's does: the page's products in one read.
    let ids: Vec<Uuid> = page.products.iter().map(|p| p.id).collect();
    let products = catalog::get_products(&mut tx, &ids)
        .await?
        .iter()
        .map(|p| product_json(p, currency))
        .collect();
    tx.commit().await?;
    let limit = query.limit.to_string();
    let cursor = page.next.map(|n| n.encode());
    let next = cursor.as_deref().map(|c| {
        let mut params = vec![("limit", limit.as_str())];
        if let Some(status) = query.status {
            params.push(("status", status.as_str()));
        }
        params.push(("page_info", c));
        params
    });
    Ok(json_with_next(
        &app,
        &headers,
        &uri,
        next.as_deref(),
        ProductList { products },
    ))
}

/// `GET /admin/api/v1/products/count.json`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/products/count",
    tag = "products",
    responses(
        (status = 200, description = "How many products the store has", body = ProductCount),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:read"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn count_products(
    State(app): State<AppState>,
    client: ApiClient,
) -> Result<axum::Json<ProductCount>, ApiError> {
    client.require(Scope::ProductsRead)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let count = catalog::count_products(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(ProductCount { count }))
}

/// `GET /admin/api/v1/products/{id}.json`, with an `ETag` (`If-None-Match` gives 304).
#[utoipa::path(
    get,
    path = "/admin/api/v1/products/{id}",
    tag = "products",
    params(("id" = Uuid, Path, description = "The product's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "The product", body = ProductEnvelope),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:read"),
        (status = 404, description = "No such product in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn show_product(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(Scope::ProductsRead)?;
    let id = path_id(&id)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let currency = currency(&mut tx).await?;
    let product = catalog::get_product(&mut tx, id).await?;
    tx.commit().await?;
    let res = product_response(StatusCode::OK, &product, currency)?;
    match res.headers().get(header::ETAG).cloned() {
        Some(tag) if not_modified(&headers, tag.to_str().unwrap_or("")) => {
            Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response())
        }
        _ => Ok(res),
    }
}

/// `POST /admin/api/v1/products.json`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/products",
    tag = "products",
    request_body = ProductRequest,
    responses(
        (status = 201, description = "The product as created", body = ProductEnvelope),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:write"),
        (status = 422, description = "Fields failed validation, or the plan's product limit is reached; `errors` names each field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn create_product(
    State(app): State<AppState>,
    client: ApiClient,
    body: JsonBody,
) -> Result<Response, ApiError> {
    client.require(Scope::ProductsWrite)?;
    let request: ProductRequest = body.parse(Some("product"))?;
    let limit = tenancy::product_limit(&app.db, client.tenant.id).await?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let currency = currency(&mut tx).await?;
    let input = product_input(None, request.product, currency)?;
    let product = catalog::create_product(&mut tx, input, &actor, limit)
        .await
        .map_err(api_field_names)?;
    audit::record(
        &mut tx,
        &actor,
        "product.create",
        &product.handle,
        serde_json::json!({ "id": product.id, "title": product.title }),
    )
    .await?;
    tx.commit().await?;
    product_response(StatusCode::CREATED, &product, currency)
}

/// `PUT /admin/api/v1/products/{id}.json`: changes the fields sent, keeps the others.
#[utoipa::path(
    put,
    path = "/admin/api/v1/products/{id}",
    tag = "products",
    params(("id" = Uuid, Path, description = "The product's id (a `.json` suffix is accepted)")),
    request_body = ProductRequest,
    responses(
        (status = 200, description = "The product as changed", body = ProductEnvelope),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:write"),
        (status = 404, description = "No such product in this store"),
        (status = 422, description = "Fields failed validation; `errors` names each field"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn update_product(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    client.require(Scope::ProductsWrite)?;
    let id = path_id(&id)?;
    let request: ProductRequest = body.parse(Some("product"))?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let currency = currency(&mut tx).await?;
    let existing = catalog::get_product(&mut tx, id).await?;
    let input = product_input(Some(&existing), request.product, currency)?;
    let product = catalog::update_product(&mut tx, id, input, &actor)
        .await
        .map_err(api_field_names)?;
    audit::record(
        &mut tx,
        &actor,
        "product.update",
        &product.handle,
        serde_json::json!({ "id": product.id, "title": product.title }),
    )
    .await?;
    tx.commit().await?;
    product_response(StatusCode::OK, &product, currency)
}

/// `DELETE /admin/api/v1/products/{id}.json`: answers `{}`, as Shopify does.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/products/{id}",
    tag = "products",
    params(("id" = Uuid, Path, description = "The product's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "Deleted; the body is `{}`"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks products:write"),
        (status = 404, description = "No such product in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn delete_product(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    client.require(Scope::ProductsWrite)?;
    let id = path_id(&id)?;
    let actor = client.actor();
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let product = catalog::get_product(&mut tx, id).await?;
    catalog::delete_product(&mut tx, id).await?;
    audit::record(
        &mut tx,
        &actor,
        "product.delete",
        &product.handle,
        serde_json::json!({ "id": product.id, "title": product.title }),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(serde_json::json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn fields(json: serde_json::Value) -> ProductFields {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn shopify_fields_become_catalog_input() {
        let input = product_input(
            None,
            fields(serde_json::json!({
                "title": "Shirt",
                "tags": "cotton, summer",
                "options": [{"name": "Size", "values": ["S"]}],
                "variants": [{"option1": "S", "price": "25.50", "compare_at_price": 30,
                              "inventory_management": "shopify", "inventory_quantity": 4}],
            })),
            usd(),
        )
        .unwrap();
        assert_eq!(input.tags, ["cotton", "summer"]);
        assert_eq!(input.options, ["Size"]);
        assert_eq!(input.status, Some(Status::Active));
        let v = &input.variants[0];
        assert_eq!(
            (v.price_minor, v.compare_at_minor, v.track_inventory),
            (2550, Some(3000), true)
        );
        assert_eq!(v.option_values, ["S"]);
    }

    #[test]
    fn every_bad_amount_is_named() {
        let err = product_input(
            None,
            fields(serde_json::json!({
                "title": "Shirt",
                "variants": [{"price": "abc"}, {"price": "1.001", "inventory_management": "x"}],
            })),
            usd(),
        )
        .unwrap_err();
        let AppError::Invalid(list) = err else {
            panic!("expected field errors")
        };
        let names: Vec<&str> = list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "variants[0].price",
                "variants[1].price",
                "variants[1].inventory_management"
            ]
        );
    }

    #[test]
    fn a_product_without_variants_gets_a_default_one() {
        let input = product_input(
            None,
            fields(serde_json::json!({"title": "Gift card"})),
            usd(),
        )
        .unwrap();
        assert_eq!(input.variants.len(), 1);
        assert!(input.variants[0].option_values.is_empty());
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"other\", W/\"abc\""),
        );
        assert!(not_modified(&h, "W/\"abc\""));
        assert!(!not_modified(&h, "W/\"abd\""));
    }
}
