//! Shoppers' accounts in one store: profile, password hash, addresses. Hashing and the
//! rules for passwords live with the caller; this module stores what it is given.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{StoreError, outbox};

/// A customer as the account pages show them.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Customer {
    /// Identifier.
    pub id: Uuid,
    /// Sign-in address (lowercase).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Phone.
    pub phone: String,
}

const COLUMNS: &str = "id, email, first_name, last_name, phone";

fn check_name(field: &str, value: &str, errors: &mut Vec<(String, String)>) -> String {
    let v = value.trim().to_owned();
    if v.chars().count() > 100 {
        errors.push((
            field.to_owned(),
            "must be at most 100 characters".to_owned(),
        ));
    }
    v
}

/// Creates an account. `email` is already normalised (lowercase) by the caller; an address
/// that already has an account is an `email` error.
pub async fn register(
    conn: &mut PgConnection,
    email: &str,
    password_hash: &str,
    first_name: &str,
    last_name: &str,
) -> Result<Customer, StoreError> {
    let mut errors = Vec::new();
    let first = check_name("first_name", first_name, &mut errors);
    let last = check_name("last_name", last_name, &mut errors);
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    let id = Uuid::now_v7();
    // An address a guest used at checkout may exist without a password: it is claimed.
    let row: Option<Customer> = sqlx::query_as(&format!(
        "INSERT INTO customers (id, email, password_hash, first_name, last_name) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, \
             first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, updated_at = now() \
         WHERE customers.password_hash IS NULL \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(email)
    .bind(password_hash)
    .bind(&first)
    .bind(&last)
    .fetch_optional(&mut *conn)
    .await?;
    let customer = row.ok_or_else(|| {
        StoreError::invalid("email", "already has an account here; sign in instead")
    })?;
    outbox::emit(
        conn,
        "customer.created",
        serde_json::json!({ "id": customer.id, "email": customer.email }),
    )
    .await?;
    Ok(customer)
}

/// The customer record for a checkout email: the existing one, or a new one without a
/// password (a guest; registering later with the address claims it). Returns its id.
pub async fn ensure_for_checkout(
    conn: &mut PgConnection,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> Result<Uuid, StoreError> {
    let email = email.trim().to_lowercase();
    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM customers WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let first: String = first_name.trim().chars().take(100).collect();
    let last: String = last_name.trim().chars().take(100).collect();
    // A concurrent checkout with the same address may insert first: take its row.
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO customers (id, email, first_name, last_name) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO UPDATE SET updated_at = customers.updated_at RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&email)
    .bind(&first)
    .bind(&last)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// The id and password hash of the account with this (lowercase) address, if it has one.
pub async fn credentials(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<(Uuid, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, password_hash FROM customers WHERE email = $1 AND password_hash IS NOT NULL",
    )
    .bind(email)
    .fetch_optional(conn)
    .await?)
}

/// The password hash of a customer.
pub async fn password_hash(conn: &mut PgConnection, id: Uuid) -> Result<String, StoreError> {
    sqlx::query_scalar::<_, Option<String>>("SELECT password_hash FROM customers WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .flatten()
        .ok_or(StoreError::NotFound)
}

/// A customer by id.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Customer, StoreError> {
    sqlx::query_as::<_, Customer>(&format!("SELECT {COLUMNS} FROM customers WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Changes name and phone.
pub async fn update_profile(
    conn: &mut PgConnection,
    id: Uuid,
    first_name: &str,
    last_name: &str,
    phone: &str,
) -> Result<Customer, StoreError> {
    let mut errors = Vec::new();
    let first = check_name("first_name", first_name, &mut errors);
    let last = check_name("last_name", last_name, &mut errors);
    let phone = phone.trim();
    if phone.chars().count() > 40 {
        errors.push((
            "phone".to_owned(),
            "must be at most 40 characters".to_owned(),
        ));
    }
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    sqlx::query_as::<_, Customer>(&format!(
        "UPDATE customers SET first_name = $2, last_name = $3, phone = $4, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&first)
    .bind(&last)
    .bind(phone)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Replaces the password hash.
pub async fn set_password_hash(
    conn: &mut PgConnection,
    id: Uuid,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE customers SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// A postal address.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(default)]
pub struct Address {
    /// Identifier (ignored on input).
    pub id: Option<Uuid>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Street and number.
    pub address1: String,
    /// Apartment, suite, etc.
    pub address2: String,
    /// City.
    pub city: String,
    /// State or province.
    pub province: String,
    /// Postal code.
    pub zip: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Phone.
    pub phone: String,
    /// The address used first at checkout.
    pub is_default: bool,
}

/// Checks an address; every problem names its field.
pub fn validate_address(a: &Address) -> Result<Address, StoreError> {
    let mut errors = Vec::new();
    let mut field = |name: &str, value: &str, max: usize, required: bool| {
        let v = value.trim().to_owned();
        if required && v.is_empty() {
            errors.push((name.to_owned(), "can't be blank".to_owned()));
        } else if v.chars().count() > max {
            errors.push((name.to_owned(), format!("must be at most {max} characters")));
        }
        v
    };
    let mut out = Address {
        id: a.id,
        first_name: field("first_name", &a.first_name, 100, false),
        last_name: field("last_name", &a.last_name, 100, true),
        company: field("company", &a.company, 100, false),
        address1: field("address1", &a.address1, 200, true),
        address2: field("address2", &a.address2, 200, false),
        city: field("city", &a.city, 100, true),
        province: field("province", &a.province, 100, false),
        zip: field("zip", &a.zip, 20, false),
        country: String::new(),
        phone: field("phone", &a.phone, 40, false),
        is_default: a.is_default,
    };
    let country = a.country.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        errors.push((
            "country".to_owned(),
            "must be a two-letter country code like US or DE".to_owned(),
        ));
    }
    out.country = country;
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(StoreError::Fields(errors))
    }
}

const ADDRESS_COLUMNS: &str = "id, first_name, last_name, company, address1, address2, city, \
     province, zip, country, phone, is_default";

/// A customer's addresses, the default first.
pub async fn addresses(
    conn: &mut PgConnection,
    customer: Uuid,
) -> Result<Vec<Address>, StoreError> {
    Ok(sqlx::query_as::<_, Address>(&format!(
        "SELECT {ADDRESS_COLUMNS} FROM customer_addresses WHERE customer_id = $1 \
         ORDER BY is_default DESC, created_at, id"
    ))
    .bind(customer)
    .fetch_all(conn)
    .await?)
}

/// Adds an address (the first one becomes the default), or with `id` replaces one of this
/// customer's addresses; another customer's id is [`StoreError::NotFound`].
pub async fn save_address(
    conn: &mut PgConnection,
    customer: Uuid,
    id: Option<Uuid>,
    input: &Address,
) -> Result<Address, StoreError> {
    let a = validate_address(input)?;
    let has_any: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM customer_addresses WHERE customer_id = $1)",
    )
    .bind(customer)
    .fetch_one(&mut *conn)
    .await?;
    let make_default = a.is_default || !has_any;
    if make_default {
        sqlx::query("UPDATE customer_addresses SET is_default = false WHERE customer_id = $1 AND is_default")
            .bind(customer)
            .execute(&mut *conn)
            .await?;
    }
    let sql = match id {
        Some(_) => format!(
            "UPDATE customer_addresses SET first_name = $3, last_name = $4, company = $5, \
             address1 = $6, address2 = $7, city = $8, province = $9, zip = $10, country = $11, \
             phone = $12, is_default = (is_default OR $13) \
             WHERE id = $1 AND customer_id = $2 RETURNING {ADDRESS_COLUMNS}"
        ),
        None => format!(
            "INSERT INTO customer_addresses (id, customer_id, first_name, last_name, company, \
             address1, address2, city, province, zip, country, phone, is_default) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             RETURNING {ADDRESS_COLUMNS}"
        ),
    };
    sqlx::query_as::<_, Address>(&sql)
        .bind(id.unwrap_or_else(Uuid::now_v7))
        .bind(customer)
        .bind(&a.first_name)
        .bind(&a.last_name)
        .bind(&a.company)
        .bind(&a.address1)
        .bind(&a.address2)
        .bind(&a.city)
        .bind(&a.province)
        .bind(&a.zip)
        .bind(&a.country)
        .bind(&a.phone)
        .bind(make_default)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Deletes one of this customer's addresses.
pub async fn delete_address(
    conn: &mut PgConnection,
    customer: Uuid,
    id: Uuid,
) -> Result<(), StoreError> {
    let gone = sqlx::query("DELETE FROM customer_addresses WHERE id = $1 AND customer_id = $2")
        .bind(id)
        .bind(customer)
        .execute(conn)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A customer as the admin and the Admin API list them: profile, whether they have an
/// account, what they ordered and their store credit.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct CustomerSummary {
    /// Identifier.
    pub id: Uuid,
    /// Email (lowercase).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Phone.
    pub phone: String,
    /// Whether they have an account (a password); otherwise a guest from checkout.
    pub has_account: bool,
    /// Orders placed as this customer (every status).
    pub orders_count: i64,
    /// Σ totals of their paid, partially refunded and refunded orders, minor units.
    pub total_spent_minor: i64,
    /// Store credit balance, minor units.
    pub credit_minor: i64,
    /// When the record was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The summary's columns over `customers c`, with the order figures from one lateral
/// aggregate per row (inside the same query: no query per customer).
const SUMMARY_SELECT: &str = "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, \
       c.password_hash IS NOT NULL AS has_account, \
       COALESCE(o.orders_count, 0)::bigint AS orders_count, \
       COALESCE(o.spent, 0)::bigint AS total_spent_minor, \
       c.credit_minor, c.created_at \
     FROM customers c \
     LEFT JOIN LATERAL ( \
       SELECT count(*) AS orders_count, \
              sum(total_minor) FILTER (WHERE financial_status IN \
                  ('paid', 'partially_refunded', 'refunded')) AS spent \
       FROM orders WHERE orders.customer_id = c.id) o ON true";

/// `%q%` for ILIKE, with the pattern characters of `q` escaped; `None` for a blank query.
fn search_pattern(query: Option<&str>) -> Option<String> {
    let q = query.map(str::trim).filter(|q| !q.is_empty())?;
    Some(format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    ))
}

/// Matches `$1` (a pattern or null) against the email and "first last".
const SEARCH_CONDITION: &str = "($1::text IS NULL OR c.email ILIKE $1 \
     OR concat_ws(' ', c.first_name, c.last_name) ILIKE $1)";

/// A page of customers and where the next starts.
#[derive(Clone, Debug)]
pub struct CustomerPage {
    /// Newest first.
    pub customers: Vec<CustomerSummary>,
    /// The last customer's id: pass as `after` for the next page; `None` on the last page.
    pub next: Option<Uuid>,
}

/// The admin's customer list: newest first, optionally searched by email or name
/// (`query`), keyset-paginated by (created_at, id) after the customer `after`, `limit`
/// (1 to 250) per page. One query.
pub async fn list_summaries(
    conn: &mut PgConnection,
    query: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<CustomerPage, StoreError> {
    let limit = limit.clamp(1, 250);
    let mut rows: Vec<CustomerSummary> = sqlx::query_as(&format!(
        "{SUMMARY_SELECT} WHERE {SEARCH_CONDITION} \
           AND ($2::uuid IS NULL OR (c.created_at, c.id) < \
                (SELECT a.created_at, a.id FROM customers a WHERE a.id = $2)) \
         ORDER BY c.created_at DESC, c.id DESC LIMIT $3"
    ))
    .bind(search_pattern(query))
    .bind(after)
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|c| c.id)
    } else {
        None
    };
    Ok(CustomerPage {
        customers: rows,
        next,
    })
}

/// How many customers match `query` (all of them without one).
pub async fn count_customers(
    conn: &mut PgConnection,
    query: Option<&str>,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT count(*) FROM customers c WHERE {SEARCH_CONDITION}"
    ))
    .bind(search_pattern(query))
    .fetch_one(conn)
    .await?)
}

/// One customer's summary.
pub async fn summary(conn: &mut PgConnection, id: Uuid) -> Result<CustomerSummary, StoreError> {
    sqlx::query_as(&format!("{SUMMARY_SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// A customer's orders, newest first (at most `limit`, 1 to 250).
pub async fn orders_of(
    conn: &mut PgConnection,
    customer_id: Uuid,
    limit: i64,
) -> Result<Vec<crate::orders::OrderSummary>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, number, email, \
           btrim(concat_ws(' ', shipping_address->>'first_name', shipping_address->>'last_name')) AS name, \
           total_minor, currency, status, financial_status, fulfillment_status, placed_at \
         FROM orders WHERE customer_id = $1 ORDER BY number DESC LIMIT $2",
    )
    .bind(customer_id)
    .bind(limit.clamp(1, 250))
    .fetch_all(conn)
    .await?)
}
