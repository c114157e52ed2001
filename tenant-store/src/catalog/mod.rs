//! The catalog: products with options and variants, images, collections, inventory.

pub mod collections;
mod handle;
pub mod images;
pub mod inventory;
pub(crate) mod products;
pub mod search_feed;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use handle::Handle;
pub use products::{
    Cursor, Found, ProductFilter, ProductPage, ProductSummary, count_products, create_product,
    delete_product, find_by_handle, get_product, get_products, list_products, set_status,
    update_product,
};

/// Most options a product can have (Size, Colour, Material).
pub const MAX_OPTIONS: usize = 3;
/// Most variants a product can have.
pub const MAX_VARIANTS: usize = 100;
/// The highest price a variant may have, in minor units (100 billion in a currency with
/// two decimals): a cart of [`crate::cart::MAX_LINES`] lines of
/// [`crate::cart::MAX_LINE_QUANTITY`] units at this price still sums within `i64`.
pub const MAX_PRICE_MINOR: i64 = 10_000_000_000_000;

/// Where a product stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being prepared; never shown to shoppers.
    Draft,
    /// On sale.
    Active,
    /// Kept for records; never shown to shoppers.
    Archived,
}

impl Status {
    /// Parses `draft`, `active` or `archived`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "draft" => Ok(Self::Draft),
            "active" => Ok(Self::Active),
            "archived" => Ok(Self::Archived),
            _ => Err("must be draft, active or archived".into()),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
}

/// How a description was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// HTML (sanitized before it is stored for display).
    #[default]
    Html,
    /// Markdown (rendered, then sanitized).
    Markdown,
}

impl BodyFormat {
    fn as_str(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Markdown => "markdown",
        }
    }
}

/// What the merchant (form, API or CSV) sends to create or replace a product.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ProductInput {
    /// Title; required.
    pub title: String,
    /// Handle; derived from the title when empty.
    pub handle: Option<String>,
    /// Description as written.
    pub body: String,
    /// How `body` is written.
    pub body_format: BodyFormat,
    /// Draft, active or archived (`None`: draft for new products, unchanged on update).
    pub status: Option<Status>,
    /// Brand.
    pub vendor: String,
    /// The merchant's category.
    pub product_type: String,
    /// Tags (trimmed; duplicates and blanks dropped).
    pub tags: Vec<String>,
    /// Title for search engines (empty: the title).
    pub seo_title: String,
    /// Description for search engines.
    pub seo_description: String,
    /// Option names in order (at most three).
    pub options: Vec<String>,
    /// Variants; at least one.
    pub variants: Vec<VariantInput>,
}

/// One variant as sent by the merchant.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct VariantInput {
    /// An existing variant's id, to update it in place (its stock history stays attached).
    pub id: Option<Uuid>,
    /// One value per product option, in order.
    pub option_values: Vec<String>,
    /// Stock-keeping unit; optional, unique in the store when given.
    pub sku: String,
    /// Price in minor units of the store currency.
    pub price_minor: i64,
    /// Former price shown struck through, in minor units.
    pub compare_at_minor: Option<i64>,
    /// Shipping weight in grams.
    pub weight_grams: i32,
    /// Whether stock is counted (and selling is limited to it).
    pub track_inventory: bool,
    /// Units in stock.
    pub inventory_quantity: i32,
}

/// A product as stored.
#[derive(Clone, Debug, Serialize)]
pub struct Product {
    /// Identifier.
    pub id: Uuid,
    /// URL handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// The description as the merchant wrote it.
    pub body_source: String,
    /// How it was written.
    pub body_format: BodyFormat,
    /// The sanitized HTML shown to shoppers.
    pub body_html: String,
    /// Draft, active or archived.
    pub status: Status,
    /// Brand.
    pub vendor: String,
    /// The merchant's category.
    pub product_type: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Title for search engines.
    pub seo_title: String,
    /// Description for search engines.
    pub seo_description: String,
    /// Option names in order.
    pub options: Vec<String>,
    /// Variants in order.
    pub variants: Vec<Variant>,
    /// Images in order.
    pub images: Vec<Image>,
    /// When it was first made active.
    pub published_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A purchasable variant.
#[derive(Clone, Debug, Serialize, Deserialize, sqlx::FromRow)]
pub struct Variant {
    /// Identifier.
    pub id: Uuid,
    /// Order within the product (1-based).
    pub position: i32,
    /// Value of the first option.
    pub option1: Option<String>,
    /// Value of the second option.
    pub option2: Option<String>,
    /// Value of the third option.
    pub option3: Option<String>,
    /// SKU ("" when none).
    pub sku: String,
    /// Price in minor units.
    pub price_minor: i64,
    /// Former price in minor units.
    pub compare_at_minor: Option<i64>,
    /// Weight in grams.
    pub weight_grams: i32,
    /// Whether stock is counted.
    pub track_inventory: bool,
    /// Units in stock.
    pub inventory_quantity: i32,
}

impl Variant {
    /// "S / Blue", or "Default Title" for a product without options.
    pub fn title(&self) -> String {
        let parts: Vec<&str> = [&self.option1, &self.option2, &self.option3]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if parts.is_empty() {
            "Default Title".into()
        } else {
            parts.join(" / ")
        }
    }

    /// Whether a shopper can buy one now.
    pub fn available(&self) -> bool {
        !self.track_inventory || self.inventory_quantity > 0
    }

    /// The stock a storefront page tells: `Some(n)` for "Sold out" (0) or "Only n left"
    /// (up to [`STOCK_SHOWN_UP_TO`]), `None` for "In stock" (more, or not tracked).
    pub fn stock_shown(&self) -> Option<i32> {
        (self.track_inventory && self.inventory_quantity <= STOCK_SHOWN_UP_TO)
            .then(|| self.inventory_quantity.max(0))
    }
}

/// Storefront pages tell how many units are left up to this many ("Only 3 left"), and
/// above it only "In stock". So a sale that leaves more than this on the shelf changes no
/// page, and cached pages stay (tenant migration `0016` announces a stock change only when
/// `least(greatest(quantity, 0), STOCK_SHOWN_UP_TO + 1)` changes).
pub const STOCK_SHOWN_UP_TO: i32 = 5;

/// A product image (files live in object storage under `storage_key`).
#[derive(Clone, Debug, Serialize, Deserialize, sqlx::FromRow)]
pub struct Image {
    /// Identifier.
    pub id: Uuid,
    /// Order within the product (1-based).
    pub position: i32,
    /// Alternative text.
    pub alt: String,
    /// Where the renditions are stored.
    pub storage_key: String,
    /// MIME type of the stored renditions.
    pub content_type: String,
    /// Width of the original in pixels.
    pub width: i32,
    /// Height of the original in pixels.
    pub height: i32,
}

/// Sanitized HTML for a description: Markdown is rendered first; scripts, event handlers
/// and other active content are removed either way.
pub fn render_body(source: &str, format: BodyFormat) -> String {
    let html = match format {
        BodyFormat::Html => source.to_owned(),
        BodyFormat::Markdown => {
            let mut out = String::new();
            pulldown_cmark::html::push_html(&mut out, pulldown_cmark::Parser::new(source));
            out
        }
    };
    ammonia::clean(&html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_sanitized_whatever_their_format() {
        let html = render_body(
            "<p onclick=\"x()\">Hi<script>alert(1)</script></p>",
            BodyFormat::Html,
        );
        assert_eq!(html, "<p>Hi</p>");
        let md = render_body(
            "**Soft** cotton\n\n<img src=x onerror=alert(1)>",
            BodyFormat::Markdown,
        );
        assert!(md.contains("<strong>Soft</strong>"));
        assert!(!md.contains("onerror"));
    }
}
