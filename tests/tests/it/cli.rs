//! The `storefront` command line against a real database.

use storefront_tests::TestApp;

#[tokio::test]
async fn tenant_create_makes_a_live_store_and_prints_a_working_owner_password() {
    let app = TestApp::spawn().await;
    let (result, out) = app
        .cli(
            &[
                "tenant",
                "create",
                "--subdomain",
                "Acme",
                "--name",
                "Acme Outfitters",
                "--owner-email",
                "Owner@Acme.example",
            ],
            "",
        )
        .await;
    result.unwrap();
    assert!(
        out.contains("created store “Acme Outfitters” at acme.storefront.test"),
        "{out}"
    );
    let password = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("owner password: "))
        .expect("a generated password is printed");
    let hash: String = sqlx::query_scalar(
        "SELECT password_hash FROM platform.users WHERE email = 'owner@acme.example'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(platform::accounts::verify_password(password, &hash));

    let (status, body) = app.get_text("acme.storefront.test", "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Acme Outfitters"));
}

#[tokio::test]
async fn tenant_create_refuses_bad_input_with_the_reason_and_creates_nothing() {
    let app = TestApp::spawn().await;
    app.create_tenant("taken", "Taken").await;
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--subdomain",
                "www",
                "--name",
                "X",
                "--owner-email",
                "a@b.example",
            ],
            "subdomain: “www” is reserved",
        ),
        (
            &[
                "--subdomain",
                "ab",
                "--name",
                "X",
                "--owner-email",
                "a@b.example",
            ],
            "subdomain: must be 3 to 63 characters",
        ),
        (
            &[
                "--subdomain",
                "taken",
                "--name",
                "X",
                "--owner-email",
                "a@b.example",
            ],
            "subdomain: “taken” is already taken",
        ),
        (
            &[
                "--subdomain",
                "fresh",
                "--name",
                "X",
                "--owner-email",
                "nope",
            ],
            "owner_email: “nope” is not a valid email address",
        ),
        (
            &[
                "--subdomain",
                "fresh",
                "--name",
                "X",
                "--owner-email",
                "a@b.example",
                "--owner-password",
                "short",
            ],
            "owner_password: must be at least 10 characters",
        ),
    ];
    for (args, message) in cases {
        let mut argv = vec!["tenant", "create"];
        argv.extend_from_slice(args);
        let (result, _) = app.cli(&argv, "").await;
        let err = format!("{:#}", result.unwrap_err());
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.tenants")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn tenant_list_prints_a_table_or_json() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    app.create_tenant("bravo", "Bravo Supplies").await;

    let (result, out) = app.cli(&["tenant", "list", "--json"], "").await;
    result.unwrap();
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["subdomain"], "alpha");
    assert_eq!(list[0]["name"], "Alpha Goods");
    assert_eq!(list[0]["schema"], alpha.schema.as_str());
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[1]["subdomain"], "bravo");

    let (result, out) = app.cli(&["tenant", "list"], "").await;
    result.unwrap();
    assert!(out.starts_with("SUBDOMAIN"));
    assert!(out.contains("alpha") && out.contains("Bravo Supplies"));
    assert!(out.trim_end().ends_with("2 store(s)"));
}

#[tokio::test]
async fn tenant_delete_asks_first_and_then_removes_everything() {
    let app = TestApp::spawn().await;
    let alpha = app.create_tenant("alpha", "Alpha Goods").await;
    app.create_tenant("bravo", "Bravo Supplies").await;

    // A wrong answer (or none) deletes nothing.
    for answer in ["no\n", ""] {
        let (result, out) = app.cli(&["tenant", "delete", "alpha"], answer).await;
        assert!(out.contains("Type the subdomain to confirm"));
        assert!(format!("{:#}", result.unwrap_err()).contains("nothing was deleted"));
        assert_eq!(app.get_text("alpha.storefront.test", "/").await.0, 200);
    }

    let (result, out) = app.cli(&["tenant", "delete", "alpha"], "alpha\n").await;
    result.unwrap();
    assert!(out.contains("deleted store alpha"));
    let schema_left: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(alpha.schema.as_str())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!schema_left);
    let hostnames: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform.hostnames WHERE hostname = 'alpha'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(hostnames, 0);

    let (result, _) = app.cli(&["tenant", "delete", "bravo", "--yes"], "").await;
    result.unwrap();
    let (result, _) = app.cli(&["tenant", "delete", "bravo", "--yes"], "").await;
    assert!(format!("{:#}", result.unwrap_err()).contains("no store has the subdomain"));
}

#[tokio::test]
async fn migrate_reports_what_it_did() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha Goods").await;
    let (result, out) = app.cli(&["migrate"], "").await;
    result.unwrap();
    let latest = tenant_store::migrations::Migrations::tenant().latest();
    assert!(out.contains("migrating 0 tenant schema(s)"), "{out}");
    assert!(
        out.contains(&format!(
            "tenants at version {latest}: 0 migrated now, 0 failed"
        )),
        "{out}"
    );
}

#[tokio::test]
async fn too_few_database_connections_are_refused_with_the_least_allowed() {
    let app = TestApp::spawn().await;
    let (result, _) = app
        .cli(&["--database-max-connections", "2", "migrate"], "")
        .await;
    let err = format!("{:#}", result.unwrap_err());
    assert!(err.contains("--database-max-connections"), "{err}");
    assert!(err.contains("2 is not in 3.."), "{err}");
    let (result, _) = app
        .cli(&["--database-max-connections", "3", "migrate"], "")
        .await;
    result.unwrap();
}

#[tokio::test]
async fn demo_creates_the_demo_store_once_serves_it_and_stops_on_signal() {
    let db = storefront_tests::TestDb::create().await;
    let data_dir = tempfile::tempdir().unwrap();
    for run in 0..2 {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let mut settings =
            platform::config::Settings::for_database(&db.url, data_dir.path().to_path_buf());
        settings.platform_domain = storefront_tests::PLATFORM_DOMAIN.into();
        settings.listen_addr = ([127, 0, 0, 1], port).into();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let mut out = Vec::<u8>::new();
            let mut input = std::io::Cursor::new(Vec::new());
            let mut console = platform::cli::Console {
                out: &mut out,
                input: &mut input,
                terminal: false,
            };
            let shutdown = async {
                let _ = stopped.await;
            };
            let demo = platform::cli::Demo {
                sample_products: 25,
            };
            let result = platform::cli::serve(settings, Some(demo), &mut console, shutdown).await;
            (result, String::from_utf8(out).unwrap())
        });

        let client = reqwest::Client::new();
        let mut page = None;
        for _ in 0..200 {
            let res = client
                .get(format!("http://127.0.0.1:{port}/"))
                .header("host", "demo.storefront.test")
                .send()
                .await;
            if let Ok(res) = res {
                page = Some((res.status().as_u16(), res.text().await.unwrap()));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (status, body) = page.expect("the demo serves");
        assert_eq!(status, 200, "run {run}");
        assert!(body.contains("Demo Store"));

        stop.send(()).unwrap();
        let (result, out) = server.await.unwrap();
        result.unwrap();
        assert!(
            out.contains(&format!(
                "demo store:    http://demo.storefront.test:{port}/"
            )),
            "{out}"
        );
    }
    let pool = db.pool(1).await;
    let demos: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform.tenants WHERE subdomain = 'demo'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(demos, 1, "a second demo run reuses the store");

    // The demo store has a catalog: products with variants and images, and collections.
    let tenant = platform::tenancy::find_by_subdomain(&pool, "demo")
        .await
        .unwrap()
        .unwrap();
    let mut tx = tenant_store::begin(&pool, &tenant.schema).await.unwrap();
    assert_eq!(
        tenant_store::catalog::count_products(&mut tx)
            .await
            .unwrap(),
        6 + 25,
        "seeded once, topped up to 25 samples"
    );
    let Ok(tenant_store::catalog::Found::Product(tee)) =
        tenant_store::catalog::find_by_handle(&mut tx, "organic-cotton-tee").await
    else {
        panic!("the demo tee exists");
    };
    assert_eq!(tee.variants.len(), 4);
    assert_eq!(tee.images.len(), 1);
    let tees = tenant_store::catalog::collections::list_collections(&mut tx)
        .await
        .unwrap();
    let counts: Vec<(String, i64)> = tees
        .into_iter()
        .map(|c| (c.handle, c.products_count))
        .collect();
    // Two demo tees, and every fifth sample product is a T-shirt the rule picks up.
    assert!(
        counts.contains(&("t-shirts".to_owned(), 2 + 5)),
        "{counts:?}"
    );
    assert!(counts.contains(&("featured".to_owned(), 3)), "{counts:?}");
    drop(tx);
    let image = data_dir.path().join("media").join(tenant.schema.as_str());
    assert!(
        image.exists(),
        "generated images are stored under DATA_DIR/media"
    );
}
