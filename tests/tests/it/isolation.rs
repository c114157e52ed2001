//! Tenant isolation fails closed: the four properties the design rests on.

use platform::tenancy::migrate::{self, migrate_tenant};
use storefront_tests::TestApp;
use tenant_store::migrations::{Migration, Migrations};
use tenant_store::settings;

/// The tenant migrations plus one more, as the next release would ship it.
fn next_release() -> Migrations {
    let current = Migrations::tenant();
    current.with(Migration {
        version: current.latest() + 1,
        name: "settings_tagline".into(),
        sql: "ALTER TABLE settings ADD COLUMN tagline text NOT NULL DEFAULT ''".into(),
    })
}

async fn add_outbox_rows(app: &TestApp, tenant: &platform::tenancy::Tenant, n: usize) {
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    for _ in 0..n {
        sqlx::query("INSERT INTO outbox (topic, payload) VALUES ('test.event', '{}')")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

fn is_undefined_table(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "42P01")
}

#[tokio::test]
async fn a_two_tenants_alternating_over_one_connection_see_only_their_own_rows() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let bravo = app.create_tenant("bravo", "Bravo Supplies").await;
    add_outbox_rows(&app, &alpha, 1).await;
    add_outbox_rows(&app, &bravo, 3).await;

    let pool = app.db.pool(1).await;
    let mut backends = std::collections::HashSet::new();
    for _ in 0..5 {
        for (tenant, rows) in [(&alpha, 1_i64), (&bravo, 3)] {
            let mut tx = tenant_store::begin(&pool, &tenant.schema).await.unwrap();
            // The same SQL text for both tenants: a prepared statement cached on the connection.
            let store = settings::load(&mut tx).await.unwrap();
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(store.name, tenant.name);
            assert_eq!(count, rows, "{} sees its own outbox only", tenant.subdomain);
            backends.insert(backend);
        }
    }
    assert_eq!(
        backends.len(),
        1,
        "every transaction ran on the one pooled connection"
    );
}

#[tokio::test]
async fn b_after_a_failed_or_rolled_back_tenant_transaction_the_connection_has_no_tenant() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let pool = app.db.pool(1).await;

    // 1. A statement fails inside the tenant transaction, which is then dropped.
    {
        let mut tx = tenant_store::begin(&pool, &alpha.schema).await.unwrap();
        let err = sqlx::query("SELECT no_such_column FROM settings")
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(err.as_database_error().is_some());
    }
    assert_no_tenant_context(&pool).await;

    // 2. An explicit rollback.
    let mut tx = tenant_store::begin(&pool, &alpha.schema).await.unwrap();
    settings::load(&mut tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert_no_tenant_context(&pool).await;

    // 3. A commit, for completeness: the setting was transaction-local.
    let mut tx = tenant_store::begin(&pool, &alpha.schema).await.unwrap();
    settings::load(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_no_tenant_context(&pool).await;
}

async fn assert_no_tenant_context(pool: &sqlx::PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(path, tenant_store::NO_TENANT_SCHEMA);
    let err = sqlx::query("SELECT name FROM settings")
        .fetch_one(&mut *conn)
        .await
        .unwrap_err();
    assert!(is_undefined_table(&err), "{err}");
}

#[tokio::test]
async fn c_a_query_outside_any_tenant_transaction_cannot_read_tenant_tables() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    add_outbox_rows(&app, &app.create_tenant("bravo", "Bravo Supplies").await, 2).await;

    for sql in ["SELECT name FROM settings", "SELECT count(*) FROM outbox"] {
        let err = sqlx::query(sql).fetch_one(&app.pool).await.unwrap_err();
        assert!(is_undefined_table(&err), "{sql}: {err}");
        let mut tx = tenant_store::begin_platform(&app.pool).await.unwrap();
        let err = sqlx::query(sql).fetch_one(&mut *tx).await.unwrap_err();
        assert!(
            is_undefined_table(&err),
            "{sql} in a plain transaction: {err}"
        );
    }
    let tables_in_default_schema: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1")
            .bind(tenant_store::NO_TENANT_SCHEMA)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        tables_in_default_schema, 0,
        "the default schema stays empty"
    );
}

#[tokio::test]
async fn d_a_tenant_one_migration_behind_still_serves_while_the_rest_are_migrated() {
    let app = TestApp::spawn().await;
    let next = next_release();
    let mut tenants = Vec::new();
    for i in 0..12 {
        tenants.push(
            app.create_tenant(&format!("shop{i:02}"), &format!("Shop {i}"))
                .await,
        );
    }
    let behind = &tenants[0];
    let ahead = &tenants[1];
    migrate_tenant(&app.pool, ahead.id, &next).await.unwrap();

    // Over one connection with a warm statement cache, both versions answer the same query.
    let pool = app.db.pool(1).await;
    for _ in 0..3 {
        for t in [behind, ahead] {
            let mut tx = tenant_store::begin(&pool, &t.schema).await.unwrap();
            assert_eq!(settings::load(&mut tx).await.unwrap().name, t.name);
            tx.commit().await.unwrap();
        }
    }

    // Shoppers keep being served while the remaining tenants migrate.
    let migrating = {
        let pool = app.pool.clone();
        let next = next.clone();
        tokio::spawn(
            async move { migrate::migrate_tenants(&pool, &next, 2, &migrate::Silent).await },
        )
    };
    let mut served = 0;
    while !migrating.is_finished() || served < tenants.len() {
        let t = &tenants[served % tenants.len()];
        let (status, body) = app.get_text(&TestApp::store_host(&t.subdomain), "/").await;
        assert_eq!(status, 200, "{} answers mid-migration", t.subdomain);
        assert!(body.contains(&t.name));
        served += 1;
    }
    let report = migrating.await.unwrap().unwrap();
    assert_eq!(report.migrated, tenants.len() as u64 - 1);
    assert!(report.failed.is_empty());
    let (status, body) = app
        .get_text(&TestApp::store_host(&behind.subdomain), "/")
        .await;
    assert_eq!(status, 200);
    assert!(body.contains(&behind.name));
}

/// Takes the lane's idle connection and checks it is back outside any tenant.
async fn assert_lane_left_no_tenant(lane: &tenant_store::ReadLane) {
    let mut conn = lane.take_idle().expect("the read's connection was kept");
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(path, tenant_store::NO_TENANT_SCHEMA);
    let err = sqlx::query("SELECT name FROM settings")
        .fetch_one(&mut conn)
        .await
        .unwrap_err();
    assert!(is_undefined_table(&err), "{err}");
    assert!(!inside_an_earlier_transaction(&mut conn).await);
}

fn one_connection_lane(app: &TestApp) -> tenant_store::ReadLane {
    tenant_store::ReadLane::new(app.db.app_options(), tenant_store::LaneLimits::new(1))
}

#[tokio::test]
async fn e_a_read_sent_with_its_tenant_transaction_sees_only_its_tenant_writes_nothing_and_leaves_no_tenant()
 {
    use sqlx::Row as _;
    use tenant_store::{ReadStatement, read_at_once};
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let bravo = app.create_tenant("bravo", "Bravo Supplies").await;
    add_outbox_rows(&app, &alpha, 1).await;
    add_outbox_rows(&app, &bravo, 3).await;
    let lane = one_connection_lane(&app);

    // One statement, prepared on the one connection the first time, run for both tenants
    // in turn: enough runs for PostgreSQL to switch to a generic plan. The connection is
    // kept between reads (the same server process answers every time).
    let events = ReadStatement {
        name: "test_store_events",
        sql: "SELECT s.name, (SELECT count(*) FROM outbox WHERE topic = $1) AS events, \
              pg_backend_pid() AS backend FROM settings s",
    };
    let mut backends = std::collections::HashSet::new();
    for _ in 0..8 {
        for (tenant, rows) in [(&alpha, 1_i64), (&bravo, 3)] {
            let read = read_at_once(&lane, &tenant.schema, events, &["test.event"])
                .await
                .unwrap();
            assert_eq!(read.len(), 1);
            assert_eq!(read[0].get::<String, _>("name"), tenant.name);
            assert_eq!(read[0].get::<i64, _>("events"), rows);
            backends.insert(read[0].get::<i32, _>("backend"));
        }
    }
    assert_eq!(backends.len(), 1, "{backends:?}");
    assert_eq!(lane.idle_count(), 1);
    assert_lane_left_no_tenant(&lane).await;

    // Arguments travel as literals: quotes and backslashes arrive as written.
    let echo = ReadStatement {
        name: "test_echo",
        sql: "SELECT $1 AS v",
    };
    let tricky = r"O'Brien's \ 'shop'); SELECT 1 --";
    let read = read_at_once(&lane, &alpha.schema, echo, &[tricky])
        .await
        .unwrap();
    assert_eq!(read[0].get::<String, _>("v"), tricky);

    // A failing statement: an error, and its connection is closed, not kept; the next
    // read opens another.
    let fails = ReadStatement {
        name: "test_fails",
        sql: "SELECT 1 / (count(*) - count(*)) FROM outbox WHERE topic <> $1",
    };
    for _ in 0..2 {
        let err = read_at_once(&lane, &alpha.schema, fails, &["x"])
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("division by zero"), "{err:?}");
        assert_eq!(lane.idle_count(), 0);
    }

    // A write is refused (a read-only transaction) and changes nothing.
    let writes = ReadStatement {
        name: "test_writes",
        sql: "INSERT INTO outbox (topic, payload) VALUES ($1, '{}') RETURNING id",
    };
    let err = read_at_once(&lane, &alpha.schema, writes, &["test.event"])
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("read-only transaction"),
        "{err:?}"
    );
    let read = read_at_once(&lane, &alpha.schema, events, &["test.event"])
        .await
        .unwrap();
    assert_eq!(read[0].get::<i64, _>("events"), 1);
    assert_lane_left_no_tenant(&lane).await;
}

#[tokio::test]
async fn each_store_shows_its_own_name_and_never_another_tenants() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    app.create_tenant("bravo", "Bravo Supplies").await;
    for _ in 0..3 {
        let (_, a) = app.get_text("alpha.storefront.test", "/").await;
        let (_, b) = app.get_text("bravo.storefront.test", "/").await;
        assert!(a.contains("Alpha Goods") && !a.contains("Bravo Supplies"));
        assert!(b.contains("Bravo Supplies") && !b.contains("Alpha Goods"));
    }
}

/// Whether the connection's next statement runs inside a transaction block begun earlier
/// (within a block, `now()` is when the block began, here at least 50 ms ago; alone, when
/// the statement did).
async fn inside_an_earlier_transaction(conn: &mut sqlx::PgConnection) -> bool {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    sqlx::query_scalar("SELECT clock_timestamp() - now() > interval '40 milliseconds'")
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_transaction_whose_caller_goes_away_before_the_server_answers_begin_is_ended_not_handed_on()
 {
    use futures::FutureExt as _;
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let pool = app.db.pool(1).await;
    let mut unanswered = 0;
    for _ in 0..10 {
        // Polled once, then dropped: `BEGIN` is on its way and nobody waits for the answer
        // (a shopper closing the page mid-request). The rare one answered within the poll
        // is dropped as an open transaction.
        if tenant_store::begin(&pool, &alpha.schema)
            .now_or_never()
            .is_none()
        {
            unanswered += 1;
        }
        if tenant_store::begin_platform(&pool).now_or_never().is_none() {
            unanswered += 1;
        }
    }
    assert!(
        unanswered >= 10,
        "only {unanswered} of 20 dropped unanswered"
    );
    let mut conn = pool.acquire().await.unwrap();
    assert!(!inside_an_earlier_transaction(&mut conn).await);
    drop(conn);
    // And the one connection goes on serving.
    let mut tx = tenant_store::begin(&pool, &alpha.schema).await.unwrap();
    assert_eq!(settings::load(&mut tx).await.unwrap().name, alpha.name);
    tx.commit().await.unwrap();
    assert_no_tenant_context(&pool).await;
}

#[tokio::test]
async fn a_read_whose_caller_goes_away_before_the_answer_closes_its_connection_and_the_next_read_is_answered()
 {
    use futures::FutureExt as _;
    use sqlx::Row as _;
    use tenant_store::{ReadStatement, read_at_once};
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let lane = one_connection_lane(&app);
    let slow = ReadStatement {
        name: "test_slow_name",
        sql: "SELECT name, pg_sleep(0.2)::text AS slept FROM settings WHERE $1 = $1",
    };
    // Warm: the connection is open and the statement prepared.
    read_at_once(&lane, &alpha.schema, slow, &["x"])
        .await
        .unwrap();
    assert_eq!(lane.idle_count(), 1);
    // Sent, polled once, and dropped before the server answers (a shopper closing the
    // page): the connection, which still has an answer coming, is not kept.
    let mut dropped = 0;
    for _ in 0..3 {
        if read_at_once(&lane, &alpha.schema, slow, &["x"])
            .now_or_never()
            .is_none()
        {
            dropped += 1;
        }
        assert_eq!(lane.idle_count(), 0);
    }
    assert!(dropped >= 2, "only {dropped} of 3 dropped unanswered");
    // The next read gets a connection of its own and its own answer.
    let name = ReadStatement {
        name: "test_store_name",
        sql: "SELECT name FROM settings WHERE $1 = $1",
    };
    let rows = read_at_once(&lane, &alpha.schema, name, &["x"])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String, _>("name"), alpha.name);
    assert_lane_left_no_tenant(&lane).await;
}

#[tokio::test]
async fn each_store_reads_its_product_pages_through_a_statement_of_its_own() {
    // The page cache off: every view reads PostgreSQL.
    let app = TestApp::spawn_with(|s| s.page_cache_mb = 0).await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    let bravo = app.create_tenant("bravo", "Bravo Wares").await;
    crate::fixtures::product(&app, &alpha, "Mug", 1200, 3).await;
    crate::fixtures::product(&app, &bravo, "Mug", 900, 3).await;
    const VIEWS: i64 = 8;
    for _ in 0..VIEWS {
        let (status, a) = app
            .get_text(&TestApp::store_host("alpha"), "/products/mug")
            .await;
        assert_eq!(status, 200);
        assert!(a.contains("$12.00") && !a.contains("$9.00") && a.contains("Alpha Goods"));
        let (status, b) = app
            .get_text(&TestApp::store_host("bravo"), "/products/mug")
            .await;
        assert_eq!(status, 200);
        assert!(b.contains("$9.00") && !b.contains("$12.00") && b.contains("Bravo Wares"));
    }
    // PostgreSQL plans a prepared statement afresh whenever the schema it runs in is not
    // the one it was planned in: each store's views ran a statement of the store's own.
    let mut runs = std::collections::BTreeMap::<String, i64>::new();
    while let Some(mut conn) = app.state.reads.take_idle() {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT name, generic_plans + custom_plans FROM pg_prepared_statements \
             WHERE name LIKE 'product_page%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for (name, n) in rows {
            *runs.entry(name).or_default() += n;
        }
    }
    let expected: std::collections::BTreeMap<String, i64> = [&alpha, &bravo]
        .iter()
        .map(|t| (format!("product_page__{}", t.schema.as_str()), VIEWS))
        .collect();
    assert_eq!(runs, expected);
}
