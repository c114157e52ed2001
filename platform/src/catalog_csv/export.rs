//! Exporting the catalog as a Shopify product CSV that imports back to the same catalog
//! (here, or into Shopify). Cells a spreadsheet would run as formulas are written as text
//! (see [`super::cells`]).

use billing::{Currency, Money};
use sqlx::PgPool;
use tenant_store::catalog::{self, BodyFormat, Product, ProductFilter};
use tenant_store::{TenantSchema, settings};
use uuid::Uuid;

use super::columns as col;
use crate::media_urls;

/// The columns written, in order.
pub const HEADER: [&str; 36] = [
    col::HANDLE,
    col::TITLE,
    col::BODY,
    col::VENDOR,
    col::PRODUCT_CATEGORY,
    col::TYPE,
    col::TAGS,
    col::PUBLISHED,
    col::OPTION_NAMES[0],
    col::OPTION_VALUES[0],
    col::OPTION_NAMES[1],
    col::OPTION_VALUES[1],
    col::OPTION_NAMES[2],
    col::OPTION_VALUES[2],
    col::SKU,
    col::GRAMS,
    col::INVENTORY_TRACKER,
    col::INVENTORY_QTY,
    col::INVENTORY_POLICY,
    col::FULFILLMENT_SERVICE,
    col::PRICE,
    col::COMPARE_AT_PRICE,
    col::REQUIRES_SHIPPING,
    col::TAXABLE,
    col::BARCODE,
    col::IMAGE_SRC,
    col::IMAGE_POSITION,
    col::IMAGE_ALT,
    col::GIFT_CARD,
    col::SEO_TITLE,
    col::SEO_DESCRIPTION,
    col::VARIANT_IMAGE,
    col::WEIGHT_UNIT,
    col::TAX_CODE,
    col::COST,
    col::STATUS,
];

/// Products read per tenant transaction (so a slow download holds no long transaction).
const BATCH: usize = 100;
/// The image width linked from an export.
const IMAGE_WIDTH: u32 = 2048;

/// How to write an export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// `scheme://host` of the store, to make image URLs absolute (relative when `None`).
    pub image_base_url: Option<String>,
}

/// Where an export's chunks of CSV go: a file, standard output, an HTTP response body.
pub trait Sink: Send {
    /// Takes the next chunk; an error stops the export.
    fn write(&mut self, chunk: Vec<u8>) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A sink over a blocking writer (a file, standard output).
pub struct WriteSink<W: std::io::Write + Send>(pub W);

impl<W: std::io::Write + Send> Sink for WriteSink<W> {
    async fn write(&mut self, chunk: Vec<u8>) -> anyhow::Result<()> {
        Ok(self.0.write_all(&chunk)?)
    }
}

/// Writes every product of the store as CSV, handle by handle: the header first, then each
/// product's rows as one chunk. Returns how many products were written.
///
/// Descriptions written in Markdown are exported as their HTML (the column is HTML).
pub async fn export_products(
    pool: &PgPool,
    schema: &TenantSchema,
    options: &ExportOptions,
    sink: &mut impl Sink,
) -> anyhow::Result<u64> {
    let mut tx = tenant_store::begin(pool, schema).await?;
    let currency = Currency::parse(&settings::load(&mut tx).await?.currency)?;
    let mut filter = ProductFilter {
        limit: 250,
        ..ProductFilter::default()
    };
    let mut all: Vec<(String, Uuid)> = Vec::new();
    loop {
        let page = catalog::list_products(&mut tx, &filter).await?;
        all.extend(page.products.into_iter().map(|p| (p.handle, p.id)));
        match page.next {
            Some(next) => filter.after = Some(next),
            None => break,
        }
    }
    tx.commit().await?;
    all.sort();

    sink.write(to_csv(&[HEADER.map(str::to_owned).to_vec()])?)
        .await?;
    let base = options.image_base_url.as_deref().unwrap_or("");
    let mut written = 0;
    for batch in all.chunks(BATCH) {
        let mut tx = tenant_store::begin(pool, schema).await?;
        // Products deleted since the list was read are left out.
        let ids: Vec<Uuid> = batch.iter().map(|(_, id)| *id).collect();
        let products = catalog::get_products(&mut tx, &ids).await?;
        tx.commit().await?;
        for product in &products {
            sink.write(to_csv(&product_rows(product, currency, base))?)
                .await?;
            written += 1;
        }
    }
    Ok(written)
}

fn to_csv(rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(
            row.iter()
                .map(|cell| super::cells::neutralize(cell).into_owned()),
        )?;
    }
    Ok(writer.into_inner().map_err(|e| e.into_error())?)
}

fn yes_no(b: bool) -> String {
    if b { "TRUE" } else { "FALSE" }.to_owned()
}

/// One product as Shopify lays it out: the first row carries the product, the first variant
/// and the first image; each further row a variant and/or an image.
fn product_rows(p: &Product, currency: Currency, image_base: &str) -> Vec<Vec<String>> {
    let index = |name: &str| {
        HEADER
            .iter()
            .position(|h| *h == name)
            .expect("a column of HEADER")
    };
    let money = |minor: i64| Money::new(minor, currency).to_decimal_string();
    let rows = p.variants.len().max(p.images.len()).max(1);
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let mut row = vec![String::new(); HEADER.len()];
        let mut set = |name: &str, value: String| row[index(name)] = value;
        set(col::HANDLE, p.handle.clone());
        if i == 0 {
            set(col::TITLE, p.title.clone());
            set(
                col::BODY,
                match p.body_format {
                    BodyFormat::Html => p.body_source.clone(),
                    BodyFormat::Markdown => p.body_html.clone(),
                },
            );
            set(col::VENDOR, p.vendor.clone());
            set(col::TYPE, p.product_type.clone());
            set(col::TAGS, p.tags.join(", "));
            set(col::PUBLISHED, yes_no(p.status == catalog::Status::Active));
            if p.options.is_empty() {
                set(col::OPTION_NAMES[0], "Title".into());
            }
            for (n, name) in p.options.iter().enumerate() {
                set(col::OPTION_NAMES[n], name.clone());
            }
            set(col::GIFT_CARD, yes_no(false));
            set(col::SEO_TITLE, p.seo_title.clone());
            set(col::SEO_DESCRIPTION, p.seo_description.clone());
            set(col::STATUS, p.status.as_str().to_owned());
        }
        if let Some(v) = p.variants.get(i) {
            if p.options.is_empty() {
                set(col::OPTION_VALUES[0], "Default Title".into());
            }
            for (n, value) in [&v.option1, &v.option2, &v.option3].into_iter().enumerate() {
                if let Some(value) = value {
                    set(col::OPTION_VALUES[n], value.clone());
                }
            }
            set(col::SKU, v.sku.clone());
            set(col::GRAMS, v.weight_grams.to_string());
            if v.track_inventory {
                set(col::INVENTORY_TRACKER, "shopify".into());
            }
            set(col::INVENTORY_QTY, v.inventory_quantity.to_string());
            set(col::INVENTORY_POLICY, "deny".into());
            set(col::FULFILLMENT_SERVICE, "manual".into());
            set(col::PRICE, money(v.price_minor));
            if let Some(c) = v.compare_at_minor {
                set(col::COMPARE_AT_PRICE, money(c));
            }
            set(col::REQUIRES_SHIPPING, yes_no(true));
            set(col::TAXABLE, yes_no(true));
            set(col::WEIGHT_UNIT, "g".into());
        }
        if let Some(image) = p.images.get(i) {
            let url = media_urls::image_url(&image.storage_key, IMAGE_WIDTH);
            set(col::IMAGE_SRC, format!("{image_base}{url}"));
            set(col::IMAGE_POSITION, image.position.to_string());
            set(col::IMAGE_ALT, image.alt.clone());
        }
        out.push(row);
    }
    out
}
