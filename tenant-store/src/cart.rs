//! Shoppers' carts, stored in the tenant's schema (so they survive restarts and work on any
//! app node). A cart's id lives in the shopper's session.
//!
//! Each line remembers the price the shopper saw; reading the cart re-checks every line
//! against the catalog and says what changed: a new price, less stock, a product gone.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// Most units of one variant in a cart.
pub const MAX_LINE_QUANTITY: i32 = 999;
/// Most lines in a cart.
pub const MAX_LINES: i64 = 100;

/// Creates an empty cart and returns its id.
pub async fn create(conn: &mut PgConnection) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO carts (id) VALUES ($1)")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(id)
}

/// Whether a cart exists (a session may name one that was cleaned up).
pub async fn exists(conn: &mut PgConnection, cart_id: Uuid) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM carts WHERE id = $1)")
            .bind(cart_id)
            .fetch_one(conn)
            .await?,
    )
}

/// A variant as the cart needs it.
#[derive(sqlx::FromRow)]
struct Buyable {
    price_minor: i64,
    track_inventory: bool,
    inventory_quantity: i32,
    status: String,
    title: String,
}

async fn buyable(conn: &mut PgConnection, variant_id: Uuid) -> Result<Option<Buyable>, StoreError> {
    Ok(sqlx::query_as::<_, Buyable>(
        "SELECT v.price_minor, v.track_inventory, v.inventory_quantity, p.status, p.title \
         FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = $1",
    )
    .bind(variant_id)
    .fetch_optional(conn)
    .await?)
}

fn check_quantity(quantity: i32) -> Result<(), StoreError> {
    if !(1..=MAX_LINE_QUANTITY).contains(&quantity) {
        return Err(StoreError::invalid(
            "quantity",
            format!("must be a whole number from 1 to {MAX_LINE_QUANTITY}"),
        ));
    }
    Ok(())
}

fn check_stock(b: &Buyable, wanted: i32) -> Result<(), StoreError> {
    if b.track_inventory && wanted > b.inventory_quantity {
        return Err(StoreError::invalid(
            "quantity",
            short_of_stock(&b.title, b.inventory_quantity, wanted),
        ));
    }
    Ok(())
}

/// What a shopper is told when `wanted` units of `title` are more than the `left` in stock.
pub(crate) fn short_of_stock(title: &str, left: i32, wanted: i32) -> String {
    if left <= 0 {
        format!("{title} is sold out")
    } else {
        format!("only {left} of {title} left in stock; you asked for {wanted}")
    }
}

/// Adds `quantity` of a variant (to what the cart already holds of it). Refused with a
/// `quantity` error beyond the stock; a variant of a product that is not on sale is
/// [`StoreError::NotFound`].
pub async fn add(
    conn: &mut PgConnection,
    cart_id: Uuid,
    variant_id: Uuid,
    quantity: i32,
) -> Result<(), StoreError> {
    check_quantity(quantity)?;
    let b = buyable(conn, variant_id)
        .await?
        .filter(|b| b.status == "active");
    let b = b.ok_or(StoreError::NotFound)?;
    // Lock the cart row (and mark it used): two quick adds from two tabs must not both read
    // "0 in the cart".
    sqlx::query_scalar::<_, Uuid>("UPDATE carts SET updated_at = now() WHERE id = $1 RETURNING id")
        .bind(cart_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let (held, lines): (Option<i32>, i64) = sqlx::query_as(
        "SELECT (SELECT quantity FROM cart_lines WHERE cart_id = $1 AND variant_id = $2), \
                (SELECT count(*) FROM cart_lines WHERE cart_id = $1)",
    )
    .bind(cart_id)
    .bind(variant_id)
    .fetch_one(&mut *conn)
    .await?;
    if held.is_none() && lines >= MAX_LINES {
        return Err(StoreError::invalid(
            "variant_id",
            format!("a cart holds at most {MAX_LINES} different items"),
        ));
    }
    let wanted = held.unwrap_or(0).saturating_add(quantity);
    check_quantity(wanted)?;
    check_stock(&b, wanted)?;
    sqlx::query(
        "INSERT INTO cart_lines (cart_id, variant_id, quantity, unit_price_minor) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = EXCLUDED.quantity, \
             unit_price_minor = EXCLUDED.unit_price_minor",
    )
    .bind(cart_id)
    .bind(variant_id)
    .bind(wanted)
    .bind(b.price_minor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets a line's quantity; 0 removes it. Refused beyond the stock.
pub async fn set_quantity(
    conn: &mut PgConnection,
    cart_id: Uuid,
    variant_id: Uuid,
    quantity: i32,
) -> Result<(), StoreError> {
    if quantity == 0 {
        return remove(conn, cart_id, variant_id).await;
    }
    check_quantity(quantity)?;
    if let Some(b) = buyable(conn, variant_id).await? {
        check_stock(&b, quantity)?;
    }
    let changed =
        sqlx::query("UPDATE cart_lines SET quantity = $3 WHERE cart_id = $1 AND variant_id = $2")
            .bind(cart_id)
            .bind(variant_id)
            .bind(quantity)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    touch(conn, cart_id).await
}

/// Removes a line (nothing happens if it is not there).
pub async fn remove(
    conn: &mut PgConnection,
    cart_id: Uuid,
    variant_id: Uuid,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM cart_lines WHERE cart_id = $1 AND variant_id = $2")
        .bind(cart_id)
        .bind(variant_id)
        .execute(&mut *conn)
        .await?;
    touch(conn, cart_id).await
}

async fn touch(conn: &mut PgConnection, cart_id: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE carts SET updated_at = now() WHERE id = $1")
        .bind(cart_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Units in a cart (for the header's cart count).
pub async fn item_count(conn: &mut PgConnection, cart_id: Uuid) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(sum(quantity), 0)::bigint FROM cart_lines WHERE cart_id = $1",
    )
    .bind(cart_id)
    .fetch_one(conn)
    .await?)
}

/// A cart line as the shopper sees it, checked against the catalog.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    /// The variant.
    pub variant_id: Uuid,
    /// Product handle (for the link).
    pub handle: String,
    /// Product title.
    pub product_title: String,
    /// "S / Blue", or empty for a product without options.
    pub variant_title: String,
    /// SKU.
    pub sku: String,
    /// Image storage key.
    pub image_key: Option<String>,
    /// Image alt text.
    pub image_alt: String,
    /// Units.
    pub quantity: i32,
    /// Current unit price, minor units.
    pub unit_price_minor: i64,
    /// Compare-at unit price, minor units.
    pub compare_at_minor: Option<i64>,
    /// `quantity × unit_price_minor`.
    pub line_total_minor: i64,
    /// Most units the shopper may set (stock when tracked).
    pub max_quantity: i32,
}

/// The cart, checked: current lines, what changed since the shopper last looked, totals.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cart {
    /// Lines still on sale.
    pub lines: Vec<Line>,
    /// Sentences about what changed (prices, stock, products gone), shown once.
    pub notices: Vec<String>,
    /// Units in the cart.
    pub item_count: i64,
    /// Sum of the lines, minor units.
    pub subtotal_minor: i64,
    /// Whether loading fixed anything (a line removed or brought in line with price and
    /// stock): the transaction must then be committed.
    pub changed: bool,
}

/// A cart line with its variant and product, as [`check`] takes it.
#[derive(sqlx::FromRow)]
pub struct LineRow {
    variant_id: Uuid,
    quantity: i32,
    seen_price_minor: i64,
    handle: Option<String>,
    product_title: Option<String>,
    status: Option<String>,
    option1: Option<String>,
    option2: Option<String>,
    option3: Option<String>,
    sku: Option<String>,
    price_minor: Option<i64>,
    compare_at_minor: Option<i64>,
    track_inventory: Option<bool>,
    inventory_quantity: Option<i32>,
    image_key: Option<String>,
    image_alt: Option<String>,
}

/// The lines of every cart (`l`, with `l.cart_id` and `l.added_at`) as [`LineRow`]s, for a
/// caller that reads a cart together with something else in one statement (add a `WHERE`
/// on `l.cart_id`; order by `l.added_at, l.variant_id` as [`load`] does).
pub const LINE_SELECT: &str = "SELECT l.cart_id, l.added_at, l.variant_id, l.quantity, \
        l.unit_price_minor AS seen_price_minor, p.handle, p.title AS product_title, p.status, \
        v.option1, v.option2, v.option3, v.sku, v.price_minor, v.compare_at_minor, \
        v.track_inventory, v.inventory_quantity, p.image_key, p.image_alt \
    FROM cart_lines l \
    LEFT JOIN variants v ON v.id = l.variant_id \
    LEFT JOIN products p ON p.id = v.product_id";

static LOAD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("{LINE_SELECT} WHERE l.cart_id = $1 ORDER BY l.added_at, l.variant_id")
});

/// Reads the cart and re-checks each line against the catalog (see [`check`]).
pub async fn load(
    conn: &mut PgConnection,
    cart_id: Uuid,
    format_money: &(dyn Fn(i64) -> String + Sync),
) -> Result<Cart, StoreError> {
    let rows: Vec<LineRow> = sqlx::query_as(LOAD.as_str())
        .bind(cart_id)
        .fetch_all(&mut *conn)
        .await?;
    check(conn, cart_id, rows, format_money).await
}

/// Re-checks the lines of cart `cart_id`, read in [`load`]'s order, against the catalog: a
/// changed price is taken and pointed out, a quantity beyond the stock is lowered, a line
/// whose product is gone or off sale is removed, each with a notice. The fixes are saved,
/// so each notice shows once. `format_money` turns minor units into what the shopper reads.
pub async fn check(
    conn: &mut PgConnection,
    cart_id: Uuid,
    rows: Vec<LineRow>,
    format_money: &(dyn Fn(i64) -> String + Sync),
) -> Result<Cart, StoreError> {
    review(rows, format_money).save(conn, cart_id).await
}

/// A stored line to bring in line with the catalog.
enum Fix {
    /// The product is gone, off sale or sold out.
    Remove(Uuid),
    /// The quantity was lowered to the stock, or the price changed.
    Set {
        variant_id: Uuid,
        quantity: i32,
        unit_price_minor: i64,
    },
}

/// A cart checked against the catalog (see [`review`]), with the fixes its stored lines
/// still need.
pub struct Review {
    cart: Cart,
    fixes: Vec<Fix>,
}

impl Review {
    /// Whether the stored lines need a fix ([`Review::save`] in a transaction that writes).
    pub fn needs_saving(&self) -> bool {
        !self.fixes.is_empty()
    }

    /// The cart as checked, its fixes not saved (for a review that needs none).
    pub fn into_cart(self) -> Cart {
        self.cart
    }

    /// Saves the fixes to cart `cart_id`'s lines, so each notice shows once, and answers
    /// the cart.
    pub async fn save(self, conn: &mut PgConnection, cart_id: Uuid) -> Result<Cart, StoreError> {
        for fix in &self.fixes {
            match *fix {
                Fix::Remove(variant_id) => remove(conn, cart_id, variant_id).await?,
                Fix::Set {
                    variant_id,
                    quantity,
                    unit_price_minor,
                } => {
                    sqlx::query(
                        "UPDATE cart_lines SET quantity = $3, unit_price_minor = $4 \
                         WHERE cart_id = $1 AND variant_id = $2",
                    )
                    .bind(cart_id)
                    .bind(variant_id)
                    .bind(quantity)
                    .bind(unit_price_minor)
                    .execute(&mut *conn)
                    .await?;
                }
            }
        }
        Ok(self.cart)
    }
}

/// Checks a cart's lines, read in [`load`]'s order, against the catalog without writing:
/// what [`check`] does before it saves the fixes.
pub fn review(rows: Vec<LineRow>, format_money: &(dyn Fn(i64) -> String + Sync)) -> Review {
    let mut cart = Cart::default();
    let mut fixes = Vec::new();
    for r in rows {
        let title = r.product_title.clone().unwrap_or_default();
        let (Some(price), Some("active")) = (r.price_minor, r.status.as_deref()) else {
            fixes.push(Fix::Remove(r.variant_id));
            cart.notices.push(if title.is_empty() {
                "An item in your cart is no longer available and was removed.".to_owned()
            } else {
                format!("{title} is no longer available and was removed from your cart.")
            });
            continue;
        };
        let tracked = r.track_inventory.unwrap_or(false);
        let stock = r.inventory_quantity.unwrap_or(0);
        let mut quantity = r.quantity;
        if tracked && quantity > stock {
            if stock <= 0 {
                fixes.push(Fix::Remove(r.variant_id));
                cart.notices
                    .push(format!("{title} sold out and was removed from your cart."));
                continue;
            }
            cart.notices.push(format!(
                "Only {stock} of {title} left in stock: your cart now holds {stock} instead of {quantity}."
            ));
            quantity = stock;
        }
        if price != r.seen_price_minor {
            cart.notices.push(format!(
                "The price of {title} changed from {} to {}.",
                format_money(r.seen_price_minor),
                format_money(price)
            ));
        }
        if quantity != r.quantity || price != r.seen_price_minor {
            fixes.push(Fix::Set {
                variant_id: r.variant_id,
                quantity,
                unit_price_minor: price,
            });
        }
        let variant_title = [&r.option1, &r.option2, &r.option3]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" / ");
        // Prices are bounded (`catalog::MAX_PRICE_MINOR`) so that a full cart sums within
        // i64; one stored before the bound can't be sold, rather than shown wrong.
        let Some((line_total, subtotal)) = price
            .checked_mul(i64::from(quantity))
            .and_then(|line| Some((line, cart.subtotal_minor.checked_add(line)?)))
        else {
            fixes.push(Fix::Remove(r.variant_id));
            cart.notices.push(format!(
                "{title} can't be sold at its price and was removed from your cart."
            ));
            continue;
        };
        cart.item_count += i64::from(quantity);
        cart.subtotal_minor = subtotal;
        cart.lines.push(Line {
            variant_id: r.variant_id,
            handle: r.handle.unwrap_or_default(),
            product_title: title,
            variant_title,
            sku: r.sku.unwrap_or_default(),
            image_key: r.image_key,
            image_alt: r.image_alt.unwrap_or_default(),
            quantity,
            unit_price_minor: price,
            compare_at_minor: r.compare_at_minor.filter(|c| *c > price),
            line_total_minor: line_total,
            max_quantity: if tracked {
                stock.min(MAX_LINE_QUANTITY)
            } else {
                MAX_LINE_QUANTITY
            },
        });
    }
    cart.changed = !fixes.is_empty();
    Review { cart, fixes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(title: &str, price: i64, quantity: i32) -> LineRow {
        LineRow {
            variant_id: Uuid::now_v7(),
            quantity,
            seen_price_minor: price,
            handle: Some(title.to_lowercase()),
            product_title: Some(title.into()),
            status: Some("active".into()),
            option1: None,
            option2: None,
            option3: None,
            sku: None,
            price_minor: Some(price),
            compare_at_minor: None,
            track_inventory: Some(false),
            inventory_quantity: Some(0),
            image_key: None,
            image_alt: None,
        }
    }

    fn money(minor: i64) -> String {
        format!("{minor}")
    }

    #[test]
    fn a_full_cart_at_the_highest_price_sums_exactly() {
        let rows = (0..MAX_LINES)
            .map(|i| {
                line(
                    &format!("Item {i}"),
                    crate::catalog::MAX_PRICE_MINOR,
                    MAX_LINE_QUANTITY,
                )
            })
            .collect();
        let cart = review(rows, &money).into_cart();
        assert_eq!(
            cart.subtotal_minor,
            crate::catalog::MAX_PRICE_MINOR * i64::from(MAX_LINE_QUANTITY) * MAX_LINES
        );
        assert!(cart.notices.is_empty());
    }

    #[test]
    fn a_line_whose_total_overflows_is_taken_out_instead_of_summed_wrong() {
        // A price stored before prices were bounded: the cart must not show i64::MAX.
        let rows = vec![line("Scarf", 2_500, 2), line("Yacht", i64::MAX / 2, 3)];
        let review = review(rows, &money);
        assert!(review.needs_saving());
        let cart = review.into_cart();
        assert_eq!(cart.subtotal_minor, 5_000);
        assert_eq!(cart.lines.len(), 1);
        assert_eq!(
            cart.notices,
            ["Yacht can't be sold at its price and was removed from your cart."]
        );
    }
}
