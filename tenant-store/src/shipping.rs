//! Shipping rates the merchant offers: each serves a set of countries (its zone; none means
//! everywhere) and is priced flat, free over an amount, or by weight brackets.

use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::StoreError;
use crate::pricing::{ShippingRule, WeightBracket};

/// A shipping rate as stored.
#[derive(Clone, Debug, Serialize)]
pub struct ShippingRate {
    /// Identifier.
    pub id: Uuid,
    /// What the shopper reads ("Standard", "Express").
    pub name: String,
    /// ISO country codes served; empty: every country.
    pub countries: Vec<String>,
    /// How it is priced.
    pub rule: ShippingRule,
    /// Order in lists (lowest first).
    pub position: i32,
}

impl ShippingRate {
    /// Whether this rate ships to `country` (an ISO code).
    pub fn serves(&self, country: &str) -> bool {
        self.countries.is_empty() || self.countries.iter().any(|c| c == country)
    }
}

/// What the merchant sends to create or replace a rate.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ShippingRateInput {
    /// Name; required, at most 100 characters.
    pub name: String,
    /// ISO country codes (any case; deduplicated); empty: everywhere.
    pub countries: Vec<String>,
    /// Pricing.
    pub rule: ShippingRule,
    /// Order in lists.
    #[serde(default)]
    pub position: i32,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    countries: Vec<String>,
    kind: String,
    price_minor: i64,
    threshold_minor: Option<i64>,
    weight_brackets: Json<Vec<WeightBracket>>,
    position: i32,
}

const COLUMNS: &str =
    "id, name, countries, kind, price_minor, threshold_minor, weight_brackets, position";

impl From<Row> for ShippingRate {
    fn from(r: Row) -> Self {
        let rule = match r.kind.as_str() {
            "free_over" => ShippingRule::FreeOver {
                price_minor: r.price_minor,
                threshold_minor: r.threshold_minor.unwrap_or(0),
            },
            "by_weight" => ShippingRule::ByWeight {
                brackets: r.weight_brackets.0,
            },
            _ => ShippingRule::Flat {
                price_minor: r.price_minor,
            },
        };
        Self {
            id: r.id,
            name: r.name,
            countries: r.countries,
            rule,
            position: r.position,
        }
    }
}

struct Columns {
    name: String,
    countries: Vec<String>,
    kind: &'static str,
    price_minor: i64,
    threshold_minor: Option<i64>,
    brackets: Vec<WeightBracket>,
}

fn validate(input: &ShippingRateInput) -> Result<Columns, StoreError> {
    let mut errors = Vec::new();
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        errors.push(("name".to_owned(), "can't be blank".to_owned()));
    } else if name.chars().count() > 100 {
        errors.push((
            "name".to_owned(),
            "must be at most 100 characters".to_owned(),
        ));
    }
    let mut countries: Vec<String> = Vec::new();
    for c in &input.countries {
        let c = c.trim().to_ascii_uppercase();
        if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
            errors.push((
                "countries".to_owned(),
                format!("{c:?} is not a two-letter country code"),
            ));
        } else if !countries.contains(&c) {
            countries.push(c);
        }
    }
    let money = |field: &str, v: i64, errors: &mut Vec<(String, String)>| {
        if v < 0 {
            errors.push((field.to_owned(), "must not be negative".to_owned()));
        }
    };
    let (kind, price_minor, threshold_minor, brackets) = match &input.rule {
        ShippingRule::Flat { price_minor } => {
            money("price_minor", *price_minor, &mut errors);
            ("flat", *price_minor, None, Vec::new())
        }
        ShippingRule::FreeOver {
            price_minor,
            threshold_minor,
        } => {
            money("price_minor", *price_minor, &mut errors);
            money("threshold_minor", *threshold_minor, &mut errors);
            (
                "free_over",
                *price_minor,
                Some(*threshold_minor),
                Vec::new(),
            )
        }
        ShippingRule::ByWeight { brackets } => {
            if brackets.is_empty() {
                errors.push(("brackets".to_owned(), "add at least one bracket".to_owned()));
            }
            for (i, b) in brackets.iter().enumerate() {
                if b.price_minor < 0 {
                    errors.push((
                        format!("brackets[{i}].price_minor"),
                        "must not be negative".to_owned(),
                    ));
                }
                if b.up_to_grams.is_some_and(|g| g < 0) {
                    errors.push((
                        format!("brackets[{i}].up_to_grams"),
                        "must not be negative".to_owned(),
                    ));
                }
            }
            let mut seen: Vec<Option<i64>> = brackets.iter().map(|b| b.up_to_grams).collect();
            seen.sort();
            if seen.windows(2).any(|w| w[0] == w[1]) {
                errors.push((
                    "brackets".to_owned(),
                    "two brackets have the same upper weight".to_owned(),
                ));
            }
            ("by_weight", 0, None, brackets.clone())
        }
    };
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    Ok(Columns {
        name,
        countries,
        kind,
        price_minor,
        threshold_minor,
        brackets,
    })
}

/// Creates a rate (validated; each problem names its field).
pub async fn create_rate(
    conn: &mut PgConnection,
    input: &ShippingRateInput,
) -> Result<ShippingRate, StoreError> {
    let c = validate(input)?;
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO shipping_rates (id, name, countries, kind, price_minor, threshold_minor, \
             weight_brackets, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(&c.name)
    .bind(&c.countries)
    .bind(c.kind)
    .bind(c.price_minor)
    .bind(c.threshold_minor)
    .bind(Json(&c.brackets))
    .bind(input.position)
    .fetch_one(conn)
    .await?;
    Ok(row.into())
}

/// Replaces a rate.
pub async fn update_rate(
    conn: &mut PgConnection,
    id: Uuid,
    input: &ShippingRateInput,
) -> Result<ShippingRate, StoreError> {
    let c = validate(input)?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "UPDATE shipping_rates SET name = $2, countries = $3, kind = $4, price_minor = $5, \
             threshold_minor = $6, weight_brackets = $7, position = $8, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&c.name)
    .bind(&c.countries)
    .bind(c.kind)
    .bind(c.price_minor)
    .bind(c.threshold_minor)
    .bind(Json(&c.brackets))
    .bind(input.position)
    .fetch_optional(conn)
    .await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// Deletes a rate (orders keep its name and price).
pub async fn delete_rate(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM shipping_rates WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// One rate.
pub async fn get_rate(conn: &mut PgConnection, id: Uuid) -> Result<ShippingRate, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM shipping_rates WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// Every rate, by position then name.
pub async fn list_rates(conn: &mut PgConnection) -> Result<Vec<ShippingRate>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM shipping_rates ORDER BY position, name, id"
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The rates that ship to `country` (rates naming it, and rates for everywhere).
pub async fn rates_for(
    conn: &mut PgConnection,
    country: &str,
) -> Result<Vec<ShippingRate>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM shipping_rates \
         WHERE countries = '{{}}' OR countries @> ARRAY[$1::text] ORDER BY position, name, id"
    ))
    .bind(country.trim().to_ascii_uppercase())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}
