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
