//! Sales reports as the merchant sees them: per-bucket figures in the store's time zone,
//! refunds, what does not count, average order value, best sellers, conversion, the chart,
//! the CSV download, bad parameters, permissions and tenant isolation.

use super::fixtures::{order, product};

use platform::tenancy::Tenant;
use storefront_tests::{Browser, TestApp};
use tenant_store::orders;
use uuid::Uuid;

/// What happens to an order after it is placed.
#[derive(Clone, Copy)]
enum Fate {
    Pending,
    Paid,
    /// Paid, then this much refunded.
    Refunded(i64),
    /// Cancelled before payment (voided).
    Cancelled,
}

/// Places an order, settles it as `fate` says and backdates it to `placed_at` (UTC).
async fn sale(
    app: &TestApp,
    t: &Tenant,
    lines: &[(Uuid, i32)],
    fate: Fate,
    placed_at: &str,
) -> orders::Order {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let key = Uuid::new_v4().to_string();
    let o = orders::place_order(&mut tx, &order(lines, &key))
        .await
        .unwrap();
    match fate {
        Fate::Pending => {}
        Fate::Paid => {
            orders::mark_paid(&mut tx, o.id, "ref", o.total_minor)
                .await
                .unwrap();
        }
        Fate::Refunded(amount) => {
            orders::mark_paid(&mut tx, o.id, "ref", o.total_minor)
                .await
                .unwrap();
            orders::record_refund(&mut tx, o.id, amount, false)
                .await
                .unwrap();
        }
        Fate::Cancelled => {
            orders::cancel(&mut tx, o.id, "changed mind").await.unwrap();
        }
    }
    sqlx::query("UPDATE orders SET placed_at = $2::timestamptz WHERE id = $1")
        .bind(o.id)
        .bind(placed_at)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    o
}

/// Carts created at `created_at` (UTC).
async fn carts(app: &TestApp, t: &Tenant, count: usize, created_at: &str) {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    for _ in 0..count {
        let id = tenant_store::cart::create(&mut tx).await.unwrap();
        sqlx::query("UPDATE carts SET created_at = $2::timestamptz WHERE id = $1")
            .bind(id)
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn set_timezone(app: &TestApp, t: &Tenant, tz: &str) {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query("UPDATE settings SET timezone = $1")
        .bind(tz)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// The table row of the bucket starting on `day`.
fn bucket_row<'a>(body: &'a str, day: &str) -> &'a str {
    let marker = format!("<tr data-bucket=\"{day}\">");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no row for {day} in {body}"));
    let end = body[start..].find("</tr>").expect("row ends") + start;
    &body[start..end]
}

/// The text of the element with `id`.
fn by_id<'a>(body: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\">");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {body}"))
        + marker.len();
    let end = body[start..].find('<').expect("element ends") + start;
    &body[start..end]
}

/// The inline chart.
fn chart(body: &str) -> &str {
    let start = body.find("<svg").expect("a chart");
    let end = body[start..].find("</svg>").expect("chart ends") + start;
    &body[start..end]
}

fn assert_bucket(body: &str, day: &str, orders: i64, gross: &str, refunds: &str, net: &str) {
    let row = bucket_row(body, day);
    assert!(
        row.contains(&format!("class=\"orders\">{orders}<")),
        "{day} orders: {row}"
    );
    assert!(
        row.contains(&format!("class=\"gross\">{gross}<")),
        "{day} gross: {row}"
    );
    assert!(
        row.contains(&format!("class=\"refunds\">{refunds}<")),
        "{day} refunds: {row}"
    );
    assert!(
        row.contains(&format!("class=\"net\">{net}<")),
        "{day} net: {row}"
    );
}

/// A fetch with the browser's session, returning the raw response (headers included).
async fn raw_get(app: &TestApp, browser: &Browser<'_>, path: &str) -> reqwest::Response {
    let cookie = format!(
        "{}={}",
        platform::sessions::COOKIE,
        browser.cookie.as_deref().expect("signed in")
    );
    app.get_with(&browser.host, path, &[("cookie", &cookie)])
        .await
}

/// A week of sales in New York: two orders on the 3rd (one of them late in the evening,
/// already the 4th in UTC), none on the 4th but a cancelled one, a refunded one and a
/// pending one on the 5th, and one just after midnight on the 6th (outside the range).
async fn seed_main_store(app: &TestApp, t: &Tenant) {
    set_timezone(app, t, "America/New_York").await;
    let mug = product(app, t, "Mug", 1000, 1000).await.variant;
    let tee = product(app, t, "Tee", 2500, 1000).await.variant;
    sale(app, t, &[(mug, 2)], Fate::Paid, "2025-03-03 15:00:00+00").await;
    sale(app, t, &[(tee, 1)], Fate::Paid, "2025-03-04 03:00:00+00").await;
    sale(
        app,
        t,
        &[(tee, 1)],
        Fate::Cancelled,
        "2025-03-04 12:00:00+00",
    )
    .await;
    sale(
        app,
        t,
        &[(tee, 1), (mug, 1)],
        Fate::Refunded(500),
        "2025-03-05 18:00:00+00",
    )
    .await;
    sale(app, t, &[(mug, 3)], Fate::Pending, "2025-03-05 12:00:00+00").await;
    sale(app, t, &[(mug, 7)], Fate::Paid, "2025-03-06 06:00:00+00").await;
    carts(app, t, 4, "2025-03-04 12:00:00+00").await;
    carts(app, t, 2, "2025-02-01 12:00:00+00").await;
}

#[tokio::test]
async fn daily_report_shows_what_was_sold_in_the_store_time_zone() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("rep-daily", "Daily").await;
    seed_main_store(&app, &t).await;

    let page = owner
        .get("/admin/reports?period=day&from=2025-03-03&to=2025-03-05")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert_bucket(body, "2025-03-03", 2, "$45.00", "$0.00", "$45.00");
    assert_bucket(body, "2025-03-04", 0, "$0.00", "$0.00", "$0.00");
    assert_bucket(body, "2025-03-05", 1, "$35.00", "$5.00", "$30.00");
    assert_eq!(body.matches("<tr data-bucket=").count(), 3);

    assert_eq!(by_id(body, "total-orders"), "3");
    assert_eq!(by_id(body, "total-gross"), "$80.00");
    assert_eq!(by_id(body, "total-refunds"), "$5.00");
    assert_eq!(by_id(body, "total-net"), "$75.00");
    // 8000 / 3 = 2666 cents, rounded down.
    assert_eq!(by_id(body, "average-order"), "$26.66");
    // 3 orders from 4 carts created in the range (the February ones are outside).
    assert_eq!(by_id(body, "carts"), "4");
    assert_eq!(by_id(body, "conversion"), "75.00 %");

    // Best sellers: Tee ($50.00, 2 units) before Mug ($30.00, 3 units).
    let top_start = body.find("id=\"top-products\"").expect("a top list");
    let top = &body[top_start..];
    let tee_at = top.find(">Tee<").expect("Tee listed");
    let mug_at = top.find(">Mug<").expect("Mug listed");
    assert!(tee_at < mug_at, "Tee first: {top}");
    assert!(top.contains("class=\"units\">2<") && top.contains("class=\"revenue\">$50.00<"));
    assert!(top.contains("class=\"units\">3<") && top.contains("class=\"revenue\">$30.00<"));

    // The chart: one bar per day, each titled, the image named.
    let svg = chart(body);
    assert_eq!(svg.matches("<rect").count(), 3);
    assert!(svg.contains("role=\"img\""));
    assert!(svg.contains("aria-label=\"Net sales per day from 2025-03-03 to 2025-03-05\""));
    assert!(svg.contains("<title>2025-03-05: $30.00 net, 1 order</title>"));
    assert!(svg.contains("<title>2025-03-04: $0.00 net, 0 orders</title>"));
}

#[tokio::test]
async fn weekly_and_monthly_buckets_include_empty_ones() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("rep-weeks", "Weeks").await;
    seed_main_store(&app, &t).await;

    let page = owner
        .get("/admin/reports?period=week&from=2025-03-03&to=2025-03-23")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    // The order of the 6th now counts: 4 orders, $150.00 gross in the week of the 3rd.
    assert_bucket(&page.body, "2025-03-03", 4, "$150.00", "$5.00", "$145.00");
    assert_bucket(&page.body, "2025-03-10", 0, "$0.00", "$0.00", "$0.00");
    assert_bucket(&page.body, "2025-03-17", 0, "$0.00", "$0.00", "$0.00");
    assert_eq!(chart(&page.body).matches("<rect").count(), 3);

    let page = owner
        .get("/admin/reports?period=month&from=2025-01-15&to=2025-03-31")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_bucket(&page.body, "2025-01-01", 0, "$0.00", "$0.00", "$0.00");
    assert_bucket(&page.body, "2025-02-01", 0, "$0.00", "$0.00", "$0.00");
    assert_bucket(&page.body, "2025-03-01", 4, "$150.00", "$5.00", "$145.00");
    assert_eq!(chart(&page.body).matches("<rect").count(), 3);
    // 6 carts over the range, 4 orders.
    assert_eq!(by_id(&page.body, "conversion"), "66.66 %");
}

#[tokio::test]
async fn sales_csv_has_one_row_per_bucket() {
    let app = TestApp::spawn().await;
    let (t, owner) = app.store_with_owner("rep-csv", "Csv").await;
    seed_main_store(&app, &t).await;

    let res = raw_get(
        &app,
        &owner,
        "/admin/reports/sales.csv?period=day&from=2025-03-03&to=2025-03-05",
    )
    .await;
    assert_eq!(res.status(), 200);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/csv"));
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"sales-2025-03-03-2025-03-05.csv\""
    );
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines,
        [
            "period_start,orders,gross_sales,refunds,net_sales,currency",
            "2025-03-03,2,45.00,0.00,45.00,USD",
            "2025-03-04,0,0.00,0.00,0.00,USD",
            "2025-03-05,1,35.00,5.00,30.00,USD",
        ]
    );

    let res = raw_get(&app, &owner, "/admin/reports/sales.csv?period=year").await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("period"));
}

#[tokio::test]
async fn bad_parameters_get_a_422_naming_them() {
    let app = TestApp::spawn().await;
    let (_t, mut owner) = app.store_with_owner("rep-bad", "Bad").await;
    for (query, field) in [
        ("period=year", "period"),
        ("period=%3Cscript%3E", "period"),
        ("from=2025-13-01&to=2025-12-31", "from"),
        ("from=03/01/2025", "from"),
        ("from=2025-01-01&to=tomorrow", "to"),
        ("from=2025-03-05&to=2025-03-01", "from"),
        ("from=2020-01-01&to=2025-01-01", "to"),
    ] {
        let page = owner.get(&format!("/admin/reports?{query}")).await;
        assert_eq!(page.status, 422, "{query}: {}", page.body);
        assert!(
            page.body
                .contains(&format!("<li><strong>{field}</strong>:")),
            "{query} names {field}: {}",
            page.body
        );
        assert!(!page.body.contains("<script>"), "escaped: {query}");
        assert!(!page.body.contains("<svg"), "no report for {query}");
    }
}

#[tokio::test]
async fn default_report_is_thirty_days_and_empty_ranges_show_no_rate() {
    let app = TestApp::spawn().await;
    let (_t, mut owner) = app.store_with_owner("rep-empty", "Empty").await;
    let page = owner.get("/admin/reports").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body.matches("<tr data-bucket=").count(), 30);
    assert_eq!(chart(&page.body).matches("<rect").count(), 30);
    assert_eq!(by_id(&page.body, "total-orders"), "0");
    assert_eq!(by_id(&page.body, "average-order"), "$0.00");
    assert_eq!(by_id(&page.body, "conversion"), "—");
    assert!(page.body.contains("No products sold in this range."));
}

#[tokio::test]
async fn staff_need_the_reports_permission() {
    let app = TestApp::spawn().await;
    let (_t, _owner) = app.store_with_owner("rep-perm", "Perm").await;
    let mut clerk = app
        .staff_member("rep-perm", "clerk@rep-perm.example.com", &["orders"])
        .await;
    assert_eq!(clerk.get("/admin/reports").await.status, 403);
    assert_eq!(clerk.get("/admin/reports/sales.csv").await.status, 403);
    let mut analyst = app
        .staff_member("rep-perm", "analyst@rep-perm.example.com", &["reports"])
        .await;
    assert_eq!(analyst.get("/admin/reports").await.status, 200);
    assert_eq!(analyst.get("/admin/reports/sales.csv").await.status, 200);
}

#[tokio::test]
async fn each_store_sees_only_its_own_sales() {
    let app = TestApp::spawn().await;
    let (a, mut owner_a) = app.store_with_owner("rep-iso-a", "Store A").await;
    let (b, mut owner_b) = app.store_with_owner("rep-iso-b", "Store B").await;
    let lamp = product(&app, &a, "Lamp", 1000, 1000).await.variant;
    let chair = product(&app, &b, "Chair", 2500, 1000).await.variant;
    sale(&app, &a, &[(lamp, 1)], Fate::Paid, "2025-05-10 12:00:00+00").await;
    sale(
        &app,
        &b,
        &[(chair, 1)],
        Fate::Paid,
        "2025-05-10 12:00:00+00",
    )
    .await;
    sale(
        &app,
        &b,
        &[(chair, 1)],
        Fate::Paid,
        "2025-05-10 13:00:00+00",
    )
    .await;

    let path = "/admin/reports?from=2025-05-10&to=2025-05-10";
    let page_a = owner_a.get(path).await;
    let page_b = owner_b.get(path).await;
    assert_eq!(page_a.status, 200);
    assert_eq!(page_b.status, 200);
    assert_bucket(&page_a.body, "2025-05-10", 1, "$10.00", "$0.00", "$10.00");
    assert_bucket(&page_b.body, "2025-05-10", 2, "$50.00", "$0.00", "$50.00");
    assert!(!page_a.body.contains("Chair"));
    assert!(!page_b.body.contains("Lamp"));

    // A's session does not open B's reports.
    let cookie = owner_a.cookie.clone();
    let mut intruder = app.browser(&TestApp::store_host("rep-iso-b"));
    intruder.cookie = cookie;
    let page = intruder.get(path).await;
    assert_ne!(page.status, 200, "{}", page.body);
}
