//! Messages shoppers send through the storefront's contact form.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{StoreError, outbox};

/// Longest message, in characters.
pub const MAX_BODY_CHARS: usize = 5_000;

/// What the shopper wrote (the caller has checked the email address's shape).
#[derive(Clone, Debug, Default)]
pub struct EnquiryInput {
    /// Their name.
    pub name: String,
    /// Where to answer.
    pub email: String,
    /// Optional phone number.
    pub phone: String,
    /// The message.
    pub body: String,
}

/// A stored enquiry.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Enquiry {
    /// Identifier.
    pub id: Uuid,
    /// Their name.
    pub name: String,
    /// Their address.
    pub email: String,
    /// Their phone number.
    pub phone: String,
    /// The message.
    pub body: String,
    /// When the merchant marked it handled.
    pub handled_at: Option<DateTime<Utc>>,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
}

/// Checks and stores an enquiry, with an `enquiry.created` event.
pub async fn create(conn: &mut PgConnection, input: &EnquiryInput) -> Result<Enquiry, StoreError> {
    let mut errors = Vec::new();
    let name = input.name.trim();
    if name.is_empty() {
        errors.push(("name".to_owned(), "can't be blank".to_owned()));
    } else if name.chars().count() > 200 {
        errors.push((
            "name".to_owned(),
            "must be at most 200 characters".to_owned(),
        ));
    }
    let body = input.body.trim();
    if body.is_empty() {
        errors.push(("body".to_owned(), "can't be blank".to_owned()));
    } else if body.chars().count() > MAX_BODY_CHARS {
        errors.push((
            "body".to_owned(),
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    if input.phone.trim().chars().count() > 40 {
        errors.push((
            "phone".to_owned(),
            "must be at most 40 characters".to_owned(),
        ));
    }
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    let enquiry = sqlx::query_as::<_, Enquiry>(
        "INSERT INTO enquiries (id, name, email, phone, body) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, email, phone, body, handled_at, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(input.email.trim())
    .bind(input.phone.trim())
    .bind(body)
    .fetch_one(&mut *conn)
    .await?;
    outbox::emit(
        conn,
        "enquiry.created",
        serde_json::json!({ "id": enquiry.id, "email": enquiry.email }),
    )
    .await?;
    Ok(enquiry)
}

/// Enquiries, newest first, `limit` a page, before the one with `before` (keyset).
pub async fn list(
    conn: &mut PgConnection,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Enquiry>, StoreError> {
    let (at, id) = before.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    Ok(sqlx::query_as::<_, Enquiry>(
        "SELECT id, name, email, phone, body, handled_at, created_at FROM enquiries \
         WHERE $1::timestamptz IS NULL OR (created_at, id) < ($1, $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Marks an enquiry handled (or not).
pub async fn set_handled(
    conn: &mut PgConnection,
    id: Uuid,
    handled: bool,
) -> Result<(), StoreError> {
    let changed = sqlx::query(
        "UPDATE enquiries SET handled_at = CASE WHEN $2 THEN COALESCE(handled_at, now()) END \
         WHERE id = $1",
    )
    .bind(id)
    .bind(handled)
    .execute(conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
