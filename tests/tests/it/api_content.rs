//! The Admin API's content and read-only catalog resources, black-box through HTTP: pages,
//! blogs and articles, collections, inventory levels; scopes and isolation between stores.

use reqwest::Method;
use serde_json::{Value, json};
use storefront_tests::TestApp;
use tenant_store::catalog::collections::{self, CollectionInput, Kind, Rule};
use tenant_store::catalog::{self, ProductInput, Status, VariantInput};

/// A token made with the command line (its last line of output), named after its scopes.
async fn token(app: &TestApp, store: &str, scopes: &str) -> String {
    let args = [
        "token", "create", "--tenant", store, "--scopes", scopes, "--name", scopes,
    ];
    let (result, out) = app.cli(&args, "").await;
    result.expect("token create");
    out.lines().last().expect("a token").to_owned()
}

/// What the API answered.
struct Reply {
    status: u16,
    etag: Option<String>,
    link: Option<String>,
    json: Value,
}

/// One request to `store`'s API with `token` (none for `""`).
async fn call(
    app: &TestApp,
    store: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_none_match: Option<&str>,
) -> Reply {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{}{path}", app.addr))
        .header(reqwest::header::HOST, TestApp::store_host(store));
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    if let Some(tag) = if_none_match {
        req = req.header(reqwest::header::IF_NONE_MATCH, tag);
    }
    let res = req.send().await.expect("the app answers");
    let header = |name| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (etag, link) = (header(reqwest::header::ETAG), header(reqwest::header::LINK));
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        etag,
        link,
        json,
    }
}

fn error_fields(r: &Reply) -> Vec<String> {
    r.json["error"]["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("field errors: {}", r.json))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_page_is_created_listed_read_changed_and_deleted_with_a_token() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let tok = token(&app, "alpha", "content:write").await;
    let (app_ref, tok_ref) = (&app, &tok);
    let api = |m, p: &str, b| {
        let p = p.to_owned();
        async move { call(app_ref, "alpha", tok_ref, m, &p, b, None).await }
    };

    let created = api(
        Method::POST,
        "/admin/api/v1/pages.json",
        Some(json!({"page": {
            "title": "Shipping",
            "body_html": "<p>Fast <b>and</b> free</p><script>x()</script>",
            "metafields_global_title_tag": "Shipping at Alpha",
        }})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let p = &created.json["page"];
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(p["handle"], "shipping");
    assert_eq!(p["body_html"], "<p>Fast <b>and</b> free</p>");
    assert_eq!(p["published"], true, "Shopify's default");
    assert!(p["published_at"].is_string());
    assert_eq!(p["metafields_global_title_tag"], "Shipping at Alpha");

    // Read with an ETag; the same ETag again is 304.
    let read = api(Method::GET, &format!("/admin/api/v1/pages/{id}.json"), None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json["page"]["title"], "Shipping");
    let tag = read.etag.expect("an ETag");
    let again = call(
        &app,
        "alpha",
        &tok,
        Method::GET,
        &format!("/admin/api/v1/pages/{id}"),
        None,
        Some(&tag),
    )
    .await;
    assert_eq!(again.status, 304);

    // Hide it and rename it: fields left out stay.
    let changed = api(
        Method::PUT,
        &format!("/admin/api/v1/pages/{id}.json"),
        Some(json!({"page": {"handle": "delivery", "published": false}})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.json);
    let p = &changed.json["page"];
    assert_eq!(
        (
            p["handle"].clone(),
            p["title"].clone(),
            p["published"].clone()
        ),
        (json!("delivery"), json!("Shipping"), json!(false))
    );
    assert_eq!(p["published_at"], Value::Null, "hidden pages show no time");
    assert_eq!(p["body_html"], "<p>Fast <b>and</b> free</p>", "kept");
    let moved = call(
        &app,
        "alpha",
        &tok,
        Method::GET,
        &format!("/admin/api/v1/pages/{id}"),
        None,
        Some(&tag),
    )
    .await;
    assert_eq!(moved.status, 200, "a changed page is sent again");

    // Pages of two, with a Link to the next.
    for title in ["FAQ", "About"] {
        let r = api(
            Method::POST,
            "/admin/api/v1/pages",
            Some(json!({"page": {"title": title}})),
        )
        .await;
        assert_eq!(r.status, 201);
    }
    let first = api(Method::GET, "/admin/api/v1/pages.json?limit=2", None).await;
    let titles = |r: &Reply| -> Vec<String> {
        r.json["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(titles(&first), ["Shipping", "FAQ"]);
    let link = first.link.expect("a Link header");
    let next = &link[link.find("/admin/api/").unwrap()..link.find(">;").unwrap()];
    let second = api(Method::GET, next, None).await;
    assert_eq!(titles(&second), ["About"]);
    assert!(second.link.is_none());
    let count = api(Method::GET, "/admin/api/v1/pages/count.json", None).await;
    assert_eq!(count.json, json!({"count": 3}));

    let deleted = api(Method::DELETE, &format!("/admin/api/v1/pages/{id}"), None).await;
    assert_eq!((deleted.status, deleted.json), (200, json!({})));
    let gone = api(Method::GET, &format!("/admin/api/v1/pages/{id}"), None).await;
    assert_eq!(gone.status, 404);

    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let topics: Vec<String> = sqlx::query_scalar("SELECT topic FROM outbox ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        topics,
        [
            "page.created",
            "page.updated",
            "page.created",
            "page.created",
            "page.deleted"
        ]
    );
    let actors: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT actor FROM audit_log WHERE action LIKE 'page.%'")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(actors, ["api:content:write"]);
}

#[tokio::test]
async fn page_errors_name_the_field_and_tokens_are_checked() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    app.create_tenant("bravo", "Bravo").await;
    let writer = token(&app, "alpha", "content:write").await;
    let reader = token(&app, "alpha", "content:read").await;
    let products = token(&app, "alpha", "products:write").await;
    let bravo = token(&app, "bravo", "content:write").await;

    let bad = call(
        &app,
        "alpha",
        &writer,
        Method::POST,
        "/admin/api/v1/pages.json",
        Some(json!({"page": {"title": "", "handle": "No Spaces"}})),
        None,
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.json);
    assert_eq!(error_fields(&bad), ["handle", "title"]);
    assert_eq!(bad.json["errors"]["title"], json!(["can't be blank"]));
    let wrong_type = call(
        &app,
        "alpha",
        &writer,
        Method::POST,
        "/admin/api/v1/pages",
        Some(json!({"page": {"title": "X", "published": "yes"}})),
        None,
    )
    .await;
    assert_eq!(wrong_type.status, 422);
    assert_eq!(error_fields(&wrong_type), ["published"]);

    let created = call(
        &app,
        "alpha",
        &writer,
        Method::POST,
        "/admin/api/v1/pages",
        Some(json!({"page": {"title": "About"}})),
        None,
    )
    .await;
    let id = created.json["page"]["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/api/v1/pages/{id}.json");

    let none = call(&app, "alpha", "", Method::GET, &path, None, None).await;
    assert_eq!(none.status, 401);
    let forged = call(&app, "alpha", "sf_forged", Method::GET, &path, None, None).await;
    assert_eq!(forged.status, 401);
    // Another store's token is unknown here.
    let foreign = call(&app, "alpha", &bravo, Method::GET, &path, None, None).await;
    assert_eq!(foreign.status, 401);

    let read_only = call(
        &app,
        "alpha",
        &reader,
        Method::PUT,
        &path,
        Some(json!({"page": {"title": "Hacked"}})),
        None,
    )
    .await;
    assert_eq!(read_only.status, 403);
    assert_eq!(read_only.json["error"]["required_scope"], "content:write");
    let catalog_only = call(&app, "alpha", &products, Method::GET, &path, None, None).await;
    assert_eq!(catalog_only.status, 403);
    assert_eq!(catalog_only.json["error"]["required_scope"], "content:read");
    assert_eq!(
        call(&app, "alpha", &reader, Method::GET, &path, None, None)
            .await
            .json["page"]["title"],
        "About",
        "unchanged; a read token reads"
    );

    // Store B's token with store A's page id, on B's host: not found, nothing changed.
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"page": {"title": "Hacked"}}))),
        (Method::DELETE, None),
    ] {
        let r = call(&app, "bravo", &bravo, method.clone(), &path, body, None).await;
        assert_eq!(r.status, 404, "{method}");
    }
    let still = call(&app, "alpha", &reader, Method::GET, &path, None, None).await;
    assert_eq!(still.json["page"]["title"], "About");
}

#[tokio::test]
async fn articles_are_written_to_a_blog_through_the_api() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    app.create_tenant("bravo", "Bravo").await;
    let tok = token(&app, "alpha", "content:write").await;
    let bravo = token(&app, "bravo", "content:read").await;
    let blogs = call(
        &app,
        "alpha",
        &tok,
        Method::GET,
        "/admin/api/v1/blogs.json",
        None,
        None,
    )
    .await;
    assert_eq!(blogs.json["blogs"][0]["handle"], "news");
    let blog = blogs.json["blogs"][0]["id"].as_str().unwrap().to_owned();
    let articles = format!("/admin/api/v1/blogs/{blog}/articles");

    let created = call(
        &app,
        "alpha",
        &tok,
        Method::POST,
        &format!("{articles}.json"),
        Some(json!({"article": {
            "title": "We are open",
            "author": "Ada",
            "body_html": "<p>Come in</p>",
            "tags": "news, shop",
            "image": {"src": "https://cdn.example/open.jpg"},
        }})),
        None,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let a = &created.json["article"];
    assert_eq!(a["handle"], "we-are-open");
    assert_eq!(a["blog_id"], blog.as_str());
    assert_eq!(a["tags"], "news, shop");
    assert_eq!(a["image"]["src"], "https://cdn.example/open.jpg");
    let id = a["id"].as_str().unwrap().to_owned();

    let bad = call(
        &app,
        "alpha",
        &tok,
        Method::PUT,
        &format!("{articles}/{id}.json"),
        Some(json!({"article": {"image": {"src": "javascript:x"}}})),
        None,
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(error_fields(&bad), ["image.src"]);

    let list = call(&app, "alpha", &tok, Method::GET, &articles, None, None).await;
    assert_eq!(list.json["articles"].as_array().unwrap().len(), 1);
    // Another store sees neither the blog nor the article.
    let foreign = call(
        &app,
        "bravo",
        &bravo,
        Method::GET,
        &format!("{articles}/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(foreign.status, 404);
    let deleted = call(
        &app,
        "alpha",
        &tok,
        Method::DELETE,
        &format!("{articles}/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(deleted.status, 200);
}

fn product(title: &str, product_type: &str, price: i64) -> ProductInput {
    ProductInput {
        title: title.into(),
        status: Some(Status::Active),
        product_type: product_type.into(),
        variants: vec![VariantInput {
            price_minor: price,
            track_inventory: true,
            inventory_quantity: 7,
            ..VariantInput::default()
        }],
        ..ProductInput::default()
    }
}

#[tokio::test]
async fn collections_and_inventory_levels_read_in_shopifys_shape() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    app.create_tenant("bravo", "Bravo").await;
    let (manual, smart, variant) = {
        let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
        let mug = catalog::create_product(&mut tx, product("Mug", "Kitchen", 1800), "t", None)
            .await
            .unwrap();
        let base = CollectionInput {
            title: "Picks".into(),
            handle: None,
            body_html: String::new(),
            kind: Kind::Manual,
            sort_order: "title-asc".into(),
            published: true,
            disjunctive: false,
            rules: vec![],
            product_handles: vec!["mug".into()],
        };
        let manual = collections::create_collection(&mut tx, base.clone())
            .await
            .unwrap();
        let smart = collections::create_collection(
            &mut tx,
            CollectionInput {
                title: "Cheap".into(),
                kind: Kind::Automatic,
                rules: vec![Rule {
                    field: "price".into(),
                    relation: "less_than".into(),
                    value: "2000".into(),
                }],
                product_handles: vec![],
                ..base
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        (manual.id, smart.id, mug.variants[0].id)
    };
    let reader = token(&app, "alpha", "products:read").await;
    let get = |path: String| {
        let reader = reader.clone();
        let app = &app;
        async move { call(app, "alpha", &reader, Method::GET, &path, None, None).await }
    };

    let custom = get("/admin/api/v1/custom_collections.json".into()).await;
    assert_eq!(custom.status, 200, "{}", custom.json);
    let list = custom.json["custom_collections"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["handle"], "picks");
    assert_eq!(list[0]["sort_order"], "alpha-asc");
    assert!(list[0].get("rules").is_none());

    let smart_list = get("/admin/api/v1/smart_collections".into()).await;
    let s = &smart_list.json["smart_collections"][0];
    assert_eq!(
        s["rules"],
        json!([{"column": "variant_price", "relation": "less_than", "condition": "20.00"}])
    );
    assert_eq!(s["disjunctive"], false);

    let one = get(format!("/admin/api/v1/collections/{smart}.json")).await;
    assert_eq!(one.json["collection"]["collection_type"], "smart");
    assert_eq!(one.json["collection"]["products_count"], 1);
    let custom_one = get(format!("/admin/api/v1/custom_collections/{manual}")).await;
    assert_eq!(custom_one.json["custom_collection"]["title"], "Picks");
    let wrong_kind = get(format!("/admin/api/v1/custom_collections/{smart}")).await;
    assert_eq!(wrong_kind.status, 404);

    // Inventory levels need inventory:read.
    let levels_path = format!("/admin/api/v1/inventory_levels.json?inventory_item_ids={variant}");
    let refused = get(levels_path.clone()).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json["error"]["required_scope"], "inventory:read");
    let stock = token(&app, "alpha", "inventory:write").await;
    let levels = call(&app, "alpha", &stock, Method::GET, &levels_path, None, None).await;
    assert_eq!(levels.status, 200, "{}", levels.json);
    let level = &levels.json["inventory_levels"][0];
    assert_eq!(level["inventory_item_id"], variant.to_string());
    assert_eq!(level["available"], 7);
    let bad = call(
        &app,
        "alpha",
        &stock,
        Method::GET,
        "/admin/api/v1/inventory_levels.json?inventory_item_ids=nope",
        None,
        None,
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(error_fields(&bad), ["inventory_item_ids"]);

    // Another store: the ids are unknown there.
    let bravo = token(&app, "bravo", "products:read,inventory:read").await;
    let foreign = call(
        &app,
        "bravo",
        &bravo,
        Method::GET,
        &format!("/admin/api/v1/collections/{manual}"),
        None,
        None,
    )
    .await;
    assert_eq!(foreign.status, 404);
    let foreign_levels = call(&app, "bravo", &bravo, Method::GET, &levels_path, None, None).await;
    assert_eq!(foreign_levels.json, json!({"inventory_levels": []}));
}
