//! Admin: sales reports. `GET /admin/reports` shows sales per day, week or month over a
//! range of days in the store's time zone, with totals, best sellers, cart conversion and
//! a bar chart; `GET /admin/reports/sales.csv` downloads the per-bucket table. Needs the
//! `reports` permission.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use billing::{Currency, Money};
use serde::{Deserialize, Serialize};
use tenant_store::StoreError;
use tenant_store::reports::{self, Bucket, ReportRange, SalesReport};
use tenant_store::settings;

use super::chrome::Chrome;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};
use crate::routing::{Routes, get};
use crate::storefront::layout::display_money;

/// Routes of this part of the admin.
pub fn router() -> Routes {
    Routes::new()
        .route("/admin/reports", get(show_reports))
        .route("/admin/reports/sales.csv", get(sales_csv))
}

/// The report's parameters, as typed (validated by [`ReportRange::parse`]).
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The store's settings a report needs, and the parsed range (or what was wrong with it).
struct Context {
    timezone: String,
    currency: String,
    range: Result<ReportRange, Vec<(String, String)>>,
}

async fn context(conn: &mut sqlx::PgConnection, q: &ReportQuery) -> Result<Context, AppError> {
    let store = settings::load(conn).await?;
    let timezone = reports::effective_timezone(conn, &store.timezone).await?;
    let today = reports::today(conn, &timezone).await?;
    let range = match ReportRange::parse(
        q.period.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
        today,
    ) {
        Ok(r) => Ok(r),
        Err(StoreError::Fields(fields)) => Err(fields),
        Err(StoreError::Invalid { field, message }) => Err(vec![(field.to_owned(), message)]),
        Err(e) => return Err(e.into()),
    };
    Ok(Context {
        timezone,
        currency: store.currency,
        range,
    })
}

fn currency_of(code: &str) -> Result<Currency, AppError> {
    Currency::parse(code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("store currency {code}: {e}")))
}

#[derive(Serialize)]
struct BucketRow {
    start: String,
    label: String,
    orders: i64,
    gross: String,
    refunds: String,
    net: String,
}

#[derive(Serialize)]
struct ProductRow {
    product_id: Option<String>,
    title: String,
    units: i64,
    revenue: String,
}

#[derive(Serialize)]
struct ReportView {
    orders: i64,
    gross: String,
    refunds: String,
    net: String,
    average_order: String,
    buckets: Vec<BucketRow>,
    top_products: Vec<ProductRow>,
    carts: i64,
    conversion: String,
    chart: String,
    csv_href: String,
    other_currency_orders: i64,
}

#[derive(Serialize)]
struct ReportsView {
    chrome: Chrome,
    period: String,
    from: String,
    to: String,
    timezone: String,
    currency: String,
    errors: BTreeMap<String, String>,
    report: Option<ReportView>,
}

/// How a bucket is named in the table and the chart.
fn bucket_label(b: &Bucket, period: reports::Period) -> String {
    match period {
        reports::Period::Day => b.start.format("%Y-%m-%d").to_string(),
        reports::Period::Week => format!("Week of {}", b.start.format("%Y-%m-%d")),
        reports::Period::Month => b.start.format("%B %Y").to_string(),
    }
}

fn report_view(report: &SalesReport, currency: Currency) -> ReportView {
    let money = |minor| display_money(minor, currency);
    let period = report.range.period;
    let buckets: Vec<BucketRow> = report
        .buckets
        .iter()
        .map(|b| BucketRow {
            start: b.start.format("%Y-%m-%d").to_string(),
            label: bucket_label(b, period),
            orders: b.orders,
            gross: money(b.gross_minor),
            refunds: money(b.refunds_minor),
            net: money(b.net_minor),
        })
        .collect();
    let bars: Vec<Bar> = report
        .buckets
        .iter()
        .map(|b| Bar {
            axis_label: match period {
                reports::Period::Month => b.start.format("%b %Y").to_string(),
                _ => b.start.format("%b %-d").to_string(),
            },
            value: b.net_minor,
            title: format!(
                "{}: {} net, {} order{}",
                bucket_label(b, period),
                money(b.net_minor),
                b.orders,
                if b.orders == 1 { "" } else { "s" }
            ),
        })
        .collect();
    let max_label = money(bars.iter().map(|b| b.value).max().unwrap_or(0).max(0));
    let chart = bar_chart(
        &format!(
            "Net sales per {} from {} to {}",
            period.as_str(),
            report.range.from,
            report.range.to
        ),
        &bars,
        &max_label,
        &money(0),
    );
    ReportView {
        orders: report.totals.orders,
        gross: money(report.totals.gross_minor),
        refunds: money(report.totals.refunds_minor),
        net: money(report.totals.net_minor),
        average_order: money(report.totals.average_order_minor),
        buckets,
        top_products: report
            .top_products
            .iter()
            .map(|p| ProductRow {
                product_id: p.product_id.map(|id| id.to_string()),
                title: p.title.clone(),
                units: p.units,
                revenue: money(p.revenue_minor),
            })
            .collect(),
        carts: report.conversion.carts,
        conversion: report.conversion.display(),
        chart,
        csv_href: format!(
            "/admin/reports/sales.csv?period={}&from={}&to={}",
            period.as_str(),
            report.range.from,
            report.range.to
        ),
        other_currency_orders: report.other_currency_orders,
    }
}

/// `GET /admin/reports?period=day|week|month&from=YYYY-MM-DD&to=YYYY-MM-DD`.
pub async fn show_reports(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    merchant.require("reports")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let ctx = context(&mut tx, &q).await?;
    let currency = currency_of(&ctx.currency)?;
    let (status, report, errors, period, from, to) = match &ctx.range {
        Ok(range) => {
            let report =
                reports::sales_report(&mut tx, range, &ctx.timezone, &ctx.currency).await?;
            (
                StatusCode::OK,
                Some(report_view(&report, currency)),
                BTreeMap::new(),
                range.period.as_str().to_owned(),
                range.from.to_string(),
                range.to.to_string(),
            )
        }
        Err(fields) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            fields.iter().cloned().collect(),
            q.period.clone().unwrap_or_default(),
            q.from.clone().unwrap_or_default(),
            q.to.clone().unwrap_or_default(),
        ),
    };
    tx.commit().await?;
    let view = ReportsView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        period,
        from,
        to,
        timezone: ctx.timezone,
        currency: ctx.currency,
        errors,
        report,
    };
    Ok((status, Html(app.views.render("admin/reports.html", &view)?)).into_response())
}

/// `GET /admin/reports/sales.csv?period=..&from=..&to=..`: the per-bucket table.
pub async fn sales_csv(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    merchant.require("reports")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let ctx = context(&mut tx, &q).await?;
    let currency = currency_of(&ctx.currency)?;
    let range = ctx.range.map_err(AppError::Invalid)?;
    let buckets = reports::sales_by_bucket(&mut tx, &range, &ctx.timezone, &ctx.currency).await?;
    tx.commit().await?;
    let body = sales_csv_text(&buckets, currency)?;
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"sales-{}-{}.csv\"",
        range.from, range.to
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| AppError::Internal(e.into()))?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The CSV: a header row, then one row per bucket with amounts as plain decimals.
fn sales_csv_text(buckets: &[Bucket], currency: Currency) -> Result<String, AppError> {
    let decimal = |minor| Money::new(minor, currency).to_decimal_string();
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| AppError::Internal(e.into());
    w.write_record([
        "period_start",
        "orders",
        "gross_sales",
        "refunds",
        "net_sales",
        "currency",
    ])
    .map_err(internal)?;
    for b in buckets {
        w.write_record([
            b.start.format("%Y-%m-%d").to_string(),
            b.orders.to_string(),
            decimal(b.gross_minor),
            decimal(b.refunds_minor),
            decimal(b.net_minor),
            currency.as_str().to_owned(),
        ])
        .map_err(internal)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}

/// One bar of [`bar_chart`].
struct Bar {
    /// Short label under the axis.
    axis_label: String,
    /// Height, in any integer unit (negative values draw no bar).
    value: i64,
    /// Tooltip and accessible name of the bar.
    title: String,
}

/// Escapes text for SVG/XML content and attribute values.
fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Hundredths of a unit as an SVG number: `1234` → `12.34`.
fn centi(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let v = v.unsigned_abs();
    format!("{sign}{}.{:02}", v / 100, v % 100)
}

/// Chart geometry, in SVG user units.
const CHART_WIDTH: i64 = 720;
const CHART_HEIGHT: i64 = 260;
const MARGIN_LEFT: i64 = 90;
const MARGIN_RIGHT: i64 = 10;
const MARGIN_TOP: i64 = 20;
const MARGIN_BOTTOM: i64 = 40;
/// Most x-axis labels drawn; the rest are left to each bar's title.
const MAX_AXIS_LABELS: usize = 8;

/// A bar chart as inline SVG: one `<rect>` per bar (with a `<title>`), the y axis marked
/// at zero and at the largest value, and up to eight x-axis labels. Integer arithmetic
/// only (positions in hundredths of a unit).
fn bar_chart(description: &str, bars: &[Bar], max_label: &str, zero_label: &str) -> String {
    let plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let baseline = MARGIN_TOP + plot_h;
    let n = i64::try_from(bars.len()).unwrap_or(i64::MAX).max(1);
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    // Slot and bar widths in hundredths; a fifth of each slot is the gap between bars.
    let slot = plot_w * 100 / n;
    let width = (slot - slot / 5).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" \
         aria-label=\"{}\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" width=\"100%\" \
         preserveAspectRatio=\"xMidYMid meet\">",
        escape_xml(description)
    );
    let _ = write!(svg, "<title>{}</title>", escape_xml(description));
    // The y axis: a line with the top and zero values.
    let _ = write!(
        svg,
        "<g class=\"axis\" font-size=\"11\" fill=\"#6e6e73\">\
         <line x1=\"{MARGIN_LEFT}\" y1=\"{MARGIN_TOP}\" x2=\"{MARGIN_LEFT}\" y2=\"{baseline}\" stroke=\"#c7c7cc\"/>\
         <line x1=\"{MARGIN_LEFT}\" y1=\"{baseline}\" x2=\"{}\" y2=\"{baseline}\" stroke=\"#c7c7cc\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        MARGIN_LEFT + plot_w,
        MARGIN_LEFT - 6,
        MARGIN_TOP + 4,
        escape_xml(max_label),
        MARGIN_LEFT - 6,
        baseline + 4,
        escape_xml(zero_label),
    );
    // x-axis labels: at most MAX_AXIS_LABELS, evenly spaced, always the first.
    let step = bars.len().div_ceil(MAX_AXIS_LABELS).max(1);
    for (i, bar) in bars.iter().enumerate().step_by(step) {
        let center = MARGIN_LEFT * 100 + i64::try_from(i).unwrap_or(0) * slot + slot / 2;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            centi(center),
            baseline + 16,
            escape_xml(&bar.axis_label)
        );
    }
    svg.push_str("</g><g class=\"bars\" fill=\"#2c6ecb\">");
    for (i, bar) in bars.iter().enumerate() {
        let height = i64::try_from(
            i128::from(bar.value.max(0)) * i128::from(plot_h) * 100 / i128::from(max),
        )
        .unwrap_or(plot_h * 100);
        let x = MARGIN_LEFT * 100 + i64::try_from(i).unwrap_or(0) * slot + (slot - width) / 2;
        let y = baseline * 100 - height;
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>",
            centi(x),
            centi(y),
            centi(width),
            centi(height),
            escape_xml(&bar.title)
        );
    }
    svg.push_str("</g></svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(value: i64, title: &str) -> Bar {
        Bar {
            axis_label: title.to_owned(),
            value,
            title: title.to_owned(),
        }
    }

    #[test]
    fn chart_has_one_bar_per_bucket_and_escapes_text() {
        let svg = bar_chart(
            "Net <sales> & \"more\"",
            &[bar(100, "a<b"), bar(0, "c"), bar(50, "d")],
            "$1.00",
            "$0.00",
        );
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-label=\"Net &lt;sales&gt; &amp; &quot;more&quot;\""));
        assert!(svg.contains("<title>a&lt;b</title>"));
        assert!(!svg.contains("a<b"));
        // The tallest bar fills the plot; an empty one has no height.
        assert!(svg.contains("height=\"200.00\""));
        assert!(svg.contains("height=\"0.00\""));
        assert!(svg.contains("height=\"100.00\""));
    }

    #[test]
    fn chart_without_bars_is_still_an_image() {
        let svg = bar_chart("Nothing", &[], "$0.00", "$0.00");
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<rect").count(), 0);
    }

    #[test]
    fn centi_formats_hundredths() {
        assert_eq!(centi(1234), "12.34");
        assert_eq!(centi(5), "0.05");
        assert_eq!(centi(-150), "-1.50");
    }
}
