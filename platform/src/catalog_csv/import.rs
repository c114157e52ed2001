//! Importing a Shopify product CSV: rows are read as a stream, grouped by handle and checked,
//! and each product is written in its own tenant transaction, so a broken product rolls back
//! alone and the rest of the file still goes in.
//!
//! Re-importing is idempotent: a product is found by its handle and its variants by SKU (else
//! by option values), so nothing is duplicated, variant ids and stock history stay, and a
//! product whose data did not change is not written at all.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use billing::{Currency, Money, MoneyError};
use csv::ByteRecord;
use serde::Serialize;
use sqlx::PgPool;
use tenant_store::catalog::{
    self, BodyFormat, Found, Handle, Product, ProductInput, Status, Variant, VariantInput,
    inventory,
};
use tenant_store::{StoreError, TenantSchema, audit, settings};
use uuid::Uuid;

use super::RowError;
use super::columns as col;
use super::images::{self, ImageFetcher, ImageRef, Target};
use crate::tenancy::{self, Tenant};

/// Most errors (and, separately, most notes) a report lists; the rest are only counted.
pub const MAX_REPORTED: usize = 1000;
/// Products parsed ahead of the one being written.
const READ_AHEAD: usize = 8;
/// The reason recorded on stock changes made by an import.
const STOCK_REASON: &str = "CSV import";

/// What happened to one product of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new product was created.
    Created,
    /// An existing product (same handle) was changed.
    Updated,
    /// An existing product already had exactly this data.
    Unchanged,
    /// Not imported: its rows are listed in the report's errors.
    Failed,
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Data rows read (the header and blank rows not counted).
    pub rows: u64,
    /// Products created.
    pub created: u64,
    /// Products changed.
    pub updated: u64,
    /// Products found already as the file has them.
    pub unchanged: u64,
    /// Products not imported (and rows without a handle).
    pub failed: u64,
    /// Why the failed products were refused, by line and column (at most [`MAX_REPORTED`]).
    pub errors: Vec<RowError>,
    /// Errors beyond [`MAX_REPORTED`].
    pub errors_omitted: u64,
    /// What was skipped in products that were imported, such as image URLs.
    pub notes: Vec<RowError>,
    /// Notes beyond [`MAX_REPORTED`].
    pub notes_omitted: u64,
    /// Why the import stopped before the end of the file (unreadable file, no Handle
    /// column); the products before that point were imported.
    pub aborted: Option<String>,
}

impl Report {
    /// Whether every product went in.
    pub fn succeeded(&self) -> bool {
        self.failed == 0 && self.aborted.is_none()
    }

    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    fn add_errors(&mut self, errors: Vec<RowError>) {
        add_capped(&mut self.errors, &mut self.errors_omitted, errors);
    }

    fn add_notes(&mut self, notes: Vec<RowError>) {
        add_capped(&mut self.notes, &mut self.notes_omitted, notes);
    }
}

fn add_capped(list: &mut Vec<RowError>, omitted: &mut u64, items: Vec<RowError>) {
    for item in items {
        if list.len() < MAX_REPORTED {
            list.push(item);
        } else {
            *omitted += 1;
        }
    }
}

/// Receives progress while a file is imported (a progress bar, log lines, a job row).
pub trait Progress: Send + Sync {
    /// The import starts; the file has `total_rows` data rows.
    fn started(&self, total_rows: u64);
    /// One product is done; `rows_done` data rows of the file are behind us.
    fn product_done(&self, handle: &str, outcome: Outcome, errors: &[RowError], rows_done: u64);
    /// The import is over.
    fn finished(&self, report: &Report);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _: u64) {}
    fn product_done(&self, _: &str, _: Outcome, _: &[RowError], _: u64) {}
    fn finished(&self, _: &Report) {}
}

/// Counts the data rows of a CSV file (for a progress bar's length), reading it as the
/// import will; refuses a file without a header row naming a Handle column.
pub fn count_rows<R: Read>(input: R) -> anyhow::Result<u64> {
    let mut reader = csv_reader(input);
    let mut record = ByteRecord::new();
    if !reader.read_byte_record(&mut record)? {
        anyhow::bail!("the file is empty");
    }
    Columns::from_header(&record).map_err(anyhow::Error::msg)?;
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record)? {
        if !is_blank(&record) {
            rows += 1;
        }
    }
    Ok(rows)
}

/// Imports a Shopify product CSV into `tenant`'s catalog. `input` is read on a blocking
/// thread, a product at a time; `total_rows` (from [`count_rows`]) only feeds `progress`.
/// `actor` is recorded in the audit log and stock history (`import` or a merchant's email).
///
/// Each imported product's images (`Image Src`, `Variant Image`) are then fetched with
/// `images` and attached; without a fetcher they are skipped with a note. An image that
/// cannot be imported is a note: its product still counts as imported.
///
/// Errors in the file never fail the call: they are in the report. An `Err` means the
/// store itself could not be read.
pub async fn import_products<R: Read + Send + 'static>(
    pool: &PgPool,
    tenant: &Tenant,
    input: R,
    actor: &str,
    total_rows: u64,
    progress: &dyn Progress,
    images: Option<&ImageFetcher>,
) -> anyhow::Result<Report> {
    let mut tx = tenant_store::begin(pool, &tenant.schema).await?;
    let store = settings::load(&mut tx).await?;
    tx.commit().await?;
    let currency = Currency::parse(&store.currency)?;
    let writer = Writer {
        pool,
        schema: &tenant.schema,
        limit: tenancy::product_limit(pool, tenant.id).await?,
        actor,
    };

    progress.started(total_rows);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Parsed>(READ_AHEAD);
    let reader = tokio::task::spawn_blocking(move || {
        parse(input, currency, |parsed| {
            sender.blocking_send(parsed).is_ok()
        })
    });
    let mut report = Report::default();
    while let Some(mut parsed) = receiver.recv().await {
        let (mut outcome, product_id) = writer.write(&mut parsed).await;
        if let Some(product_id) = product_id {
            match images {
                Some(fetcher) => {
                    let target = Target {
                        pool,
                        schema: &tenant.schema,
                        actor,
                        product_id,
                        handle: &parsed.handle,
                    };
                    let attached = fetcher.attach(&target, &parsed.images).await;
                    if attached.added > 0 && outcome == Outcome::Unchanged {
                        outcome = Outcome::Updated;
                    }
                    parsed.notes.extend(attached.notes);
                }
                None => {
                    let skipped = parsed
                        .images
                        .iter()
                        .map(|r| images::skipped(&parsed.handle, r));
                    parsed.notes.extend(skipped.collect::<Vec<_>>());
                }
            }
            parsed.notes.sort_by_key(|n| n.line);
        }
        report.rows += parsed.rows;
        report.count(outcome);
        progress.product_done(&parsed.handle, outcome, &parsed.errors, report.rows);
        report.add_errors(std::mem::take(&mut parsed.errors));
        if outcome != Outcome::Failed {
            report.add_notes(std::mem::take(&mut parsed.notes));
        }
    }
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(stopped)) => report.aborted = Some(stopped),
        Err(e) => report.aborted = Some(format!("reading the file failed: {e}")),
    }
    progress.finished(&report);
    Ok(report)
}

/// A CSV reader as both passes use it: no header handling of its own (the header is read as
/// the first record), rows of any length.
fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input)
}

fn is_blank(record: &ByteRecord) -> bool {
    record
        .iter()
        .all(|field| field.iter().all(u8::is_ascii_whitespace))
}

/// Where each known column is in this file.
struct Columns {
    handle: usize,
    title: Option<usize>,
    body: Option<usize>,
    vendor: Option<usize>,
    product_type: Option<usize>,
    tags: Option<usize>,
    published: Option<usize>,
    option_names: [Option<usize>; 3],
    option_values: [Option<usize>; 3],
    sku: Option<usize>,
    grams: Option<usize>,
    tracker: Option<usize>,
    quantity: Option<usize>,
    price: Option<usize>,
    compare_at: Option<usize>,
    image_src: Option<usize>,
    image_position: Option<usize>,
    image_alt: Option<usize>,
    variant_image: Option<usize>,
    seo_title: Option<usize>,
    seo_description: Option<usize>,
    weight: Option<usize>,
    weight_unit: Option<usize>,
    status: Option<usize>,
}

impl Columns {
    /// Finds the columns by name, in any order and letter case; unknown ones are ignored.
    fn from_header(header: &ByteRecord) -> Result<Self, String> {
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = String::from_utf8_lossy(name);
            let name = name.trim_start_matches('\u{feff}').trim().to_lowercase();
            index.entry(name).or_insert(i);
        }
        let find = |name: &str| index.get(&name.to_lowercase()).copied();
        let handle = find(col::HANDLE).ok_or_else(|| {
            "the file has no Handle column: is it a Shopify product CSV with its header row?"
                .to_owned()
        })?;
        Ok(Self {
            handle,
            title: find(col::TITLE),
            body: find(col::BODY),
            vendor: find(col::VENDOR),
            product_type: find(col::TYPE),
            tags: find(col::TAGS),
            published: find(col::PUBLISHED),
            option_names: col::OPTION_NAMES.map(find),
            option_values: col::OPTION_VALUES.map(find),
            sku: find(col::SKU),
            grams: find(col::GRAMS),
            tracker: find(col::INVENTORY_TRACKER),
            quantity: find(col::INVENTORY_QTY),
            price: find(col::PRICE),
            compare_at: find(col::COMPARE_AT_PRICE),
            image_src: find(col::IMAGE_SRC),
            image_position: find(col::IMAGE_POSITION),
            image_alt: find(col::IMAGE_ALT),
            variant_image: find(col::VARIANT_IMAGE),
            seo_title: find(col::SEO_TITLE),
            seo_description: find(col::SEO_DESCRIPTION),
            weight: find(col::WEIGHT),
            weight_unit: find(col::WEIGHT_UNIT),
            status: find(col::STATUS),
        })
    }
}

/// One record of the file and the line it starts on.
struct Row<'r> {
    record: &'r ByteRecord,
    line: u64,
}

impl<'r> Row<'r> {
    /// The field in column `at` ("" when the file has no such column or the row is short),
    /// with the mark an export puts on formula-like cells taken off; or why it cannot be
    /// imported: it is not UTF-8, or it holds a character the store cannot keep (NUL: see
    /// [`crate::input`]).
    fn get(&self, at: Option<usize>) -> Result<&'r str, String> {
        let text = std::str::from_utf8(at.and_then(|i| self.record.get(i)).unwrap_or(b""))
            .map_err(|_| NOT_UTF8.to_owned())?;
        match crate::input::refusal(text) {
            Some(message) => Err(message.to_owned()),
            None => Ok(super::cells::restore(text)),
        }
    }
}

/// One product's rows, read and checked, ready to be written.
pub(crate) struct Parsed {
    /// The handle as written on the first row.
    handle: String,
    first_line: u64,
    rows: u64,
    /// The product, when its rows had no errors.
    input: Option<ProductInput>,
    /// The line of each variant.
    variant_lines: Vec<u64>,
    /// Each variant's stock from the file (`None`: keep what the store has).
    quantities: Vec<Option<i32>>,
    errors: Vec<RowError>,
    notes: Vec<RowError>,
    /// The distinct image URLs of its rows, in the order they are attached.
    images: Vec<ImageRef>,
}

/// Reads the file and hands over one product at a time; `emit` returns false to stop early.
/// The error is why reading stopped before the end.
fn parse<R: Read>(
    input: R,
    currency: Currency,
    mut emit: impl FnMut(Parsed) -> bool,
) -> Result<(), String> {
    let mut reader = csv_reader(input);
    let mut record = ByteRecord::new();
    let unreadable = |e: csv::Error| format!("the file could not be read as CSV: {e}");
    if !reader.read_byte_record(&mut record).map_err(unreadable)? {
        return Err("the file is empty".into());
    }
    let columns = Columns::from_header(&record)?;
    let mut current: Option<Group> = None;
    // Handles already done, with their first line: a product's rows must be together.
    let mut seen: HashMap<String, u64> = HashMap::new();
    // Rows without a usable handle, reported after the product around them so the report
    // stays in line order.
    let mut orphans: Vec<Parsed> = Vec::new();
    while reader.read_byte_record(&mut record).map_err(unreadable)? {
        if is_blank(&record) {
            continue;
        }
        let row = Row {
            record: &record,
            line: record.position().map_or(0, |p| p.line()),
        };
        let handle = match row.get(Some(columns.handle)) {
            Ok(h) => h.trim(),
            Err(message) => {
                orphans.push(Parsed::broken(row.line, col::HANDLE, message));
                continue;
            }
        };
        if handle.is_empty() {
            let message = "can't be blank: every row needs its product's handle".to_owned();
            orphans.push(Parsed::broken(row.line, col::HANDLE, message));
            continue;
        }
        let key = handle.to_lowercase();
        if current.as_ref().is_some_and(|g| g.key != key) {
            let done = current.take().expect("checked above");
            seen.insert(done.key.clone(), done.first_line);
            let finished = std::iter::once(done.finish()).chain(orphans.drain(..));
            if !finished.into_iter().all(&mut emit) {
                return Ok(());
            }
        }
        let group = current.get_or_insert_with(|| Group::new(key, handle, row.line, &seen));
        group.add(&row, &columns, currency);
    }
    let last = current.map(Group::finish).into_iter().chain(orphans);
    for parsed in last {
        if !emit(parsed) {
            break;
        }
    }
    Ok(())
}

const NOT_UTF8: &str = "is not UTF-8 text: save the file as CSV UTF-8";

impl Parsed {
    /// A row that cannot belong to any product (it has no handle).
    fn broken(line: u64, column: &str, message: String) -> Self {
        Self {
            handle: String::new(),
            first_line: line,
            rows: 1,
            input: None,
            variant_lines: Vec::new(),
            quantities: Vec::new(),
            errors: vec![RowError {
                line,
                column: column.to_owned(),
                handle: String::new(),
                message,
            }],
            notes: Vec::new(),
            images: Vec::new(),
        }
    }
}

/// The rows of one product while they are read.
struct Group {
    key: String,
    handle: String,
    first_line: u64,
    rows: u64,
    input: ProductInput,
    variant_lines: Vec<u64>,
    quantities: Vec<Option<i32>>,
    errors: Vec<RowError>,
    notes: Vec<RowError>,
    images: Vec<ImageRef>,
}

impl Group {
    fn new(key: String, handle: &str, line: u64, seen: &HashMap<String, u64>) -> Self {
        let mut group = Self {
            handle: handle.to_owned(),
            first_line: line,
            rows: 0,
            input: ProductInput {
                body_format: BodyFormat::Html,
                ..ProductInput::default()
            },
            variant_lines: Vec::new(),
            quantities: Vec::new(),
            errors: Vec::new(),
            notes: Vec::new(),
            images: Vec::new(),
            key,
        };
        if let Some(first) = seen.get(&group.key) {
            group.error(
                line,
                col::HANDLE,
                format!(
                    "“{handle}” already appeared on line {first}: a product's rows must follow each other"
                ),
            );
        }
        group
    }

    fn note(&mut self, line: u64, column: &str, message: String) {
        self.notes.push(RowError {
            line,
            column: column.to_owned(),
            handle: self.handle.clone(),
            message,
        });
    }

    fn error(&mut self, line: u64, column: &str, message: String) {
        self.errors.push(RowError {
            line,
            column: column.to_owned(),
            handle: self.handle.clone(),
            message,
        });
    }

    /// The field, or "" after recording why it cannot be imported.
    fn field<'r>(&mut self, row: &Row<'r>, at: Option<usize>, column: &str) -> &'r str {
        match row.get(at) {
            Ok(s) => s,
            Err(message) => {
                self.error(row.line, column, message);
                ""
            }
        }
    }

    fn add(&mut self, row: &Row<'_>, columns: &Columns, currency: Currency) {
        self.rows += 1;
        if self.rows == 1 {
            self.product_fields(row, columns);
        }
        for (at, column) in [
            (columns.image_src, col::IMAGE_SRC),
            (columns.variant_image, col::VARIANT_IMAGE),
        ] {
            let url = self.field(row, at, column).trim();
            if url.is_empty() {
                continue;
            }
            let (position, alt) = if column == col::IMAGE_SRC {
                let position = row.get(columns.image_position).unwrap_or("").trim();
                let alt = self.field(row, columns.image_alt, col::IMAGE_ALT);
                (position.parse::<u32>().ok(), alt.trim().to_owned())
            } else {
                (None, String::new())
            };
            self.images.push(ImageRef {
                line: row.line,
                column,
                url: url.to_owned(),
                position,
                alt,
            });
        }
        // Image-only rows leave these blank (weights may be defaulted, so they don't count).
        let variant_columns = columns.option_values.into_iter().chain([
            columns.sku,
            columns.price,
            columns.compare_at,
            columns.quantity,
        ]);
        let has_variant = variant_columns
            .into_iter()
            .any(|at| row.get(at).map_or(true, |s| !s.trim().is_empty()));
        if has_variant {
            self.variant(row, columns, currency);
        }
    }

    fn product_fields(&mut self, row: &Row<'_>, c: &Columns) {
        let line = row.line;
        match Handle::parse(&self.handle) {
            Ok(h) => self.input.handle = Some(h.as_str().to_owned()),
            Err(m) => self.error(line, col::HANDLE, format!("“{}” {m}", self.handle)),
        }
        let title = self.field(row, c.title, col::TITLE).trim();
        if title.is_empty() {
            self.error(
                line,
                col::TITLE,
                "can't be blank on a product's first row".into(),
            );
        }
        self.input.title = title.to_owned();
        self.input.body = self.field(row, c.body, col::BODY).to_owned();
        self.input.vendor = self.field(row, c.vendor, col::VENDOR).trim().to_owned();
        self.input.product_type = self.field(row, c.product_type, col::TYPE).trim().to_owned();
        self.input.seo_title = self
            .field(row, c.seo_title, col::SEO_TITLE)
            .trim()
            .to_owned();
        self.input.seo_description = self
            .field(row, c.seo_description, col::SEO_DESCRIPTION)
            .trim()
            .to_owned();
        self.input.tags = self
            .field(row, c.tags, col::TAGS)
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();

        let status = self.field(row, c.status, col::STATUS).trim();
        let published = self.field(row, c.published, col::PUBLISHED).trim();
        self.input.status = if !status.is_empty() {
            match Status::parse(status) {
                Ok(s) => Some(s),
                Err(m) => {
                    self.error(line, col::STATUS, format!("“{status}” {m}"));
                    None
                }
            }
        } else {
            match published.to_ascii_lowercase().as_str() {
                "" => None,
                "true" | "yes" | "1" => Some(Status::Active),
                "false" | "no" | "0" => Some(Status::Draft),
                _ => {
                    self.error(
                        line,
                        col::PUBLISHED,
                        format!("“{published}” must be TRUE or FALSE"),
                    );
                    None
                }
            }
        };

        let names: Vec<&str> = (0..3)
            .map(|i| {
                self.field(row, c.option_names[i], col::OPTION_NAMES[i])
                    .trim()
            })
            .collect();
        let first_value = row.get(c.option_values[0]).unwrap_or("").trim();
        // Shopify writes a product without options as one option "Title" = "Default Title".
        let default_title = names[0].eq_ignore_ascii_case("Title")
            && first_value == "Default Title"
            && names[1..].iter().all(|n| n.is_empty());
        if !default_title {
            let given = names.iter().take_while(|n| !n.is_empty()).count();
            if let Some(gap) = names[given..].iter().position(|n| !n.is_empty()) {
                let at = given + gap;
                self.error(
                    line,
                    col::OPTION_NAMES[at],
                    format!("is set but {} is blank", col::OPTION_NAMES[given]),
                );
            }
            self.input.options = names[..given].iter().map(|n| (*n).to_owned()).collect();
        }
    }

    fn variant(&mut self, row: &Row<'_>, c: &Columns, currency: Currency) {
        let line = row.line;
        let options = self.input.options.clone();
        let mut option_values = Vec::with_capacity(options.len());
        for i in 0..3 {
            let value = self
                .field(row, c.option_values[i], col::OPTION_VALUES[i])
                .trim();
            if let Some(name) = options.get(i) {
                if value.is_empty() {
                    self.error(
                        line,
                        col::OPTION_VALUES[i],
                        format!("can't be blank: the product has the option “{name}”"),
                    );
                }
                option_values.push(value.to_owned());
            } else if !value.is_empty() && (i > 0 || value != "Default Title") {
                self.error(
                    line,
                    col::OPTION_VALUES[i],
                    format!(
                        "“{value}” has no option: set {} on the product's first row",
                        col::OPTION_NAMES[i]
                    ),
                );
            }
        }

        let price = self.field(row, c.price, col::PRICE).trim();
        let price_minor = if price.is_empty() {
            self.error(line, col::PRICE, "can't be blank".into());
            0
        } else {
            parse_price(price, currency).unwrap_or_else(|m| {
                self.error(line, col::PRICE, m);
                0
            })
        };
        let compare_at = self.field(row, c.compare_at, col::COMPARE_AT_PRICE).trim();
        let compare_at_minor = if compare_at.is_empty() {
            None
        } else {
            parse_price(compare_at, currency)
                .map_err(|m| self.error(line, col::COMPARE_AT_PRICE, m))
                .ok()
        };

        let grams = self.field(row, c.grams, col::GRAMS).trim();
        let weight = self.field(row, c.weight, col::WEIGHT).trim();
        let unit = self.field(row, c.weight_unit, col::WEIGHT_UNIT).trim();
        let weight_grams = if !grams.is_empty() {
            parse_weight(grams, 1.0).unwrap_or_else(|m| {
                self.error(line, col::GRAMS, m);
                0
            })
        } else if !weight.is_empty() {
            match grams_per_unit(unit) {
                Some(factor) => parse_weight(weight, factor).unwrap_or_else(|m| {
                    self.error(line, col::WEIGHT, m);
                    0
                }),
                None => {
                    self.error(
                        line,
                        col::WEIGHT_UNIT,
                        format!("“{unit}” must be g, kg, lb or oz"),
                    );
                    0
                }
            }
        } else {
            0
        };

        let quantity = self.field(row, c.quantity, col::INVENTORY_QTY).trim();
        let quantity = if quantity.is_empty() {
            None
        } else {
            quantity
                .parse::<i32>()
                .map_err(|_| {
                    self.error(
                        line,
                        col::INVENTORY_QTY,
                        format!("“{quantity}” is not a whole number"),
                    )
                })
                .ok()
                .map(|q| {
                    // Shopify lets stock run below zero (selling on when out of stock);
                    // here stock never does.
                    if q < 0 {
                        self.note(
                            line,
                            col::INVENTORY_QTY,
                            format!("stock {q} read as 0: stock can't be negative here"),
                        );
                    }
                    q.max(0)
                })
        };
        let tracked = !self
            .field(row, c.tracker, col::INVENTORY_TRACKER)
            .trim()
            .is_empty();
        let sku = self.field(row, c.sku, col::SKU).trim().to_owned();

        self.input.variants.push(VariantInput {
            id: None,
            option_values,
            sku,
            price_minor,
            compare_at_minor,
            weight_grams,
            track_inventory: tracked,
            inventory_quantity: 0,
        });
        self.variant_lines.push(line);
        self.quantities.push(quantity);
    }

    fn finish(mut self) -> Parsed {
        if self.input.variants.is_empty() && self.errors.is_empty() {
            let line = self.first_line;
            self.error(
                line,
                col::PRICE,
                "the product has no variant: give its first row a Variant Price".into(),
            );
        }
        Parsed {
            handle: self.handle,
            first_line: self.first_line,
            rows: self.rows,
            input: self.errors.is_empty().then_some(self.input),
            variant_lines: self.variant_lines,
            quantities: self.quantities,
            errors: self.errors,
            notes: self.notes,
            images: images::ordered(self.images),
        }
    }
}

/// A price in the store currency, in minor units. Extra zero decimals are accepted
/// (`1500.00` yen), other extra digits are not.
fn parse_price(raw: &str, currency: Currency) -> Result<i64, String> {
    let digits = currency.minor_units() as usize;
    let trimmed = match raw.split_once('.') {
        Some((whole, fraction))
            if fraction.len() > digits && fraction[digits..].bytes().all(|b| b == b'0') =>
        {
            if digits == 0 {
                whole.to_owned()
            } else {
                format!("{whole}.{}", &fraction[..digits])
            }
        }
        _ => raw.to_owned(),
    };
    match Money::parse_decimal(&trimmed, currency) {
        Ok(m) if m.minor < 0 => Err(format!("“{raw}” can't be negative")),
        Ok(m) => Ok(m.minor),
        Err(MoneyError::TooManyFractionDigits { max, .. }) => Err(format!(
            "“{raw}” has more than {max} decimal places for {currency}"
        )),
        Err(MoneyError::Overflow) => Err(format!("“{raw}” is too large")),
        Err(_) => Err(format!("“{raw}” is not a price")),
    }
}

fn grams_per_unit(unit: &str) -> Option<f64> {
    match unit.to_ascii_lowercase().as_str() {
        "" | "g" => Some(1.0),
        "kg" => Some(1000.0),
        "lb" => Some(453.592_37),
        "oz" => Some(28.349_523_125),
        _ => None,
    }
}

/// A weight in `factor` grams per unit, as whole grams.
fn parse_weight(raw: &str, factor: f64) -> Result<i32, String> {
    let value: f64 = raw
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("“{raw}” is not a weight"))?;
    let grams = (value * factor).round();
    if grams < 0.0 {
        return Err(format!("“{raw}” can't be negative"));
    }
    if grams > f64::from(i32::MAX) {
        return Err(format!("“{raw}” is too large"));
    }
    Ok(grams as i32)
}

/// Writes parsed products into one store.
struct Writer<'a> {
    pool: &'a PgPool,
    schema: &'a TenantSchema,
    limit: Option<i64>,
    actor: &'a str,
}

impl Writer<'_> {
    /// Writes one product in its own transaction; on failure its errors are added to
    /// `parsed.errors` and nothing of it is kept.
    /// The product's id comes with every outcome but a failure.
    async fn write(&self, parsed: &mut Parsed) -> (Outcome, Option<Uuid>) {
        let Some(input) = parsed.input.clone() else {
            return (Outcome::Failed, None);
        };
        match self.save(input, parsed).await {
            Ok((outcome, id)) => (outcome, Some(id)),
            Err(e) => {
                let errors = locate(e, parsed);
                parsed.errors.extend(errors);
                (Outcome::Failed, None)
            }
        }
    }

    async fn save(
        &self,
        mut input: ProductInput,
        parsed: &Parsed,
    ) -> Result<(Outcome, Uuid), StoreError> {
        let mut tx = tenant_store::begin(self.pool, self.schema).await?;
        let handle = input.handle.clone().unwrap_or_default();
        // A handle the store only keeps as a redirect is free for a new product.
        let existing = match catalog::find_by_handle(&mut tx, &handle).await {
            Ok(Found::Product(p)) => Some(*p),
            Ok(Found::MovedTo(_)) | Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let (outcome, id) = match existing {
            None => {
                for (v, q) in input.variants.iter_mut().zip(&parsed.quantities) {
                    v.inventory_quantity = q.unwrap_or(0);
                }
                let product =
                    catalog::create_product(&mut tx, input, self.actor, self.limit).await?;
                (Outcome::Created, product.id)
            }
            Some(current) => {
                let stock = match_variants(&current, &mut input, &parsed.quantities);
                if unchanged(&current, &input, &stock) {
                    tx.rollback().await?;
                    return Ok((Outcome::Unchanged, current.id));
                }
                catalog::update_product(&mut tx, current.id, input, self.actor).await?;
                for (variant_id, quantity) in stock {
                    inventory::set_quantity(
                        &mut tx,
                        variant_id,
                        quantity,
                        STOCK_REASON,
                        self.actor,
                    )
                    .await?;
                }
                (Outcome::Updated, current.id)
            }
        };
        let details = serde_json::json!({
            "result": outcome,
            "product_id": id,
            "line": parsed.first_line,
        });
        audit::record(&mut tx, self.actor, "product.import", &handle, details).await?;
        tx.commit().await?;
        Ok((outcome, id))
    }
}

fn option_values(v: &Variant) -> Vec<String> {
    [&v.option1, &v.option2, &v.option3]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

/// Pairs the file's variants with the product's: by SKU first, then by option values. A
/// matched variant keeps its id (and so its stock history); its stock is left as it is here
/// and returned as `(variant id, quantity from the file)` to be set with a logged adjustment.
fn match_variants(
    current: &Product,
    input: &mut ProductInput,
    quantities: &[Option<i32>],
) -> Vec<(Uuid, i32)> {
    let mut taken: HashSet<Uuid> = HashSet::new();
    let mut matched: Vec<Option<&Variant>> = vec![None; input.variants.len()];
    for (i, v) in input.variants.iter().enumerate() {
        let sku = v.sku.trim();
        if sku.is_empty() {
            continue;
        }
        if let Some(c) = current
            .variants
            .iter()
            .find(|c| c.sku == sku && !taken.contains(&c.id))
        {
            taken.insert(c.id);
            matched[i] = Some(c);
        }
    }
    for (i, v) in input.variants.iter().enumerate() {
        if matched[i].is_some() {
            continue;
        }
        let values: Vec<String> = v
            .option_values
            .iter()
            .map(|o| o.trim().to_owned())
            .collect();
        if let Some(c) = current
            .variants
            .iter()
            .find(|c| !taken.contains(&c.id) && option_values(c) == values)
        {
            taken.insert(c.id);
            matched[i] = Some(c);
        }
    }
    let mut stock = Vec::new();
    for ((v, m), q) in input.variants.iter_mut().zip(matched).zip(quantities) {
        match m {
            Some(c) => {
                v.id = Some(c.id);
                v.inventory_quantity = c.inventory_quantity;
                stock.push((c.id, q.unwrap_or(c.inventory_quantity)));
            }
            None => v.inventory_quantity = q.unwrap_or(0),
        }
    }
    stock
}

/// Tags as the catalog stores them: trimmed, blanks and case-insensitive repeats dropped.
fn normalized_tags(tags: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    tags.iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
        .collect()
}

/// Whether writing `input` would leave `current` exactly as it is.
fn unchanged(current: &Product, input: &ProductInput, stock: &[(Uuid, i32)]) -> bool {
    let same_variants = current.variants.len() == input.variants.len()
        && current.variants.iter().zip(&input.variants).all(|(c, v)| {
            v.id == Some(c.id)
                && option_values(c) == v.option_values
                && c.sku == v.sku.trim()
                && c.price_minor == v.price_minor
                && c.compare_at_minor == v.compare_at_minor
                && c.weight_grams == v.weight_grams
                && c.track_inventory == v.track_inventory
        });
    let same_stock = stock.iter().all(|(id, quantity)| {
        current
            .variants
            .iter()
            .any(|c| c.id == *id && c.inventory_quantity == *quantity)
    });
    current.title == input.title.trim()
        && current.body_format == BodyFormat::Html
        && current.body_source == input.body
        && input.status.is_none_or(|s| s == current.status)
        && current.vendor == input.vendor.trim()
        && current.product_type == input.product_type.trim()
        && current.tags == normalized_tags(&input.tags)
        && current.seo_title == input.seo_title.trim()
        && current.seo_description == input.seo_description.trim()
        && current.options == input.options
        && same_variants
        && same_stock
}

/// The catalog's refusal, by line and column of the file.
fn locate(e: StoreError, parsed: &Parsed) -> Vec<RowError> {
    let at = |line: u64, column: &str, message: String| RowError {
        line,
        column: column.to_owned(),
        handle: parsed.handle.clone(),
        message,
    };
    let fields = match e {
        StoreError::Fields(fields) => fields,
        StoreError::Invalid { field, message } => vec![(field.to_owned(), message)],
        StoreError::LimitReached { limit, .. } => {
            return vec![at(
                parsed.first_line,
                col::HANDLE,
                format!(
                    "not created: the store's plan allows at most {limit} products; upgrade the plan and import the file again"
                ),
            )];
        }
        other => {
            tracing::warn!(error = %other, handle = %parsed.handle, "importing a product failed");
            return vec![at(
                parsed.first_line,
                col::HANDLE,
                "could not be saved because of an error on our side; import the file again".into(),
            )];
        }
    };
    fields
        .into_iter()
        .map(|(field, message)| {
            let variant = field
                .strip_prefix("variants[")
                .and_then(|rest| rest.split_once("]."))
                .and_then(|(i, f)| Some((i.parse::<usize>().ok()?, f)));
            match variant {
                Some((i, f)) => {
                    let line = parsed
                        .variant_lines
                        .get(i)
                        .copied()
                        .unwrap_or(parsed.first_line);
                    let sku = parsed
                        .input
                        .as_ref()
                        .and_then(|p| p.variants.get(i))
                        .map(|v| v.sku.trim().to_owned())
                        .unwrap_or_default();
                    match f {
                        "sku" | "id" => at(line, col::SKU, format!("“{sku}” {message}")),
                        "price" => at(line, col::PRICE, message),
                        "compare_at_price" => at(line, col::COMPARE_AT_PRICE, message),
                        "weight" => at(line, col::GRAMS, message),
                        "inventory_quantity" => at(line, col::INVENTORY_QTY, message),
                        _ => at(line, col::OPTION_VALUES[0], message),
                    }
                }
                None => {
                    let column = match field.as_str() {
                        "title" => col::TITLE,
                        "options" => col::OPTION_NAMES[0],
                        "variants" => col::OPTION_VALUES[0],
                        "status" => col::STATUS,
                        "delta" | "reason" | "quantity" => col::INVENTORY_QTY,
                        _ => col::HANDLE,
                    };
                    at(parsed.first_line, column, message)
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn parse_all(csv: &str) -> (Vec<Parsed>, Result<(), String>) {
        let mut out = Vec::new();
        let result = parse(csv.as_bytes(), usd(), |p| {
            out.push(p);
            true
        });
        (out, result)
    }

    fn messages(p: &Parsed) -> Vec<String> {
        p.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn rows_with_one_handle_make_one_product_with_variants() {
        let csv = "\u{feff}Title,handle,Option1 Name,Option1 Value,Variant Price,Variant SKU,Extra\n\
                   \"Shirt, blue\",shirt,Size,S,10.00,SH-S,x\n\
                   ,shirt,,M,10.5,SH-M,\n\
                   Mug,mug,Title,Default Title,4,,\n";
        let (parsed, result) = parse_all(csv);
        assert_eq!(result, Ok(()));
        assert_eq!(parsed.len(), 2);
        let shirt = parsed[0].input.as_ref().unwrap();
        assert_eq!(shirt.title, "Shirt, blue");
        assert_eq!(shirt.options, ["Size"]);
        assert_eq!(shirt.variants.len(), 2);
        assert_eq!(shirt.variants[1].price_minor, 1050);
        assert_eq!(parsed[0].variant_lines, [2, 3]);
        let mug = parsed[1].input.as_ref().unwrap();
        assert!(mug.options.is_empty());
        assert_eq!(mug.variants[0].option_values, Vec::<String>::new());
    }

    #[test]
    fn errors_name_the_line_and_the_column() {
        let csv = "Handle,Title,Variant Price,Option1 Name,Option1 Value,Status\n\
                   a,A,abc,Size,S,draft\n\
                   a,,12.345,,,\n\
                   b,B,1,,,sold\n\
                   ,C,1,,,\n\
                   a,A again,1,,,\n";
        let (parsed, _) = parse_all(csv);
        assert_eq!(
            messages(&parsed[0]),
            [
                "line 2, Variant Price: “abc” is not a price",
                "line 3, Option1 Value: can't be blank: the product has the option “Size”",
                "line 3, Variant Price: “12.345” has more than 2 decimal places for USD",
            ]
        );
        assert!(parsed[0].input.is_none());
        assert_eq!(
            messages(&parsed[1]),
            ["line 4, Status: “sold” must be draft, active or archived"]
        );
        assert_eq!(
            messages(&parsed[2]),
            ["line 5, Handle: can't be blank: every row needs its product's handle"]
        );
        assert_eq!(
            messages(&parsed[3]),
            [
                "line 6, Handle: “a” already appeared on line 2: a product's rows must follow each other"
            ]
        );
    }

    #[test]
    fn a_file_without_a_handle_column_is_refused_whole() {
        let (parsed, result) = parse_all("Title,Variant Price\nA,1\n");
        assert!(parsed.is_empty());
        assert!(result.unwrap_err().contains("no Handle column"));
    }

    #[test]
    fn prices_weights_and_published() {
        assert_eq!(parse_price("19.9", usd()), Ok(1990));
        assert_eq!(parse_price("19.900", usd()), Ok(1990));
        assert!(parse_price("-1", usd()).unwrap_err().contains("negative"));
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(parse_price("1500.00", jpy), Ok(1500));
        assert_eq!(parse_weight("1.5", 1000.0), Ok(1500));
        assert_eq!(parse_weight("200.0", 1.0), Ok(200));
        assert!(parse_weight("heavy", 1.0).is_err());
        let csv = "Handle,Title,Published,Variant Price,Variant Weight,Variant Weight Unit,Image Src\n\
                   a,A,FALSE,1,2,lb,https://cdn.example/a.jpg\n\
                   a,,,,,,https://cdn.example/b.jpg\n";
        let (parsed, _) = parse_all(csv);
        let a = parsed[0].input.as_ref().unwrap();
        assert_eq!(a.status, Some(Status::Draft));
        assert_eq!(a.variants.len(), 1, "an image row is not a variant");
        assert_eq!(a.variants[0].weight_grams, 907);
        assert!(parsed[0].notes.is_empty());
        let urls: Vec<(u64, &str)> = parsed[0]
            .images
            .iter()
            .map(|i| (i.line, i.url.as_str()))
            .collect();
        assert_eq!(
            urls,
            [
                (2, "https://cdn.example/a.jpg"),
                (3, "https://cdn.example/b.jpg")
            ]
        );
    }
}
