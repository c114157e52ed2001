//! Provisioning: a store is created whole, in one transaction, or not at all.

use platform::tenancy::{self, NewTenant, ProvisionError};
use storefront_tests::{TestApp, UNUSED_PASSWORD_HASH};
use tenant_store::migrations::{Migration, Migrations};

fn new_tenant(subdomain: &str, email: &str) -> NewTenant {
    NewTenant::parse(subdomain, "Acme", email, UNUSED_PASSWORD_HASH.into()).unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

async fn tenant_schema_count(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't\\_%'",
    )
    .await
}

#[tokio::test]
async fn a_new_store_has_its_schema_tables_settings_hostname_and_owner_and_answers_at_once() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("acme", "Acme Outfitters").await;

    assert!(t.schema.as_str().starts_with("t_"));
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
    )
    .bind(t.schema.as_str())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for table in [
        "outbox",
        "schema_migrations",
        "settings",
        "products",
        "variants",
        "collections",
        "inventory_adjustments",
    ] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    let version: i64 = sqlx::query_scalar(&format!(
        "SELECT max(version) FROM {}.schema_migrations",
        t.schema
    ))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(version, Migrations::tenant().latest());
    assert_eq!(t.schema_version, version);

    let (hostname, kind, primary): (String, String, bool) = sqlx::query_as(
        "SELECT hostname, kind, is_primary FROM platform.hostnames WHERE tenant_id = $1",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (hostname.as_str(), kind.as_str(), primary),
        ("acme", "subdomain", true)
    );
    let role: String = sqlx::query_scalar(
        "SELECT m.role FROM platform.memberships m JOIN platform.users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 AND u.email = 'owner@acme.example.com'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(role, "owner");

    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let store = tenant_store::settings::load(&mut tx).await.unwrap();
    assert_eq!(store.name, "Acme Outfitters");
    assert_eq!(store.contact_email, "owner@acme.example.com");
    assert_eq!(store.currency, "USD");
    drop(tx);

    let (status, body) = app.get_text("acme.storefront.test", "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Acme Outfitters"));
}

#[tokio::test]
async fn a_taken_subdomain_is_refused_and_nothing_more_is_created() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme", "Acme").await;
    let err = tenancy::provision(&app.pool, &new_tenant("ACME", "someone@else.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProvisionError::SubdomainTaken(_)));
    assert_eq!(err.to_string(), "subdomain: “acme” is already taken");
    assert_eq!(
        count(&app, "SELECT count(*) FROM platform.tenants").await,
        1
    );
    assert_eq!(tenant_schema_count(&app).await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM platform.users").await, 1);
}

#[tokio::test]
async fn concurrent_signups_for_one_subdomain_create_exactly_one_store() {
    let app = TestApp::spawn().await;
    let attempts = (0..6).map(|i| {
        let pool = app.pool.clone();
        async move {
            tenancy::provision(&pool, &new_tenant("rush", &format!("m{i}@rush.example"))).await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(ProvisionError::SubdomainTaken(_))))
        .count();
    assert_eq!((created, taken), (1, 5));
    assert_eq!(tenant_schema_count(&app).await, 1);
}

#[tokio::test]
async fn a_failure_midway_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let broken = Migrations::tenant().with(Migration {
        version: Migrations::tenant().latest() + 1,
        name: "broken".into(),
        sql: "ALTER TABLE no_such_table ADD COLUMN x int".into(),
    });
    let err = tenancy::provision_with(&app.pool, &new_tenant("acme", "o@acme.example"), &broken)
        .await
        .unwrap_err();
    assert!(matches!(err, ProvisionError::Internal(_)), "{err}");
    for table in ["tenants", "hostnames", "users", "memberships"] {
        assert_eq!(
            count(&app, &format!("SELECT count(*) FROM platform.{table}")).await,
            0,
            "{table}"
        );
    }
    assert_eq!(tenant_schema_count(&app).await, 0);
    assert_eq!(app.get_text("acme.storefront.test", "/").await.0, 404);

    // The subdomain is still free.
    tenancy::provision(&app.pool, &new_tenant("acme", "o@acme.example"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_merchant_with_two_stores_keeps_one_account() {
    let app = TestApp::spawn().await;
    let first = tenancy::provision(&app.pool, &new_tenant("first", "Owner@Both.example"))
        .await
        .unwrap();
    let second = tenancy::provision(&app.pool, &new_tenant("second", "owner@both.example"))
        .await
        .unwrap();
    assert!(first.owner_created);
    assert!(!second.owner_created);
    assert_eq!(first.owner_id, second.owner_id);
}

#[test]
fn invalid_store_fields_are_all_reported_by_field() {
    let err =
        NewTenant::parse("www", " ", "not-an-email", UNUSED_PASSWORD_HASH.into()).unwrap_err();
    let ProvisionError::Invalid(fields) = err else {
        panic!("expected field errors");
    };
    let names: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
    assert_eq!(names, ["subdomain", "name", "owner_email"]);
    assert!(fields[0].1.contains("reserved"));
}
