//! Discount codes: percentage, fixed amount or free shipping, with start and end dates, a
//! usage limit and a minimum subtotal. Codes match case-insensitively.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;
use crate::pricing::{Discount, DiscountValue, FULL_BP};

/// A discount code as stored.
#[derive(Clone, Debug, Serialize)]
pub struct DiscountCode {
    /// Identifier.
    pub id: Uuid,
    /// The code as the merchant wrote it.
    pub code: String,
    /// What it takes off.
    pub value: DiscountValue,
    /// The subtotal it needs, minor units.
    pub min_subtotal_minor: i64,
    /// From when it works.
    pub starts_at: DateTime<Utc>,
    /// Until when it works (exclusive); `None`: no end.
    pub ends_at: Option<DateTime<Utc>>,
    /// How many orders may use it; `None`: unlimited.
    pub usage_limit: Option<i32>,
    /// How many orders used it.
    pub times_used: i32,
}

impl DiscountCode {
    /// The pricing view of this code.
    pub fn discount(&self) -> Discount {
        Discount {
            value: self.value,
            min_subtotal_minor: self.min_subtotal_minor,
        }
    }
}

/// What the merchant sends.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct DiscountInput {
    /// Letters, digits, `-` and `_`, 1 to 50 characters.
    pub code: String,
    /// What it takes off.
    pub value: DiscountValue,
    /// Minimum subtotal, minor units.
    #[serde(default)]
    pub min_subtotal_minor: i64,
    /// Start (`None`: now).
    pub starts_at: Option<DateTime<Utc>>,
    /// End (exclusive).
    pub ends_at: Option<DateTime<Utc>>,
    /// Usage limit (≥ 1).
    pub usage_limit: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    code: String,
    kind: String,
    value: i64,
    min_subtotal_minor: i64,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    usage_limit: Option<i32>,
    times_used: i32,
}

const COLUMNS: &str =
    "id, code, kind, value, min_subtotal_minor, starts_at, ends_at, usage_limit, times_used";

impl From<Row> for DiscountCode {
    fn from(r: Row) -> Self {
        let value = match r.kind.as_str() {
            "percentage" => DiscountValue::Percentage {
                basis_points: u32::try_from(r.value).unwrap_or(0),
            },
            "fixed_amount" => DiscountValue::FixedAmount {
                amount_minor: r.value,
            },
            _ => DiscountValue::FreeShipping,
        };
        Self {
            id: r.id,
            code: r.code,
            value,
            min_subtotal_minor: r.min_subtotal_minor,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            usage_limit: r.usage_limit,
            times_used: r.times_used,
        }
    }
}

fn validate(input: &DiscountInput) -> Result<(String, &'static str, i64), StoreError> {
    let mut errors = Vec::new();
    let code = input.code.trim().to_owned();
    if code.is_empty()
        || code.len() > 50
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        errors.push((
            "code".to_owned(),
            "use 1 to 50 letters, digits, - or _".to_owned(),
        ));
    }
    let (kind, value) = match input.value {
        DiscountValue::Percentage { basis_points } => {
            if basis_points == 0 || basis_points > FULL_BP {
                errors.push((
                    "value".to_owned(),
                    "a percentage must be more than 0 % and at most 100 %".to_owned(),
                ));
            }
            ("percentage", i64::from(basis_points))
        }
        DiscountValue::FixedAmount { amount_minor } => {
            if amount_minor <= 0 {
                errors.push(("value".to_owned(), "must be more than 0".to_owned()));
            }
            ("fixed_amount", amount_minor)
        }
        DiscountValue::FreeShipping => ("free_shipping", 0),
    };
    if input.min_subtotal_minor < 0 {
        errors.push((
            "min_subtotal_minor".to_owned(),
            "must not be negative".to_owned(),
        ));
    }
    if let (Some(s), Some(e)) = (input.starts_at, input.ends_at)
        && e <= s
    {
        errors.push(("ends_at".to_owned(), "must be after the start".to_owned()));
    }
    if input.usage_limit.is_some_and(|l| l < 1) {
        errors.push(("usage_limit".to_owned(), "must be at least 1".to_owned()));
    }
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    Ok((code, kind, value))
}

fn constraint_error(e: sqlx::Error) -> StoreError {
    match e.as_database_error().and_then(|d| d.constraint()) {
        Some("discount_codes_code_key") => StoreError::invalid("code", "is already in use"),
        Some("discount_codes_within_limit") => {
            StoreError::invalid("usage_limit", "is below the times the code was used")
        }
        _ => StoreError::Database(e),
    }
}

/// Creates a code; a code that exists in any letter case is a `code` error.
pub async fn create_code(
    conn: &mut PgConnection,
    input: &DiscountInput,
) -> Result<DiscountCode, StoreError> {
    let (code, kind, value) = validate(input)?;
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO discount_codes (id, code, kind, value, min_subtotal_minor, starts_at, \
             ends_at, usage_limit) VALUES ($1, $2, $3, $4, $5, COALESCE($6, now()), $7, $8) \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(code)
    .bind(kind)
    .bind(value)
    .bind(input.min_subtotal_minor)
    .bind(input.starts_at)
    .bind(input.ends_at)
    .bind(input.usage_limit)
    .fetch_one(conn)
    .await
    .map_err(constraint_error)?;
    Ok(row.into())
}

/// Replaces a code's settings (its usage count stays).
pub async fn update_code(
    conn: &mut PgConnection,
    id: Uuid,
    input: &DiscountInput,
) -> Result<DiscountCode, StoreError> {
    let (code, kind, value) = validate(input)?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "UPDATE discount_codes SET code = $2, kind = $3, value = $4, min_subtotal_minor = $5, \
             starts_at = COALESCE($6, starts_at), ends_at = $7, usage_limit = $8, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(code)
    .bind(kind)
    .bind(value)
    .bind(input.min_subtotal_minor)
    .bind(input.starts_at)
    .bind(input.ends_at)
    .bind(input.usage_limit)
    .fetch_optional(conn)
    .await
    .map_err(constraint_error)?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// Deletes a code (orders keep the code's text).
pub async fn delete_code(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM discount_codes WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// One code by id.
pub async fn get_code(conn: &mut PgConnection, id: Uuid) -> Result<DiscountCode, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM discount_codes WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// Every code, newest first.
pub async fn list_codes(conn: &mut PgConnection) -> Result<Vec<DiscountCode>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM discount_codes ORDER BY created_at DESC, id DESC"
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The code a shopper typed, if it works at `now`; otherwise a `discount_code` error that
/// says why (unknown, not started, expired, used up). Usage is not counted here.
pub async fn find_applicable(
    conn: &mut PgConnection,
    code: &str,
    now: DateTime<Utc>,
) -> Result<DiscountCode, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM discount_codes WHERE lower(code) = lower($1)"
    ))
    .bind(code.trim())
    .fetch_optional(conn)
    .await?;
    let d: DiscountCode = row
        .map(Into::into)
        .ok_or_else(|| StoreError::invalid("discount_code", "is not a valid code"))?;
    if now < d.starts_at {
        return Err(StoreError::invalid("discount_code", "is not active yet"));
    }
    if d.ends_at.is_some_and(|e| now >= e) {
        return Err(StoreError::invalid("discount_code", "has expired"));
    }
    if d.usage_limit.is_some_and(|l| d.times_used >= l) {
        return Err(StoreError::invalid("discount_code", "has been used up"));
    }
    Ok(d)
}

/// Counts one use, atomically within the limit: of two orders racing for the last use,
/// one gets it and the other a `discount_code` error.
pub(crate) async fn redeem(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE discount_codes SET times_used = times_used + 1 \
         WHERE id = $1 AND (usage_limit IS NULL OR times_used < usage_limit)",
    )
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(StoreError::invalid("discount_code", "has been used up"));
    }
    Ok(())
}
