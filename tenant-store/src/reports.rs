//! Sales reports over a store's orders.
//!
//! Every figure is in integer minor units of the store's currency; dates are calendar days
//! in the store's time zone. An order counts as a sale once money was taken: its financial
//! status is `paid`, `partially_refunded` or `refunded` (pending, failed and voided orders
//! never count). Refunds are attributed to the bucket the order was placed in.

use chrono::{Months, NaiveDate};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// The financial statuses that count as sales, as an SQL list.
const SOLD: &str = "('paid', 'partially_refunded', 'refunded')";

/// Longest range a report covers, in months.
pub const MAX_RANGE_MONTHS: u32 = 24;

/// Days in the default range (ending today).
pub const DEFAULT_RANGE_DAYS: u64 = 30;

/// How many products the top list shows.
pub const TOP_PRODUCTS: i64 = 10;

/// The width of a report's buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// One bucket per calendar day.
    Day,
    /// One bucket per ISO week (starting Monday).
    Week,
    /// One bucket per calendar month.
    Month,
}

impl Period {
    /// `day`, `week` or `month`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// The name PostgreSQL's `date_trunc` and intervals use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// What a report covers: buckets of `period` over the days `from..=to` (store time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReportRange {
    /// Bucket width.
    pub period: Period,
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
}

impl ReportRange {
    /// Reads the query parameters as the merchant typed them; blank or missing ones take
    /// defaults (by day, the 30 days ending `today`). Each bad parameter is named in a
    /// [`StoreError::Fields`]: an unknown period, a date that is not `YYYY-MM-DD`, `from`
    /// after `to`, or a range longer than two years.
    pub fn parse(
        period: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, StoreError> {
        let mut errors = Vec::new();
        let period = match blank(period) {
            None => Some(Period::Day),
            Some(p) => {
                let parsed = Period::parse(p);
                if parsed.is_none() {
                    errors.push(("period".to_owned(), "must be day, week or month".to_owned()));
                }
                parsed
            }
        };
        let date = |name: &str, value: Option<&str>, errors: &mut Vec<(String, String)>| {
            let value = blank(value)?;
            let parsed = parse_date(value);
            if parsed.is_none() {
                errors.push((
                    name.to_owned(),
                    "must be a date written YYYY-MM-DD".to_owned(),
                ));
            }
            parsed
        };
        let from_given = date("from", from, &mut errors);
        let to_given = date("to", to, &mut errors);
        let from_bad = blank(from).is_some() && from_given.is_none();
        let to_bad = blank(to).is_some() && to_given.is_none();
        if let (Some(period), false, false) = (period, from_bad, to_bad) {
            let back = |d: NaiveDate| {
                d.checked_sub_days(chrono::Days::new(DEFAULT_RANGE_DAYS - 1))
                    .unwrap_or(NaiveDate::MIN)
            };
            let (from, to) = match (from_given, to_given) {
                (Some(f), Some(t)) => (f, t),
                (Some(f), None) => (f, today.max(f)),
                (None, Some(t)) => (back(t), t),
                (None, None) => (back(today), today),
            };
            if from > to {
                errors.push((
                    "from".to_owned(),
                    "must not be after the end date".to_owned(),
                ));
            } else if from
                .checked_add_months(Months::new(MAX_RANGE_MONTHS))
                .is_none_or(|limit| to >= limit)
            {
                errors.push((
                    "to".to_owned(),
                    "the range can be at most two years long".to_owned(),
                ));
            } else if errors.is_empty() {
                return Ok(Self { period, from, to });
            }
        }
        Err(StoreError::Fields(errors))
    }
}

/// The trimmed value, unless missing or blank.
fn blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A strict `YYYY-MM-DD` (four-digit year, two-digit month and day).
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Sales in one bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Bucket {
    /// The bucket's first day (a Monday for weeks, the 1st for months); for the first
    /// bucket it may lie before the range's start, whose earlier days are not counted.
    pub start: NaiveDate,
    /// Orders that count as sales.
    pub orders: i64,
    /// Σ order totals.
    pub gross_minor: i64,
    /// Σ refunded amounts of those orders.
    pub refunds_minor: i64,
    /// Gross less refunds.
    pub net_minor: i64,
}

/// The sums over a whole range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Orders that count as sales.
    pub orders: i64,
    /// Σ order totals.
    pub gross_minor: i64,
    /// Σ refunds.
    pub refunds_minor: i64,
    /// Gross less refunds.
    pub net_minor: i64,
    /// Average order value: gross ÷ orders, rounded down (0 without orders).
    pub average_order_minor: i64,
}

impl Totals {
    /// The sums of `buckets`.
    pub fn of(buckets: &[Bucket]) -> Self {
        let mut t = Self::default();
        for b in buckets {
            t.orders += b.orders;
            t.gross_minor += b.gross_minor;
            t.refunds_minor += b.refunds_minor;
            t.net_minor += b.net_minor;
        }
        t.average_order_minor = t.gross_minor.checked_div(t.orders).unwrap_or(0);
        t
    }
}

/// One line of the best-sellers list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TopProduct {
    /// The product (none when it was deleted before the lines were recorded).
    pub product_id: Option<Uuid>,
    /// Its title on the most recent order.
    pub title: String,
    /// Units sold.
    pub units: i64,
    /// Σ line totals (after line discounts).
    pub revenue_minor: i64,
}

/// Carts started against orders placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conversion {
    /// Carts created in the range.
    pub carts: i64,
    /// Orders in the range that count as sales.
    pub orders: i64,
    /// orders ÷ carts in basis points (10000 = 100 %), rounded down; none without carts.
    pub rate_bp: Option<i64>,
}

impl Conversion {
    /// The rate of `orders` to `carts`.
    pub fn new(carts: i64, orders: i64) -> Self {
        let rate_bp = (carts > 0).then(|| {
            i64::try_from(i128::from(orders) * 10_000 / i128::from(carts)).unwrap_or(i64::MAX)
        });
        Self {
            carts,
            orders,
            rate_bp,
        }
    }

    /// The rate as `12.34 %`, or `—` without carts.
    pub fn display(&self) -> String {
        match self.rate_bp {
            Some(bp) => format!("{}.{:02} %", bp / 100, bp % 100),
            None => "—".to_owned(),
        }
    }
}

/// A whole report.
#[derive(Clone, Debug, Serialize)]
pub struct SalesReport {
    /// What it covers.
    pub range: ReportRange,
    /// The time zone the days are counted in.
    pub timezone: String,
    /// The currency the amounts are in.
    pub currency: String,
    /// Every bucket of the range, oldest first; empty ones are zero.
    pub buckets: Vec<Bucket>,
    /// Sums over the range.
    pub totals: Totals,
    /// Up to ten products by revenue.
    pub top_products: Vec<TopProduct>,
    /// Carts to orders.
    pub conversion: Conversion,
    /// Orders in the range recorded in a currency other than the store's, not counted.
    pub other_currency_orders: i64,
}

/// `timezone` if PostgreSQL knows the name, else `UTC` (the setting is free text).
pub async fn effective_timezone(
    conn: &mut PgConnection,
    timezone: &str,
) -> Result<String, StoreError> {
    let known: Option<String> =
        sqlx::query_scalar("SELECT name FROM pg_timezone_names WHERE name = $1 LIMIT 1")
            .bind(timezone)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(known.unwrap_or_else(|| "UTC".to_owned()))
}

/// Today's date in `timezone` (a name [`effective_timezone`] returned).
pub async fn today(conn: &mut PgConnection, timezone: &str) -> Result<NaiveDate, StoreError> {
    Ok(sqlx::query_scalar("SELECT (now() AT TIME ZONE $1)::date")
        .bind(timezone)
        .fetch_one(&mut *conn)
        .await?)
}

/// The orders of the range that count as sales, as SQL conditions on `o`:
/// `$1` from, `$2` to (dates), `$3` time zone, `$4` currency.
fn sold_in_range() -> String {
    format!(
        "o.financial_status IN {SOLD} AND o.currency = $4 \
         AND o.placed_at >= ($1::date::timestamp AT TIME ZONE $3) \
         AND o.placed_at < (($2::date + 1)::timestamp AT TIME ZONE $3)"
    )
}

/// Sales per bucket over the range, every bucket present (empty ones as zero).
pub async fn sales_by_bucket(
    conn: &mut PgConnection,
    range: &ReportRange,
    timezone: &str,
    currency: &str,
) -> Result<Vec<Bucket>, StoreError> {
    let sql = format!(
        "WITH buckets AS ( \
           SELECT generate_series(date_trunc($5, $1::date::timestamp), \
                                  date_trunc($5, $2::date::timestamp), \
                                  ('1 ' || $5)::interval) AS bucket \
         ), sales AS ( \
           SELECT date_trunc($5, o.placed_at AT TIME ZONE $3) AS bucket, \
                  count(*) AS orders, sum(o.total_minor) AS gross, \
                  sum(o.refunded_minor) AS refunds \
           FROM orders o WHERE {} GROUP BY 1 \
         ) \
         SELECT b.bucket::date AS start, \
                COALESCE(s.orders, 0)::bigint AS orders, \
                COALESCE(s.gross, 0)::bigint AS gross_minor, \
                COALESCE(s.refunds, 0)::bigint AS refunds_minor, \
                (COALESCE(s.gross, 0) - COALESCE(s.refunds, 0))::bigint AS net_minor \
         FROM buckets b LEFT JOIN sales s ON s.bucket = b.bucket \
         ORDER BY b.bucket",
        sold_in_range()
    );
    Ok(sqlx::query_as(&sql)
        .bind(range.from)
        .bind(range.to)
        .bind(timezone)
        .bind(currency)
        .bind(range.period.as_str())
        .fetch_all(conn)
        .await?)
}

/// The best-selling products of the range by revenue (then units, then title).
pub async fn top_products(
    conn: &mut PgConnection,
    range: &ReportRange,
    timezone: &str,
    currency: &str,
    limit: i64,
) -> Result<Vec<TopProduct>, StoreError> {
    let sql = format!(
        "SELECT l.product_id, \
                (array_agg(l.product_title ORDER BY o.placed_at DESC, o.number DESC))[1] AS title, \
                sum(l.quantity)::bigint AS units, \
                sum(l.total_minor)::bigint AS revenue_minor \
         FROM order_lines l JOIN orders o ON o.id = l.order_id \
         WHERE {} \
         GROUP BY l.product_id, CASE WHEN l.product_id IS NULL THEN l.product_title END \
         ORDER BY revenue_minor DESC, units DESC, title ASC \
         LIMIT $5",
        sold_in_range()
    );
    Ok(sqlx::query_as(&sql)
        .bind(range.from)
        .bind(range.to)
        .bind(timezone)
        .bind(currency)
        .bind(limit.clamp(1, 100))
        .fetch_all(conn)
        .await?)
}

/// Carts created in the range.
pub async fn carts_created(
    conn: &mut PgConnection,
    range: &ReportRange,
    timezone: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM carts \
         WHERE created_at >= ($1::date::timestamp AT TIME ZONE $3) \
           AND created_at < (($2::date + 1)::timestamp AT TIME ZONE $3)",
    )
    .bind(range.from)
    .bind(range.to)
    .bind(timezone)
    .fetch_one(conn)
    .await?)
}

/// Orders of the range that would count as sales but are in another currency than `currency`.
async fn other_currency_orders(
    conn: &mut PgConnection,
    range: &ReportRange,
    timezone: &str,
    currency: &str,
) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT count(*) FROM orders o WHERE {}",
        sold_in_range().replace("o.currency = $4", "o.currency <> $4")
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(range.from)
        .bind(range.to)
        .bind(timezone)
        .bind(currency)
        .fetch_one(conn)
        .await?)
}

/// The whole report for `range`, in `timezone` (see [`effective_timezone`]) and `currency`.
pub async fn sales_report(
    conn: &mut PgConnection,
    range: &ReportRange,
    timezone: &str,
    currency: &str,
) -> Result<SalesReport, StoreError> {
    let buckets = sales_by_bucket(conn, range, timezone, currency).await?;
    let totals = Totals::of(&buckets);
    let top = top_products(conn, range, timezone, currency, TOP_PRODUCTS).await?;
    let carts = carts_created(conn, range, timezone).await?;
    let other = other_currency_orders(conn, range, timezone, currency).await?;
    Ok(SalesReport {
        range: *range,
        timezone: timezone.to_owned(),
        currency: currency.to_owned(),
        conversion: Conversion::new(carts, totals.orders),
        buckets,
        totals,
        top_products: top,
        other_currency_orders: other,
    })
}

/// The dashboard's figures: today's orders and sales, and the open orders waiting on the
/// shopper (payment) or on the merchant (shipping).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TodayFigures {
    /// Orders placed today, whatever their status.
    pub orders: i64,
    /// Σ totals of today's orders that count as sales (in `currency`).
    pub sales_minor: i64,
    /// Open orders not paid yet.
    pub awaiting_payment: i64,
    /// Open, paid orders with units left to ship.
    pub awaiting_shipment: i64,
}

/// [`TodayFigures`] for today in `timezone` (a name [`effective_timezone`] returned), the
/// sales counted in `currency`; one query.
pub async fn today_figures(
    conn: &mut PgConnection,
    timezone: &str,
    currency: &str,
) -> Result<TodayFigures, StoreError> {
    let sql = format!(
        "WITH day AS (SELECT (now() AT TIME ZONE $1)::date AS d), \
         bounds AS ( \
           SELECT (d::timestamp AT TIME ZONE $1) AS start, \
                  ((d + 1)::timestamp AT TIME ZONE $1) AS stop FROM day \
         ) \
         SELECT count(*) FILTER (WHERE o.placed_at >= b.start AND o.placed_at < b.stop)::bigint \
                  AS orders, \
                COALESCE(sum(o.total_minor) FILTER ( \
                  WHERE o.placed_at >= b.start AND o.placed_at < b.stop \
                    AND o.financial_status IN {SOLD} AND o.currency = $2), 0)::bigint \
                  AS sales_minor, \
                count(*) FILTER ( \
                  WHERE o.status = 'open' AND o.financial_status = 'pending')::bigint \
                  AS awaiting_payment, \
                count(*) FILTER ( \
                  WHERE o.status = 'open' \
                    AND o.financial_status IN ('paid', 'partially_refunded') \
                    AND o.fulfillment_status IN ('unfulfilled', 'partially_fulfilled'))::bigint \
                  AS awaiting_shipment \
         FROM orders o CROSS JOIN bounds b"
    );
    Ok(sqlx::query_as(&sql)
        .bind(timezone)
        .bind(currency)
        .fetch_one(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn fields(e: StoreError) -> Vec<String> {
        match e {
            StoreError::Fields(f) => f.into_iter().map(|(f, _)| f).collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_last_thirty_days_by_day() {
        let r = ReportRange::parse(None, Some(""), None, d("2026-03-31")).unwrap();
        assert_eq!(r.period, Period::Day);
        assert_eq!((r.from, r.to), (d("2026-03-02"), d("2026-03-31")));
    }

    #[test]
    fn bad_parameters_are_named() {
        let today = d("2026-03-31");
        let e = ReportRange::parse(Some("year"), None, None, today).unwrap_err();
        assert_eq!(fields(e), ["period"]);
        let e = ReportRange::parse(None, Some("2026-3-1"), Some("x"), today).unwrap_err();
        assert_eq!(fields(e), ["from", "to"]);
        let e = ReportRange::parse(None, Some("2026-02-30"), None, today).unwrap_err();
        assert_eq!(fields(e), ["from"]);
        let e =
            ReportRange::parse(None, Some("2026-03-02"), Some("2026-03-01"), today).unwrap_err();
        assert_eq!(fields(e), ["from"]);
        let e =
            ReportRange::parse(None, Some("2024-01-01"), Some("2026-01-01"), today).unwrap_err();
        assert_eq!(fields(e), ["to"]);
        let ok = ReportRange::parse(Some("month"), Some("2024-01-02"), Some("2026-01-01"), today)
            .unwrap();
        assert_eq!(ok.period, Period::Month);
    }

    #[test]
    fn totals_and_rates_are_integer() {
        let b = |orders, gross, refunds| Bucket {
            start: d("2026-01-01"),
            orders,
            gross_minor: gross,
            refunds_minor: refunds,
            net_minor: gross - refunds,
        };
        let t = Totals::of(&[b(2, 1000, 100), b(0, 0, 0), b(1, 1001, 0)]);
        assert_eq!(t.orders, 3);
        assert_eq!(t.net_minor, 1901);
        assert_eq!(t.average_order_minor, 667);
        assert_eq!(Totals::of(&[]).average_order_minor, 0);
        assert_eq!(Conversion::new(3, 1).display(), "33.33 %");
        assert_eq!(Conversion::new(0, 0).display(), "—");
    }
}
