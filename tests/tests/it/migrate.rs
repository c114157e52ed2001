//! `storefront migrate` across many tenants: parallel, resumable, past failures.

use platform::tenancy::migrate::{LineProgress, migrate_tenants};
use storefront_tests::TestApp;
use tenant_store::migrations::{Migration, Migrations};

fn with_gift_cards() -> Migrations {
    let current = Migrations::tenant();
    current.with(Migration {
        version: current.latest() + 1,
        name: "gift_cards".into(),
        sql: "CREATE TABLE gift_cards (code text PRIMARY KEY, balance_minor bigint NOT NULL DEFAULT 0)"
            .into(),
    })
}

async fn version_of(app: &TestApp, subdomain: &str) -> i64 {
    sqlx::query_scalar("SELECT schema_version FROM platform.tenants WHERE subdomain = $1")
        .bind(subdomain)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_tenant_is_migrated_and_a_failing_one_is_reported_then_resumed() {
    let app = TestApp::spawn().await;
    let next = with_gift_cards();
    let mut tenants = Vec::new();
    for i in 0..6 {
        tenants.push(
            app.create_tenant(&format!("store{i}"), &format!("Store {i}"))
                .await,
        );
    }
    // store3 already has a table in the way: its migration fails.
    let blocked = &tenants[3];
    sqlx::raw_sql(&format!(
        "CREATE TABLE {}.gift_cards (x int)",
        blocked.schema
    ))
    .execute(&app.pool)
    .await
    .unwrap();

    let mut lines = Vec::<u8>::new();
    let report = migrate_tenants(&app.pool, &next, 3, &LineProgress::new(&mut lines))
        .await
        .unwrap();
    let lines = String::from_utf8(lines).unwrap();
    assert_eq!(report.total, 6);
    assert_eq!(report.migrated, 5);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, "store3");
    assert!(
        report.failed[0].1.contains("already exists"),
        "{}",
        report.failed[0].1
    );
    assert!(lines.contains("migrating 6 tenant schema(s)"), "{lines}");
    assert!(lines.contains("FAILED store3"), "{lines}");
    assert!(lines.contains("6/6 (100%)"), "{lines}");

    for t in &tenants {
        let expected = if t.subdomain == "store3" {
            Migrations::tenant().latest()
        } else {
            next.latest()
        };
        assert_eq!(
            version_of(&app, &t.subdomain).await,
            expected,
            "{}",
            t.subdomain
        );
    }
    let mut tx = tenant_store::begin(&app.pool, &tenants[0].schema)
        .await
        .unwrap();
    sqlx::query("INSERT INTO gift_cards (code) VALUES ('WELCOME')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let recorded: i64 = sqlx::query_scalar("SELECT max(version) FROM schema_migrations")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(recorded, next.latest());
    drop(tx);

    // Fix the blocked tenant; the next run picks up only what is still behind.
    sqlx::raw_sql(&format!("DROP TABLE {}.gift_cards", blocked.schema))
        .execute(&app.pool)
        .await
        .unwrap();
    let report = migrate_tenants(&app.pool, &next, 3, &LineProgress::new(Vec::new()))
        .await
        .unwrap();
    assert_eq!(
        (report.total, report.migrated, report.failed.len()),
        (1, 1, 0)
    );
    assert_eq!(version_of(&app, "store3").await, next.latest());

    // And a run with nothing to do does nothing.
    let report = migrate_tenants(&app.pool, &next, 3, &LineProgress::new(Vec::new()))
        .await
        .unwrap();
    assert_eq!(report.total, 0);
}
