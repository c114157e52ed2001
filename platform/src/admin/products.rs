//! Products in the admin: the list (search, filters, pages, bulk actions) and the editor.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect, Response};
use billing::{Currency, Money};
use serde::{Deserialize, Serialize};
use tenant_store::catalog::{
    self, BodyFormat, Product, ProductFilter, ProductInput, Status, VariantInput,
};
use tenant_store::{StoreError, audit, settings};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::{self, Submitted};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::tenancy;

/// Rows per page in the list.
const PAGE_SIZE: i64 = 50;
/// Blank variant rows offered for adding variants.
const BLANK_ROWS: usize = 3;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    collection: String,
    after: Option<String>,
}

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    summary: catalog::ProductSummary,
    price_from: String,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    q: String,
    status: String,
    collection: String,
    collections: Vec<catalog::collections::CollectionSummary>,
    products: Vec<Row>,
    next: Option<String>,
}

async fn store_currency(conn: &mut sqlx::PgConnection) -> Result<Currency, AppError> {
    let code = settings::load(conn).await?.currency;
    Currency::parse(&code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("store currency {code}: {e}")))
}

fn money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).to_decimal_string()
}

/// `GET /admin/products`.
pub async fn list_products(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, AppError> {
    merchant.require("products")?;
    let status = match q.status.as_str() {
        "" => None,
        s => Some(Status::parse(s).map_err(|m| AppError::invalid("status", m))?),
    };
    let collection_id = match q.collection.as_str() {
        "" => None,
        c => Some(
            c.parse::<Uuid>()
                .map_err(|_| AppError::invalid("collection", "is not a collection"))?,
        ),
    };
    let after = q
        .after
        .as_deref()
        .map(catalog::Cursor::decode)
        .transpose()?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let filter = ProductFilter {
        status,
        query: Some(q.q.clone()),
        collection_id,
        after,
        limit: PAGE_SIZE,
    };
    // A search asks the catalog index first (typos, stems, exact SKUs; best match first, one
    // page); when it finds nothing, the substring match of the plain list still runs.
    let found = match q.q.trim() {
        "" => Vec::new(),
        text => {
            app.search
                .admin_product_ids(&tenant.schema, text, 250)
                .await
        }
    };
    let page = if found.is_empty() {
        catalog::list_products(&mut tx, &filter).await?
    } else {
        catalog::ProductPage {
            products: catalog::search_feed::summaries_in_order(
                &mut tx,
                &found,
                status,
                collection_id,
            )
            .await?,
            next: None,
        }
    };
    let collections = catalog::collections::list_collections(&mut tx).await?;
    tx.commit().await?;
    let next = page.next.map(|c| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q.q)
            .append_pair("status", &q.status)
            .append_pair("collection", &q.collection)
            .append_pair("after", &c.encode())
            .finish()
    });
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        products: page
            .products
            .into_iter()
            .map(|s| Row {
                price_from: s
                    .price_min_minor
                    .map_or_else(String::new, |m| money(m, currency)),
                summary: s,
            })
            .collect(),
        q: q.q,
        status: q.status,
        collection: q.collection,
        collections,
        next,
    };
    Ok(Html(app.views.render("admin/products.html", &view)?))
}

/// `POST /admin/products/bulk`: publish, unpublish, archive or delete the selected products.
pub async fn bulk_update(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    merchant.require("products")?;
    let ids: Vec<Uuid> = fields
        .iter()
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| {
            v.parse()
                .map_err(|_| AppError::invalid("ids", "is not a product id"))
        })
        .collect::<Result<_, _>>()?;
    let action = fields
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if ids.is_empty() {
        return Ok(Redirect::to("/admin/products"));
    }
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    if action == "delete" {
        for id in &ids {
            match catalog::delete_product(&mut tx, *id).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    } else {
        let status = Status::parse(action).map_err(|m| AppError::invalid("action", m))?;
        catalog::set_status(&mut tx, &ids, status).await?;
    }
    let details = serde_json::json!({ "action": action, "ids": ids });
    audit::record(&mut tx, &merchant.email, "product.bulk", "", details).await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/products"))
}

/// One variant row of the editor, as text (what was typed is kept on errors).
#[derive(Clone, Debug, Default, Serialize)]
struct VariantRow {
    id: String,
    o1: String,
    o2: String,
    o3: String,
    sku: String,
    price: String,
    compare: String,
    grams: String,
    track: bool,
    qty: String,
}

#[derive(Clone, Debug, Default, Serialize)]
struct ProductForm {
    title: String,
    handle: String,
    body: String,
    body_format: String,
    status: String,
    vendor: String,
    product_type: String,
    tags: String,
    seo_title: String,
    seo_description: String,
    option1: String,
    option2: String,
    option3: String,
    rows: Vec<VariantRow>,
    #[serde(skip)]
    removed: Vec<bool>,
}

#[derive(Serialize)]
struct EditorView<'a> {
    chrome: Chrome,
    csrf: String,
    product_id: Option<Uuid>,
    product: Option<&'a Product>,
    images_partial: bool,
    currency: String,
    form: ProductForm,
    errors: BTreeMap<String, String>,
}

impl ProductForm {
    fn from_product(p: &Product, currency: Currency) -> Self {
        let opt = |i: usize| p.options.get(i).cloned().unwrap_or_default();
        let mut rows: Vec<VariantRow> = p
            .variants
            .iter()
            .map(|v| VariantRow {
                id: v.id.to_string(),
                o1: v.option1.clone().unwrap_or_default(),
                o2: v.option2.clone().unwrap_or_default(),
                o3: v.option3.clone().unwrap_or_default(),
                sku: v.sku.clone(),
                price: money(v.price_minor, currency),
                compare: v
                    .compare_at_minor
                    .map_or_else(String::new, |m| money(m, currency)),
                grams: v.weight_grams.to_string(),
                track: v.track_inventory,
                qty: v.inventory_quantity.to_string(),
            })
            .collect();
        rows.extend((0..BLANK_ROWS).map(|_| VariantRow {
            track: true,
            ..Default::default()
        }));
        Self {
            title: p.title.clone(),
            handle: p.handle.clone(),
            body: p.body_source.clone(),
            body_format: if p.body_format == BodyFormat::Markdown {
                "markdown".into()
            } else {
                "html".into()
            },
            status: p.status.as_str().into(),
            vendor: p.vendor.clone(),
            product_type: p.product_type.clone(),
            tags: p.tags.join(", "),
            seo_title: p.seo_title.clone(),
            seo_description: p.seo_description.clone(),
            option1: opt(0),
            option2: opt(1),
            option3: opt(2),
            removed: vec![false; rows.len()],
            rows,
        }
    }

    fn blank() -> Self {
        Self {
            status: "draft".into(),
            body_format: "html".into(),
            rows: (0..BLANK_ROWS)
                .map(|_| VariantRow {
                    track: true,
                    ..Default::default()
                })
                .collect(),
            removed: vec![false; BLANK_ROWS],
            ..Default::default()
        }
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let form = Submitted::new(fields);
        let get = |k: &str| form.get(k);
        let rows_count = form
            .names()
            .filter_map(|k| {
                k.strip_prefix('v')?
                    .split_once('_')?
                    .0
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map_or(0, |m| (m + 1).min(catalog::MAX_VARIANTS + BLANK_ROWS));
        let mut rows = Vec::with_capacity(rows_count);
        let mut removed = Vec::with_capacity(rows_count);
        for n in 0..rows_count {
            let f = |k: &str| get(&format!("v{n}_{k}"));
            rows.push(VariantRow {
                id: f("id"),
                o1: f("o1"),
                o2: f("o2"),
                o3: f("o3"),
                sku: f("sku"),
                price: f("price"),
                compare: f("compare"),
                grams: f("grams"),
                track: form.checked(&format!("v{n}_track")),
                qty: f("qty"),
            });
            removed.push(form.checked(&format!("v{n}_remove")));
        }
        Self {
            title: get("title"),
            handle: get("handle"),
            body: get("body"),
            body_format: get("body_format"),
            status: get("status"),
            vendor: get("vendor"),
            product_type: get("product_type"),
            tags: get("tags"),
            seo_title: get("seo_title"),
            seo_description: get("seo_description"),
            option1: get("option1"),
            option2: get("option2"),
            option3: get("option3"),
            rows,
            removed,
        }
    }

    /// The domain input, and for each input variant the editor row it came from. Parse
    /// errors (prices, numbers, ids) are keyed by the editor's field names.
    fn to_input(
        &self,
        currency: Currency,
    ) -> Result<(ProductInput, Vec<usize>), BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let options: Vec<String> = [&self.option1, &self.option2, &self.option3]
            .into_iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        let status = Status::parse(&self.status)
            .map_err(|m| errors.insert("status".into(), m))
            .ok();
        let mut variants = Vec::new();
        let mut origin = Vec::new();
        for (n, r) in self.rows.iter().enumerate() {
            let blank = r.id.is_empty()
                && [&r.o1, &r.o2, &r.o3, &r.sku, &r.price, &r.compare, &r.qty]
                    .iter()
                    .all(|s| s.trim().is_empty());
            if blank || self.removed.get(n).copied().unwrap_or(false) {
                continue;
            }
            let key = |k: &str| format!("v{n}_{k}");
            let price = Money::parse_decimal(r.price.trim(), currency)
                .map_err(|_| {
                    errors.insert(key("price"), format!("“{}” is not a price", r.price.trim()))
                })
                .ok();
            let compare = match r.compare.trim() {
                "" => Some(None),
                c => Money::parse_decimal(c, currency)
                    .map(|m| Some(m.minor))
                    .map_err(|_| errors.insert(key("compare"), format!("“{c}” is not a price")))
                    .ok(),
            };
            let int = |s: &str, k: &str, errors: &mut BTreeMap<String, String>| match s.trim() {
                "" => Some(0),
                t => t
                    .parse::<i32>()
                    .map_err(|_| errors.insert(key(k), format!("“{t}” is not a whole number")))
                    .ok(),
            };
            let grams = int(&r.grams, "grams", &mut errors);
            let qty = int(&r.qty, "qty", &mut errors);
            let id = match r.id.trim() {
                "" => Some(None),
                s => s
                    .parse::<Uuid>()
                    .map(Some)
                    .map_err(|_| errors.insert(key("id"), "is not a variant".into()))
                    .ok(),
            };
            if let (Some(price), Some(compare), Some(grams), Some(qty), Some(id)) =
                (price, compare, grams, qty, id)
            {
                let values: Vec<String> = [&r.o1, &r.o2, &r.o3]
                    .into_iter()
                    .take(options.len())
                    .cloned()
                    .collect();
                variants.push(VariantInput {
                    id,
                    option_values: values,
                    sku: r.sku.clone(),
                    price_minor: price.minor,
                    compare_at_minor: compare,
                    weight_grams: grams,
                    track_inventory: r.track,
                    inventory_quantity: qty,
                });
                origin.push(n);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let input = ProductInput {
            title: self.title.clone(),
            handle: Some(self.handle.clone()),
            body: self.body.clone(),
            body_format: if self.body_format == "markdown" {
                BodyFormat::Markdown
            } else {
                BodyFormat::Html
            },
            status,
            vendor: self.vendor.clone(),
            product_type: self.product_type.clone(),
            tags: self.tags.split(',').map(str::to_owned).collect(),
            seo_title: self.seo_title.clone(),
            seo_description: self.seo_description.clone(),
            options,
            variants,
        };
        Ok((input, origin))
    }
}

/// Domain field errors keyed by editor field names (`variants[2].sku` becomes `v5_sku` when
/// the third submitted variant came from row 5).
fn editor_errors(fields: Vec<(String, String)>, origin: &[usize]) -> BTreeMap<String, String> {
    form::editor_errors(fields, |field| match form::indexed(field, "variants") {
        Some((i, name)) => {
            let name = match name {
                "compare_at_price" => "compare",
                "weight" => "grams",
                "options" => "o1",
                other => other,
            };
            format!("v{}_{name}", form::origin_row(origin, i))
        }
        None => field.to_owned(),
    })
}

async fn render_editor(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    product: Option<&Product>,
    form: ProductForm,
    errors: BTreeMap<String, String>,
    currency: Currency,
) -> Result<Html<String>, AppError> {
    let chrome = Chrome::new(tenant, merchant).await?;
    let view = EditorView {
        csrf: chrome.csrf.clone(),
        chrome,
        product_id: product.map(|p| p.id),
        product,
        images_partial: app.views.has("admin/_product_images.html"),
        currency: currency.as_str().to_owned(),
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/product.html", &view)?))
}

/// `GET /admin/products/new`.
pub async fn new_product(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    tx.commit().await?;
    render_editor(
        &app,
        &tenant,
        &merchant,
        None,
        ProductForm::blank(),
        BTreeMap::new(),
        currency,
    )
    .await
}

/// `GET /admin/products/{id}`.
pub async fn edit_product(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let product = catalog::get_product(&mut tx, id).await?;
    tx.commit().await?;
    let form = ProductForm::from_product(&product, currency);
    render_editor(
        &app,
        &tenant,
        &merchant,
        Some(&product),
        form,
        BTreeMap::new(),
        currency,
    )
    .await
}

/// `POST /admin/products` and `POST /admin/products/{id}`: save, or show the form again with
/// each error next to its field and everything typed kept.
async fn save(
    app: AppState,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    id: Option<Uuid>,
    fields: Vec<(String, String)>,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    let form = ProductForm::from_fields(&fields);
    let limit = match id {
        None => tenancy::product_limit(&app.db, tenant.id).await?,
        Some(_) => None,
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let outcome = match form.to_input(currency) {
        Err(errors) => Err(errors),
        Ok((input, origin)) => {
            let saved = match id {
                None => catalog::create_product(&mut tx, input, &merchant.email, limit).await,
                Some(id) => catalog::update_product(&mut tx, id, input, &merchant.email).await,
            };
            match saved {
                Ok(p) => Ok(p),
                Err(StoreError::LimitReached { what, limit }) => Err(BTreeMap::from([(
                    "title".to_owned(),
                    format!(
                        "Your plan allows at most {limit} {what}; upgrade the plan to add more."
                    ),
                )])),
                Err(e) => Err(editor_errors(form::field_errors(e)?, &origin)),
            }
        }
    };
    match outcome {
        Ok(product) => {
            let action = form::save_action("product", id.is_some());
            let to = format!("/admin/products/{}", product.id);
            form::done(
                tx,
                &merchant.email,
                &action,
                &product.handle,
                product.id,
                &to,
            )
            .await
        }
        Err(errors) => {
            // The failed write may have spoilt the transaction: read what is shown afresh.
            drop(tx);
            let product = match id {
                Some(id) => {
                    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
                    Some(catalog::get_product(&mut tx, id).await?)
                }
                None => None,
            };
            let page = render_editor(
                &app,
                &tenant,
                &merchant,
                product.as_ref(),
                form,
                errors,
                currency,
            )
            .await?;
            Ok(form::unprocessable(page))
        }
    }
}

/// `POST /admin/products`.
pub async fn create_product(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, None, fields).await
}

/// `POST /admin/products/{id}`.
pub async fn update_product(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, Some(id), fields).await
}

/// `POST /admin/products/{id}/delete`.
pub async fn delete_product(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let product = catalog::get_product(&mut tx, id).await?;
    catalog::delete_product(&mut tx, id).await?;
    let (actor, to) = (&merchant.email, "/admin/products");
    form::done(tx, actor, "product.delete", &product.handle, id, to).await
}
