//! The JSON Admin API, black-box through HTTP: tokens, products in Shopify's shape,
//! pagination, ETags, errors, stock, and isolation between stores.

use platform::tenancy::{self, NewTenant};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use storefront_tests::TestApp;

const PASSWORD: &str = "correct horse battery";

/// Creates a token with the command line; the token is its last line of output.
async fn token(app: &TestApp, store: &str, name: &str, scopes: &str) -> String {
    let (result, out) = app
        .cli(
            &[
                "token", "create", "--tenant", store, "--scopes", scopes, "--name", name,
            ],
            "",
        )
        .await;
    result.expect("token create");
    let last = out.lines().last().expect("output").to_owned();
    assert!(
        last.starts_with("sf_"),
        "the token alone on the last line: {out}"
    );
    last
}

/// A script talking to one store's API with one token.
struct Api<'a> {
    app: &'a TestApp,
    host: String,
    token: Option<String>,
    client: reqwest::Client,
}

/// What came back.
struct Reply {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl<'a> Api<'a> {
    fn new(app: &'a TestApp, store: &str, token: &str) -> Self {
        Self {
            app,
            host: TestApp::store_host(store),
            token: Some(token.to_owned()),
            client: reqwest::Client::new(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("http://{}{path}", self.app.addr))
            .header(reqwest::header::HOST, &self.host);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        let res = req.send().await.expect("the app answers");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("a body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"))
        };
        Reply {
            status,
            headers,
            json,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(&body.to_string()), &[])
            .await
    }

    async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::PUT, path, Some(&body.to_string()), &[])
            .await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, None, &[]).await
    }
}

fn shirt() -> Value {
    json!({"product": {
        "title": "Blue Cotton Shirt",
        "body_html": "<p>Soft <strong>cotton</strong></p><script>alert(1)</script>",
        "vendor": "Acme",
        "product_type": "Shirts",
        "tags": "summer, cotton",
        "options": [{"name": "Size"}, {"name": "Colour"}],
        "variants": [
            {"option1": "S", "option2": "Blue", "sku": "SHIRT-S", "price": "25.00",
             "compare_at_price": "30.00", "grams": 200, "inventory_management": "shopify",
             "inventory_quantity": 3},
            {"option1": "M", "option2": "Blue", "sku": "SHIRT-M", "price": "27.50",
             "inventory_quantity": 0},
        ],
    }})
}

fn fields(reply: &Reply) -> Vec<String> {
    reply.json["error"]["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("field errors: {}", reply.json))
        .keys()
        .cloned()
        .collect()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn a_product_is_created_read_changed_and_deleted_in_shopifys_shape() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let api = Api::new(
        &app,
        "alpha",
        &token(&app, "alpha", "sync", "products:read,products:write").await,
    );

    let created = api.post("/admin/api/v1/products.json", shirt()).await;
    assert_eq!(created.status, 201, "{}", created.json);
    let p = &created.json["product"];
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(p["title"], "Blue Cotton Shirt");
    assert_eq!(p["handle"], "blue-cotton-shirt");
    assert_eq!(p["body_html"], "<p>Soft <strong>cotton</strong></p>");
    assert_eq!(p["vendor"], "Acme");
    assert_eq!(p["product_type"], "Shirts");
    assert_eq!(p["tags"], "summer, cotton");
    assert_eq!(
        p["status"], "active",
        "Shopify's default for API-made products"
    );
    assert_eq!(
        p["options"],
        json!([
            {"product_id": id, "name": "Size", "position": 1, "values": ["S", "M"]},
            {"product_id": id, "name": "Colour", "position": 2, "values": ["Blue"]},
        ])
    );
    let v = &p["variants"][0];
    assert_eq!(v["title"], "S / Blue");
    assert_eq!(
        (
            v["option1"].clone(),
            v["option2"].clone(),
            v["option3"].clone()
        ),
        (json!("S"), json!("Blue"), Value::Null)
    );
    assert_eq!(v["sku"], "SHIRT-S");
    assert_eq!(v["price"], "25.00");
    assert_eq!(v["compare_at_price"], "30.00");
    assert_eq!(v["grams"], 200);
    assert_eq!(v["inventory_management"], "shopify");
    assert_eq!(v["inventory_quantity"], 3);
    assert_eq!(v["inventory_item_id"], v["id"]);
    assert_eq!(p["variants"][1]["price"], "27.50");
    assert_eq!(p["variants"][1]["compare_at_price"], Value::Null);
    assert_eq!(p["variants"][1]["inventory_management"], Value::Null);
    assert_eq!(p["images"], json!([]));
    assert_eq!(p["image"], Value::Null);

    // An image, as the admin's upload would store it, shows with its rendition URL.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    sqlx::query(
        "INSERT INTO product_images (id, product_id, position, alt, storage_key, content_type, width, height) \
         VALUES (gen_random_uuid(), $1::uuid, 1, 'Front', 'ab/cdef', 'image/webp', 1600, 1200)",
    )
    .bind(&id)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let read = api.get(&format!("/admin/api/v1/products/{id}")).await;
    assert_eq!(read.status, 200);
    let img = &read.json["product"]["images"][0];
    assert_eq!(img["src"], "/media/ab/cdef/1024");
    assert_eq!(
        (
            img["alt"].clone(),
            img["position"].clone(),
            img["width"].clone(),
            img["height"].clone()
        ),
        (json!("Front"), json!(1), json!(1600), json!(1200))
    );
    assert_eq!(read.json["product"]["image"], *img);

    // A partial update: fields left out stay; variants sent replace the product's.
    let first = read.json["product"]["variants"][0]["id"].clone();
    let updated = api
        .put(
            &format!("/admin/api/v1/products/{id}.json"),
            json!({"product": {
                "title": "Blue Linen Shirt",
                "tags": "linen",
                "variants": [
                    {"id": first, "price": "22.00"},
                    {"option1": "L", "option2": "Blue", "sku": "SHIRT-L", "price": 29},
                ],
            }}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.json);
    let p = &updated.json["product"];
    assert_eq!(p["title"], "Blue Linen Shirt");
    assert_eq!(p["vendor"], "Acme", "left out, kept");
    assert_eq!(p["tags"], "linen");
    let variants = p["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2, "the M variant was not sent: deleted");
    assert_eq!(variants[0]["id"], first);
    assert_eq!(variants[0]["price"], "22.00");
    assert_eq!(variants[0]["sku"], "SHIRT-S", "kept");
    assert_eq!(variants[0]["inventory_quantity"], 3, "kept");
    assert_eq!(variants[1]["sku"], "SHIRT-L");
    assert_eq!(variants[1]["price"], "29.00");
    assert_eq!(p["options"][0]["values"], json!(["S", "L"]));

    let counted = api.get("/admin/api/v1/products/count.json").await;
    assert_eq!(counted.json, json!({"count": 1}));

    let deleted = api
        .delete(&format!("/admin/api/v1/products/{id}.json"))
        .await;
    assert_eq!((deleted.status, deleted.json.clone()), (200, json!({})));
    let gone = api.get(&format!("/admin/api/v1/products/{id}.json")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json["error"]["code"], "not_found");
    assert_eq!(
        api.get("/admin/api/v1/products/count").await.json["count"],
        0
    );

    // Every change is in the store's audit log, by the token's name, in its transaction.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let actions: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, action, subject FROM audit_log ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            (
                "api:sync".into(),
                "product.create".into(),
                "blue-cotton-shirt".into()
            ),
            (
                "api:sync".into(),
                "product.update".into(),
                "blue-cotton-shirt".into()
            ),
            (
                "api:sync".into(),
                "product.delete".into(),
                "blue-cotton-shirt".into()
            ),
        ]
    );
}

#[tokio::test]
async fn a_product_sent_with_only_a_title_gets_a_default_variant() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    let api = Api::new(
        &app,
        "alpha",
        &token(&app, "alpha", "s", "products:write").await,
    );
    let created = api
        .post(
            "/admin/api/v1/products",
            json!({"product": {"title": "Gift card", "status": "draft", "tags": ["a", "b"]}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let p = &created.json["product"];
    assert_eq!(p["status"], "draft");
    assert_eq!(p["tags"], "a, b");
    assert_eq!(p["options"], json!([]));
    assert_eq!(p["variants"][0]["title"], "Default Title");
    assert_eq!(p["variants"][0]["price"], "0.00");
}

#[tokio::test]
async fn pages_follow_the_link_header_and_show_each_product_once() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    let api = Api::new(
        &app,
        "alpha",
        &token(&app, "alpha", "s", "products:write").await,
    );
    for i in 0..7 {
        let r = api
            .post(
                "/admin/api/v1/products.json",
                json!({"product": {"title": format!("Product {i}")}}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let mut seen = Vec::new();
    let mut path = "/admin/api/v1/products.json?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.json);
        pages += 1;
        for p in page.json["products"].as_array().unwrap() {
            assert!(p["variants"].is_array(), "full products in the list");
            seen.push(p["id"].as_str().unwrap().to_owned());
        }
        let Some(link) = page.headers.get("link") else {
            break;
        };
        let link = link.to_str().unwrap();
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        let url = link.trim_start_matches('<').split('>').next().unwrap();
        let url = url::Url::parse(url).unwrap();
        assert_eq!(url.host_str(), Some("alpha.storefront.test"));
        assert!(url.query().unwrap().contains("page_info="));
        path = format!("{}?{}", url.path(), url.query().unwrap());
    }
    assert_eq!(pages, 3);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7));

    for bad in ["limit=0", "limit=251", "limit=x", "page_info=garbage"] {
        let r = api.get(&format!("/admin/api/v1/products.json?{bad}")).await;
        assert_eq!(r.status, 422, "{bad}");
        let field = bad.split('=').next().unwrap();
        assert_eq!(fields(&r), [field], "{bad}");
    }
}

#[tokio::test]
async fn an_unchanged_product_answers_304_to_its_etag() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    let api = Api::new(
        &app,
        "alpha",
        &token(&app, "alpha", "s", "products:write,inventory:write").await,
    );
    let created = api.post("/admin/api/v1/products", shirt()).await;
    let id = created.json["product"]["id"].as_str().unwrap().to_owned();
    let variant = created.json["product"]["variants"][0]["id"].clone();
    let path = format!("/admin/api/v1/products/{id}.json");

    let first = api.get(&path).await;
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    let again = api
        .send(
            reqwest::Method::GET,
            &path,
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(again.headers["etag"], HeaderValue::from_str(&etag).unwrap());

    // A stock change alters the representation, so the old tag no longer matches.
    let set = api
        .post(
            "/admin/api/v1/inventory_levels/set.json",
            json!({"location_id": 1, "inventory_item_id": variant, "available": 9}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.json);
    let changed = api
        .send(
            reqwest::Method::GET,
            &path,
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.headers["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401_and_missing_scopes_403() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let read_only = token(&app, "alpha", "reader", "products:read").await;

    let mut api = Api::new(&app, "alpha", &read_only);
    api.token = None;
    let none = api.get("/admin/api/v1/products.json").await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json["error"]["code"], "unauthorized");
    assert!(none.json["errors"].as_str().unwrap().contains("API token"));
    assert!(
        none.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    for garbage in ["sf_not-a-real-token", "hello", "sf_"] {
        api.token = Some(garbage.into());
        assert_eq!(
            api.get("/admin/api/v1/products.json").await.status,
            401,
            "{garbage}"
        );
    }

    // Shopify's header works too.
    api.token = None;
    let shopify = api
        .send(
            reqwest::Method::GET,
            "/admin/api/v1/products.json",
            None,
            &[("x-shopify-access-token", &read_only)],
        )
        .await;
    assert_eq!(shopify.status, 200);

    // Read-only: reading works, writing is refused naming the scope, before the body is read.
    api.token = Some(read_only.clone());
    assert_eq!(
        api.get("/admin/api/v1/products/count.json").await.status,
        200
    );
    let write = api.post("/admin/api/v1/products.json", shirt()).await;
    assert_eq!(write.status, 403);
    assert_eq!(write.json["error"]["required_scope"], "products:write");
    assert!(
        write.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("products:write")
    );
    let inventory = api
        .post("/admin/api/v1/inventory_levels/set.json", json!({}))
        .await;
    assert_eq!(inventory.json["error"]["required_scope"], "inventory:write");

    // The token was used: noted, to the minute.
    let used = count(
        &app,
        "SELECT count(*) FROM platform.api_tokens WHERE last_used_at IS NOT NULL",
    )
    .await;
    assert_eq!(used, 1);

    // Revoked: refused at once.
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM platform.api_tokens WHERE name = 'reader'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    platform::api_tokens::revoke(&mut conn, t.id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(api.get("/admin/api/v1/products.json").await.status, 401);
}

#[tokio::test]
async fn invalid_input_comes_back_as_422_naming_each_field() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    let api = Api::new(
        &app,
        "alpha",
        &token(&app, "alpha", "s", "products:write").await,
    );
    assert_eq!(
        api.post("/admin/api/v1/products.json", shirt())
            .await
            .status,
        201
    );

    let blank = api
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "  "}}),
        )
        .await;
    assert_eq!(blank.status, 422);
    assert_eq!(blank.json["error"]["code"], "validation_failed");
    assert_eq!(fields(&blank), ["title"]);
    assert_eq!(
        blank.json["errors"]["title"],
        json!(["can't be blank"]),
        "Shopify's errors object"
    );

    let bad_price = api
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "Mug", "variants": [{"price": "abc"}]}}),
        )
        .await;
    assert_eq!(bad_price.status, 422);
    assert_eq!(fields(&bad_price), ["variants[0].price"]);
    assert!(
        bad_price.json["errors"]["variants[0].price"][0]
            .as_str()
            .unwrap()
            .contains("\"abc\"")
    );

    // Within the request and against another product.
    let twice = api
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "Cap", "options": ["Size"], "variants": [
                {"option1": "S", "sku": "CAP"}, {"option1": "M", "sku": "CAP"}]}}),
        )
        .await;
    assert_eq!(fields(&twice), ["variants[1].sku"]);
    let taken = api
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "Cap", "variants": [{"sku": "SHIRT-S"}]}}),
        )
        .await;
    assert_eq!(taken.status, 422);
    assert_eq!(fields(&taken), ["variants[0].sku"]);

    // The wrong JSON type is named by its path; broken JSON is a 400 in JSON, never text.
    let wrong_type = api
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "Cap", "variants": [{"grams": "heavy"}]}}),
        )
        .await;
    assert_eq!(wrong_type.status, 422);
    assert_eq!(fields(&wrong_type), ["variants[0].grams"]);
    let broken = api
        .send(
            reqwest::Method::POST,
            "/admin/api/v1/products.json",
            Some("{\"product\": {\"title\": "),
            &[],
        )
        .await;
    assert_eq!(broken.status, 400);
    assert_eq!(broken.json["error"]["code"], "bad_request");
    assert!(
        broken.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    let unwrapped = api
        .post("/admin/api/v1/products.json", json!({"title": "Cap"}))
        .await;
    assert_eq!(unwrapped.status, 422);
    assert!(
        unwrapped.json["errors"]["body"][0]
            .as_str()
            .unwrap()
            .contains("product")
    );

    assert_eq!(count_products(&api).await, 1, "nothing else was created");
}

async fn count_products(api: &Api<'_>) -> i64 {
    api.get("/admin/api/v1/products/count.json").await.json["count"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_plan_limit_is_a_422_naming_products() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    sqlx::query(
        "UPDATE platform.plans SET product_limit = 1 \
         WHERE code = (SELECT plan_code FROM platform.tenants WHERE subdomain = 'alpha')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let api = Api::new(
        &app,
        "alpha",
        &token(&app, "alpha", "s", "products:write").await,
    );
    assert_eq!(
        api.post("/admin/api/v1/products.json", shirt())
            .await
            .status,
        201
    );
    let over = api
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "One more"}}),
        )
        .await;
    assert_eq!(over.status, 422);
    assert_eq!(fields(&over), ["products"]);
    assert!(
        over.json["errors"]["products"][0]
            .as_str()
            .unwrap()
            .contains("at most 1")
    );
}

#[tokio::test]
async fn a_token_of_one_store_never_reaches_another() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    app.create_tenant("beta", "Beta").await;
    let alpha = Api::new(
        &app,
        "alpha",
        &token(&app, "alpha", "a", "products:write").await,
    );
    let beta = Api::new(
        &app,
        "beta",
        &token(&app, "beta", "b", "products:write").await,
    );
    let mine = alpha.post("/admin/api/v1/products.json", shirt()).await;
    assert_eq!(mine.status, 201);
    let theirs = beta
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "Beta secret"}}),
        )
        .await;
    let theirs_id = theirs.json["product"]["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/api/v1/products/{theirs_id}.json");

    assert_eq!(alpha.get(&path).await.status, 404);
    let change = alpha
        .put(&path, json!({"product": {"title": "Hacked"}}))
        .await;
    assert_eq!(change.status, 404);
    assert_eq!(alpha.delete(&path).await.status, 404);
    let listed = alpha.get("/admin/api/v1/products.json").await;
    let titles: Vec<&str> = listed.json["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Blue Cotton Shirt"]);
    assert_eq!(count_products(&alpha).await, 1);

    // Beta's product is untouched.
    let still = beta.get(&path).await;
    assert_eq!(still.json["product"]["title"], "Beta secret");

    // Alpha's token presented on beta's host is unknown there.
    let mut astray = Api::new(&app, "beta", alpha.token.as_deref().unwrap());
    assert_eq!(astray.get(&path).await.status, 401);
    astray.token = beta.token.clone();
    assert_eq!(astray.get(&path).await.status, 200);
}

#[tokio::test]
async fn setting_an_inventory_level_records_an_adjustment() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let api = Api::new(
        &app,
        "alpha",
        &token(
            &app,
            "alpha",
            "stock",
            "products:read,products:write,inventory:write",
        )
        .await,
    );
    let created = api.post("/admin/api/v1/products.json", shirt()).await;
    let variant = created.json["product"]["variants"][0]["inventory_item_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let set = api
        .post(
            "/admin/api/v1/inventory_levels/set.json",
            json!({"location_id": 655441491, "inventory_item_id": variant, "available": 42}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.json);
    let level = &set.json["inventory_level"];
    assert_eq!(level["inventory_item_id"], variant.as_str());
    assert_eq!(level["available"], 42);
    assert_eq!(level["location_id"], 655441491);

    let id = created.json["product"]["id"].as_str().unwrap();
    let read = api.get(&format!("/admin/api/v1/products/{id}.json")).await;
    assert_eq!(
        read.json["product"]["variants"][0]["inventory_quantity"],
        42
    );

    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let history = tenant_store::catalog::inventory::history(&mut tx, variant.parse().unwrap(), 10)
        .await
        .unwrap();
    assert_eq!(
        (
            history[0].delta,
            history[0].quantity_after,
            history[0].actor.as_str()
        ),
        (39, 42, "api:stock")
    );
    tx.commit().await.unwrap();

    let missing = api
        .post(
            "/admin/api/v1/inventory_levels/set.json",
            json!({"inventory_item_id": uuid::Uuid::now_v7(), "available": 1}),
        )
        .await;
    assert_eq!(missing.status, 404);
    let incomplete = api
        .post(
            "/admin/api/v1/inventory_levels/set",
            json!({"inventory_item_id": variant}),
        )
        .await;
    assert_eq!(fields(&incomplete), ["available"]);
}

#[tokio::test]
async fn the_openapi_document_lists_the_product_paths() {
    let app = TestApp::spawn().await;
    app.create_tenant("alpha", "Alpha").await;
    let mut api = Api::new(&app, "alpha", "");
    api.token = None;
    let doc = api.get("/admin/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/admin/api/v1/products",
        "/admin/api/v1/products/{id}",
        "/admin/api/v1/products/count",
        "/admin/api/v1/inventory_levels/set",
    ] {
        assert!(doc.json["paths"][path].is_object(), "{path}");
    }
    assert!(doc.json["paths"]["/admin/api/v1/products"]["post"].is_object());
    assert!(doc.json["components"]["schemas"]["VariantJson"]["properties"]["price"].is_object());
    assert!(doc.json["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_admin_shows_a_new_token_once_and_keeps_only_its_hash() {
    let app = TestApp::spawn().await;
    let hash = platform::accounts::hash_password(PASSWORD).unwrap();
    let new = NewTenant::parse("alpha", "Alpha", "owner@alpha.example", hash).unwrap();
    tenancy::provision(&app.pool, &new).await.unwrap();
    let mut admin = app.browser("alpha.storefront.test");
    let login = admin.get("/admin/login").await;
    let signed = admin
        .post_form(
            "/admin/login",
            &[
                ("_csrf", &login.csrf()),
                ("email", "owner@alpha.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed.status, 303);

    let page = admin.get("/admin/settings/api-tokens").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No tokens yet"));
    let csrf = page.csrf();

    let refused = admin
        .post_form(
            "/admin/settings/api-tokens",
            &[("_csrf", &csrf), ("name", "")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("data-field=\"name\""));
    assert!(refused.body.contains("data-field=\"scopes\""));

    let created = admin
        .post_form(
            "/admin/settings/api-tokens",
            &[
                ("_csrf", &csrf),
                ("name", "Inventory sync"),
                ("scopes", "products:read"),
                ("scopes", "inventory:write"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let marker = "<code data-token>";
    let start = created.body.find(marker).expect("the token is shown") + marker.len();
    let secret = created.body[start..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("sf_"));

    // Stored as a SHA-256 only, with its scopes and creator.
    let (stored, scopes, by): (String, Vec<String>, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT token_hash, scopes, created_by FROM platform.api_tokens")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_ne!(stored, secret);
    assert!(!stored.contains(&secret[3..]));
    let expected: String =
        sqlx::query_scalar("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')")
            .bind(&secret)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, expected);
    assert_eq!(scopes, ["products:read", "inventory:write"]);
    assert!(by.is_some());

    // Listed, but never shown again.
    let again = admin.get("/admin/settings/api-tokens").await;
    assert!(again.body.contains("data-api-token=\"Inventory sync\""));
    assert!(!again.body.contains(&secret));

    let api = Api::new(&app, "alpha", &secret);
    assert_eq!(api.get("/admin/api/v1/products.json").await.status, 200);

    // Revoked from the admin: the token stops working.
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM platform.api_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let revoked = admin
        .post_form(
            &format!("/admin/settings/api-tokens/{id}/revoke"),
            &[("_csrf", &again.csrf())],
        )
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(api.get("/admin/api/v1/products.json").await.status, 401);
    assert!(
        admin
            .get("/admin/settings/api-tokens")
            .await
            .body
            .contains("No tokens yet")
    );
}

#[tokio::test]
async fn stock_never_goes_negative_and_prices_stay_within_what_a_cart_can_sum() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("alpha", "Alpha").await;
    let api = Api::new(
        &app,
        "alpha",
        &token(
            &app,
            "alpha",
            "s",
            "products:read,products:write,inventory:write",
        )
        .await,
    );
    let negative = api
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "Cap", "variants": [
                {"price": "10.00", "inventory_management": "shopify", "inventory_quantity": -5}]}}),
        )
        .await;
    assert_eq!(negative.status, 422, "{}", negative.json);
    assert_eq!(fields(&negative), ["variants[0].inventory_quantity"]);
    let priceless = api
        .post(
            "/admin/api/v1/products.json",
            json!({"product": {"title": "Yacht", "variants": [{"price": "90000000000000.00"}]}}),
        )
        .await;
    assert_eq!(priceless.status, 422, "{}", priceless.json);
    assert_eq!(fields(&priceless), ["variants[0].price"]);
    assert_eq!(count_products(&api).await, 0);

    let created = api.post("/admin/api/v1/products.json", shirt()).await;
    let variant = created.json["product"]["variants"][0]["inventory_item_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let below = api
        .post(
            "/admin/api/v1/inventory_levels/set.json",
            json!({"location_id": 1, "inventory_item_id": variant, "available": -10}),
        )
        .await;
    assert_eq!(below.status, 422, "{}", below.json);
    assert_eq!(fields(&below), ["available"]);

    // Whatever writes it, the database keeps stock at zero or above.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let stock: i32 =
        sqlx::query_scalar("SELECT inventory_quantity FROM variants WHERE id = $1::uuid")
            .bind(&variant)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(stock, 3, "unchanged");
    let refused = sqlx::query("UPDATE variants SET inventory_quantity = -1")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("variants_stock_not_negative"),
        "{refused}"
    );
}
