//! Products in and out as Shopify's product CSV, so a merchant can move a catalog over as it is.
//!
//! [`import`] streams a file, validates each row and applies one product at a time, each in
//! its own tenant transaction; [`export`] writes a file that imports back to the same
//! catalog; [`jobs`] records imports started from the admin; [`command`] is the
//! `storefront import products` / `storefront export products` command line.

pub mod cells;
pub mod command;
pub mod export;
pub mod images;
pub mod import;
pub mod jobs;

use serde::{Deserialize, Serialize};

pub use export::{ExportOptions, export_products};
pub use import::{Progress, Report, count_rows, import_products};

/// Shopify's column names, in the order an export writes them. An import accepts them in any
/// order (and any letter case) and ignores columns it does not know.
pub mod columns {
    /// The product's URL handle; rows with the same handle are one product.
    pub const HANDLE: &str = "Handle";
    /// The product title (first row of a product).
    pub const TITLE: &str = "Title";
    /// The description, in HTML.
    pub const BODY: &str = "Body (HTML)";
    /// The brand.
    pub const VENDOR: &str = "Vendor";
    /// Shopify's standard taxonomy (not kept by this platform).
    pub const PRODUCT_CATEGORY: &str = "Product Category";
    /// The merchant's own category.
    pub const TYPE: &str = "Type";
    /// Comma-separated tags.
    pub const TAGS: &str = "Tags";
    /// `TRUE` for on sale, `FALSE` for draft (when there is no Status).
    pub const PUBLISHED: &str = "Published";
    /// Option names (first row) and each variant's values.
    pub const OPTION_NAMES: [&str; 3] = ["Option1 Name", "Option2 Name", "Option3 Name"];
    /// A variant's option values.
    pub const OPTION_VALUES: [&str; 3] = ["Option1 Value", "Option2 Value", "Option3 Value"];
    /// The variant's SKU.
    pub const SKU: &str = "Variant SKU";
    /// The variant's weight in grams.
    pub const GRAMS: &str = "Variant Grams";
    /// `shopify` when stock is counted, empty otherwise.
    pub const INVENTORY_TRACKER: &str = "Variant Inventory Tracker";
    /// Units in stock.
    pub const INVENTORY_QTY: &str = "Variant Inventory Qty";
    /// `deny` or `continue` selling when out of stock (not kept: tracked stock always limits).
    pub const INVENTORY_POLICY: &str = "Variant Inventory Policy";
    /// Who ships it (not kept).
    pub const FULFILLMENT_SERVICE: &str = "Variant Fulfillment Service";
    /// The price, a decimal in the store currency.
    pub const PRICE: &str = "Variant Price";
    /// The former price shown struck through.
    pub const COMPARE_AT_PRICE: &str = "Variant Compare At Price";
    /// Not kept.
    pub const REQUIRES_SHIPPING: &str = "Variant Requires Shipping";
    /// Not kept.
    pub const TAXABLE: &str = "Variant Taxable";
    /// Not kept.
    pub const BARCODE: &str = "Variant Barcode";
    /// An image URL: fetched on import (the store's own media URLs are reused).
    pub const IMAGE_SRC: &str = "Image Src";
    /// The image's position.
    pub const IMAGE_POSITION: &str = "Image Position";
    /// The image's alternative text.
    pub const IMAGE_ALT: &str = "Image Alt Text";
    /// Not kept.
    pub const GIFT_CARD: &str = "Gift Card";
    /// Title for search engines.
    pub const SEO_TITLE: &str = "SEO Title";
    /// Description for search engines.
    pub const SEO_DESCRIPTION: &str = "SEO Description";
    /// A variant's own image URL: fetched on import like `Image Src`.
    pub const VARIANT_IMAGE: &str = "Variant Image";
    /// The variant's weight in [`WEIGHT_UNIT`]s (used when there are no grams).
    pub const WEIGHT: &str = "Variant Weight";
    /// `g`, `kg`, `lb` or `oz`.
    pub const WEIGHT_UNIT: &str = "Variant Weight Unit";
    /// Not kept.
    pub const TAX_CODE: &str = "Variant Tax Code";
    /// Not kept.
    pub const COST: &str = "Cost per item";
    /// `active`, `draft` or `archived`.
    pub const STATUS: &str = "Status";
}

/// One problem (or, in notes, one thing skipped) at a line and column of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// The line of the file where the row starts (1 is the header).
    pub line: u64,
    /// The column at fault.
    pub column: String,
    /// The product's handle as written ("" when the row has none).
    pub handle: String,
    /// What is wrong, for the merchant.
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, {}: {}", self.line, self.column, self.message)
    }
}
