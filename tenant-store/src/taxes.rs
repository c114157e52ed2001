//! Tax rates by destination (a country-wide rate and region rates, which add up), and
//! whether the store's prices include tax.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;
use crate::pricing::{FULL_BP, TaxRate};

/// A tax rate as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct TaxRateRecord {
    /// Identifier.
    pub id: Uuid,
    /// ISO country code.
    pub country: String,
    /// Region (state, province) code as addresses carry it; empty: the whole country.
    pub region: String,
    /// What the shopper reads ("VAT", "CA state tax").
    pub name: String,
    /// Basis points (8.25 % = 825).
    pub rate_bp: i32,
}

/// What the merchant sends.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct TaxRateInput {
    /// ISO country code (any case).
    pub country: String,
    /// Region code (any case); empty for the whole country.
    #[serde(default)]
    pub region: String,
    /// Name; required.
    pub name: String,
    /// Basis points, 0 to 10 000.
    pub rate_bp: i32,
}

const COLUMNS: &str = "id, country, region, name, rate_bp";

fn validate(input: &TaxRateInput) -> Result<(String, String, String), StoreError> {
    let mut errors = Vec::new();
    let country = input.country.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        errors.push((
            "country".to_owned(),
            "must be a two-letter country code like US or DE".to_owned(),
        ));
    }
    let region = input.region.trim().to_ascii_uppercase();
    if region.chars().count() > 100 {
        errors.push((
            "region".to_owned(),
            "must be at most 100 characters".to_owned(),
        ));
    }
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        errors.push(("name".to_owned(), "can't be blank".to_owned()));
    } else if name.chars().count() > 100 {
        errors.push((
            "name".to_owned(),
            "must be at most 100 characters".to_owned(),
        ));
    }
    if !(0..=FULL_BP as i32).contains(&input.rate_bp) {
        errors.push((
            "rate_bp".to_owned(),
            "must be from 0 to 10000 basis points (0 % to 100 %)".to_owned(),
        ));
    }
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    Ok((country, region, name))
}

fn duplicate(e: sqlx::Error) -> StoreError {
    match e.as_database_error().and_then(|d| d.constraint()) {
        Some("tax_rates_country_region_key") => {
            StoreError::invalid("region", "this country and region already have a rate")
        }
        _ => StoreError::Database(e),
    }
}

/// Creates a rate; a second rate for the same country and region is a `region` error.
pub async fn create_rate(
    conn: &mut PgConnection,
    input: &TaxRateInput,
) -> Result<TaxRateRecord, StoreError> {
    let (country, region, name) = validate(input)?;
    sqlx::query_as(&format!(
        "INSERT INTO tax_rates (id, country, region, name, rate_bp) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(country)
    .bind(region)
    .bind(name)
    .bind(input.rate_bp)
    .fetch_one(conn)
    .await
    .map_err(duplicate)
}

/// Replaces a rate.
pub async fn update_rate(
    conn: &mut PgConnection,
    id: Uuid,
    input: &TaxRateInput,
) -> Result<TaxRateRecord, StoreError> {
    let (country, region, name) = validate(input)?;
    let row: Option<TaxRateRecord> = sqlx::query_as(&format!(
        "UPDATE tax_rates SET country = $2, region = $3, name = $4, rate_bp = $5 WHERE id = $1 \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(country)
    .bind(region)
    .bind(name)
    .bind(input.rate_bp)
    .fetch_optional(conn)
    .await
    .map_err(duplicate)?;
    row.ok_or(StoreError::NotFound)
}

/// Deletes a rate.
pub async fn delete_rate(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM tax_rates WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Every rate, by country and region.
pub async fn list_rates(conn: &mut PgConnection) -> Result<Vec<TaxRateRecord>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tax_rates ORDER BY country, region"
    ))
    .fetch_all(conn)
    .await?)
}

/// The rates that apply to a destination: the country's own rate and its region's, in that
/// order.
pub async fn rates_for(
    conn: &mut PgConnection,
    country: &str,
    region: &str,
) -> Result<Vec<TaxRate>, StoreError> {
    let rows: Vec<(String, i32)> = sqlx::query_as(
        "SELECT name, rate_bp FROM tax_rates \
         WHERE country = $1 AND (region = '' OR region = $2) ORDER BY region",
    )
    .bind(country.trim().to_ascii_uppercase())
    .bind(region.trim().to_ascii_uppercase())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, bp)| TaxRate {
            name,
            rate_bp: u32::try_from(bp).unwrap_or(0),
        })
        .collect())
}

/// Whether the store's prices include tax.
pub async fn prices_include_tax(conn: &mut PgConnection) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT prices_include_tax FROM settings")
            .fetch_one(conn)
            .await?,
    )
}

/// Sets whether the store's prices include tax.
pub async fn set_prices_include_tax(
    conn: &mut PgConnection,
    include: bool,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE settings SET prices_include_tax = $1, updated_at = now()")
        .bind(include)
        .execute(conn)
        .await?;
    Ok(())
}
