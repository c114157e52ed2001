//! Product images: the rows that point at stored renditions, their order and alt text.
//!
//! The files live in object storage under a content-addressed `storage_key`; several rows
//! (of one product or of different products) may share a key. Writers of a key's files take
//! [`lock_key`] in their transaction, so "is this key still referenced?" and "put the files
//! of this key" never interleave.

use sqlx::PgConnection;
use uuid::Uuid;

use super::Image;
use crate::{StoreError, outbox};

/// Longest alt text accepted, in characters.
pub const MAX_ALT_CHARS: usize = 512;

const IMAGE_COLUMNS: &str = "id, position, alt, storage_key, content_type, width, height";

/// Trims alt text and refuses overly long text.
fn clean_alt(alt: &str) -> Result<String, StoreError> {
    let alt = alt.trim();
    if alt.chars().count() > MAX_ALT_CHARS {
        return Err(StoreError::invalid(
            "alt",
            format!("must be at most {MAX_ALT_CHARS} characters"),
        ));
    }
    Ok(alt.to_owned())
}

/// Marks the product changed (locking its row, which serialises image edits of one product)
/// and emits `product.updated`. NotFound when the product is not this tenant's.
async fn touch_product(conn: &mut PgConnection, product_id: Uuid) -> Result<(), StoreError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "UPDATE products SET updated_at = now() WHERE id = $1 RETURNING handle, status",
    )
    .bind(product_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (handle, status) = row.ok_or(StoreError::NotFound)?;
    outbox::emit(
        conn,
        "product.updated",
        serde_json::json!({ "id": product_id, "handle": handle, "status": status }),
    )
    .await
}

/// Holds a transaction-scoped lock on `storage_key` until the transaction ends. Take it
/// before writing a key's files and before deciding whether they can be deleted.
pub async fn lock_key(conn: &mut PgConnection, storage_key: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('product_image:' || $1, 0))")
        .bind(storage_key)
        .execute(conn)
        .await?;
    Ok(())
}

/// How many image rows (and store logos) in this store use `storage_key`.
pub async fn count_references(
    conn: &mut PgConnection,
    storage_key: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM product_images WHERE storage_key = $1) \
                  + (SELECT count(*) FROM settings WHERE logo_key = $1)",
    )
    .bind(storage_key)
    .fetch_one(conn)
    .await?)
}

/// What an image row says about its stored renditions.
#[derive(Clone, Debug)]
pub struct NewImage<'a> {
    /// Where the renditions are stored.
    pub storage_key: &'a str,
    /// Their MIME type.
    pub content_type: &'a str,
    /// Width of the original in pixels.
    pub width: i32,
    /// Height of the original in pixels.
    pub height: i32,
    /// Alternative text (trimmed; at most [`MAX_ALT_CHARS`]).
    pub alt: &'a str,
}

/// Adds an image after the product's last one. Emits `product.updated`.
pub async fn add_image(
    conn: &mut PgConnection,
    product_id: Uuid,
    image: NewImage<'_>,
) -> Result<Image, StoreError> {
    let alt = clean_alt(image.alt)?;
    touch_product(conn, product_id).await?;
    let added: Image = sqlx::query_as(&format!(
        "INSERT INTO product_images (id, product_id, position, alt, storage_key, content_type, width, height) \
         VALUES ($1, $2, (SELECT coalesce(max(position), 0) + 1 FROM product_images WHERE product_id = $2), \
                 $3, $4, $5, $6, $7) \
         RETURNING {IMAGE_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(product_id)
    .bind(&alt)
    .bind(image.storage_key)
    .bind(image.content_type)
    .bind(image.width)
    .bind(image.height)
    .fetch_one(&mut *conn)
    .await?;
    Ok(added)
}

/// The product's images in order. NotFound when the product is not this tenant's.
pub async fn list_images(
    conn: &mut PgConnection,
    product_id: Uuid,
) -> Result<Vec<Image>, StoreError> {
    let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM products WHERE id = $1")
        .bind(product_id)
        .fetch_optional(&mut *conn)
        .await?;
    exists.ok_or(StoreError::NotFound)?;
    Ok(sqlx::query_as(&format!(
        "SELECT {IMAGE_COLUMNS} FROM product_images WHERE product_id = $1 ORDER BY position, id"
    ))
    .bind(product_id)
    .fetch_all(conn)
    .await?)
}

/// Changes an image's alt text. Emits `product.updated`.
pub async fn set_alt(
    conn: &mut PgConnection,
    product_id: Uuid,
    image_id: Uuid,
    alt: &str,
) -> Result<Image, StoreError> {
    let alt = clean_alt(alt)?;
    touch_product(conn, product_id).await?;
    let updated: Option<Image> = sqlx::query_as(&format!(
        "UPDATE product_images SET alt = $3 WHERE id = $1 AND product_id = $2 RETURNING {IMAGE_COLUMNS}"
    ))
    .bind(image_id)
    .bind(product_id)
    .bind(&alt)
    .fetch_optional(&mut *conn)
    .await?;
    updated.ok_or(StoreError::NotFound)
}

/// Removes an image and closes the gap in the order. Returns its storage key: once the
/// transaction has committed, the caller deletes the files if [`count_references`] (under
/// [`lock_key`]) finds no other row using them. Emits `product.updated`.
pub async fn delete_image(
    conn: &mut PgConnection,
    product_id: Uuid,
    image_id: Uuid,
) -> Result<String, StoreError> {
    touch_product(conn, product_id).await?;
    let key: Option<String> = sqlx::query_scalar(
        "DELETE FROM product_images WHERE id = $1 AND product_id = $2 RETURNING storage_key",
    )
    .bind(image_id)
    .bind(product_id)
    .fetch_optional(&mut *conn)
    .await?;
    let key = key.ok_or(StoreError::NotFound)?;
    renumber(conn, product_id).await?;
    Ok(key)
}

/// Puts the product's images in the order given; `image_ids` must name each of its images
/// exactly once. Emits `product.updated`.
pub async fn reorder(
    conn: &mut PgConnection,
    product_id: Uuid,
    image_ids: &[Uuid],
) -> Result<Vec<Image>, StoreError> {
    touch_product(conn, product_id).await?;
    let mut current: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM product_images WHERE product_id = $1")
            .bind(product_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut wanted = image_ids.to_vec();
    current.sort_unstable();
    wanted.sort_unstable();
    if current != wanted {
        return Err(StoreError::invalid(
            "images",
            "must list each of the product's images exactly once",
        ));
    }
    sqlx::query(
        "UPDATE product_images i SET position = o.position::integer \
         FROM unnest($2::uuid[]) WITH ORDINALITY AS o(id, position) \
         WHERE i.id = o.id AND i.product_id = $1",
    )
    .bind(product_id)
    .bind(image_ids)
    .execute(&mut *conn)
    .await?;
    list_images(conn, product_id).await
}

/// Positions 1..n in the current order.
async fn renumber(conn: &mut PgConnection, product_id: Uuid) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE product_images i SET position = o.position::integer \
         FROM (SELECT id, row_number() OVER (ORDER BY position, id) AS position \
               FROM product_images WHERE product_id = $1) o \
         WHERE i.id = o.id AND i.position <> o.position",
    )
    .bind(product_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_text_is_trimmed_and_bounded() {
        assert_eq!(clean_alt("  A red mug \n").unwrap(), "A red mug");
        assert!(clean_alt(&"x".repeat(MAX_ALT_CHARS)).is_ok());
        assert!(clean_alt(&"x".repeat(MAX_ALT_CHARS + 1)).is_err());
    }
}
