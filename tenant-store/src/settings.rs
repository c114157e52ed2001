//! Store settings: the store's name, contact address, currency and locale.

use serde::Serialize;
use sqlx::PgConnection;

use crate::StoreError;

/// The settings a store is born with.
#[derive(Clone, Debug)]
pub struct SeedSettings<'a> {
    /// Store name shown to shoppers.
    pub name: &'a str,
    /// Where shoppers' enquiries and order notifications go.
    pub contact_email: &'a str,
    /// ISO 4217 code of the store's currency.
    pub currency: &'a str,
}

/// A store's settings as shoppers and merchants see them.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct StoreSettings {
    /// Store name shown to shoppers.
    pub name: String,
    /// Where shoppers' enquiries and order notifications go.
    pub contact_email: String,
    /// ISO 4217 code of the store's currency.
    pub currency: String,
    /// IANA time zone for dates shown to the merchant.
    pub timezone: String,
    /// Language of the storefront.
    pub locale: String,
}

/// Writes the first settings row of a new store.
pub async fn seed(conn: &mut PgConnection, seed: &SeedSettings<'_>) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO settings (name, contact_email, currency) VALUES ($1, $2, $3)")
        .bind(seed.name)
        .bind(seed.contact_email)
        .bind(seed.currency)
        .execute(conn)
        .await?;
    Ok(())
}

/// Reads the store's settings.
pub async fn load(conn: &mut PgConnection) -> Result<StoreSettings, StoreError> {
    sqlx::query_as::<_, StoreSettings>(
        "SELECT name, contact_email, currency, timezone, locale FROM settings",
    )
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}
