//! The catalog in the admin, through HTTP: product list, editor, bulk actions.

use storefront_tests::{Browser, Page, TestApp};

const PASSWORD: &str = "owner password 1";

/// A store created with the CLI, and its owner signed in to the admin.
async fn owner<'a>(app: &'a TestApp, sub: &str) -> Browser<'a> {
    let (result, _) = app
        .cli(
            &[
                "tenant",
                "create",
                "--subdomain",
                sub,
                "--name",
                "Alpha Goods",
                "--owner-email",
                &format!("owner@{sub}.example"),
                "--owner-password",
                PASSWORD,
            ],
            "",
        )
        .await;
    result.unwrap();
    sign_in(app, sub, &format!("owner@{sub}.example"), PASSWORD).await
}

async fn sign_in<'a>(app: &'a TestApp, sub: &str, email: &str, password: &str) -> Browser<'a> {
    let mut b = app.browser(&format!("{sub}.storefront.test"));
    let csrf = b.get("/admin/login").await.csrf();
    let page = b
        .post_form(
            "/admin/login",
            &[("_csrf", &csrf), ("email", email), ("password", password)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    b
}

async fn submit(b: &mut Browser<'_>, path: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = b.get("/admin/products/new").await.csrf();
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post_form(path, &all).await
}

const SHIRT: &[(&str, &str)] = &[
    ("title", "Linen Shirt"),
    ("handle", ""),
    ("body", "Light **linen**."),
    ("body_format", "markdown"),
    ("status", "active"),
    ("vendor", "Acme"),
    ("product_type", "Shirts"),
    ("tags", "summer, linen"),
    ("option1", "Size"),
    ("v0_o1", "S"),
    ("v0_sku", "LIN-S"),
    ("v0_price", "49.90"),
    ("v0_track", "on"),
    ("v0_qty", "4"),
    ("v1_o1", "M"),
    ("v1_sku", "LIN-M"),
    ("v1_price", "49.90"),
    ("v1_compare", "59.00"),
    ("v1_track", "on"),
    ("v1_qty", "6"),
    ("v2_o1", ""),
];

#[tokio::test]
async fn a_product_is_created_edited_listed_and_deleted_in_the_admin() {
    let app = TestApp::spawn().await;
    let mut admin = owner(&app, "alpha").await;
    let created = submit(&mut admin, "/admin/products", SHIRT).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let path = created.location.unwrap();

    let editor = admin.get(&path).await;
    assert_eq!(editor.status, 200);
    assert!(editor.body.contains("value=\"linen-shirt\""));
    assert!(editor.body.contains("value=\"49.90\""));
    assert!(editor.body.contains("value=\"59.00\""));
    assert!(
        editor.body.contains("Light **linen**."),
        "the source is edited, not the HTML"
    );

    let list = admin.get("/admin/products?q=lin-m").await;
    assert!(list.body.contains("data-product=\"linen-shirt\""));
    assert!(list.body.contains("10 in stock for 2 variants"));
    assert!(list.body.contains("49.90"));
    assert!(
        !admin
            .get("/admin/products?q=nothing-like-it")
            .await
            .body
            .contains("data-product")
    );
    assert!(
        !admin
            .get("/admin/products?status=draft")
            .await
            .body
            .contains("data-product")
    );

    // Bulk archive, then delete.
    let id = path.trim_start_matches("/admin/products/").to_owned();
    let csrf = list.csrf();
    let bulk = admin
        .post_form(
            "/admin/products/bulk",
            &[("_csrf", &csrf), ("ids", &id), ("action", "archived")],
        )
        .await;
    assert_eq!(bulk.status, 303);
    assert!(
        admin
            .get("/admin/products?status=archived")
            .await
            .body
            .contains("data-product=\"linen-shirt\"")
    );
    let gone = admin
        .post_form(&format!("/admin/products/{id}/delete"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(gone.status, 303);
    assert_eq!(admin.get(&path).await.status, 404);

    let audit: Vec<String> = {
        let t = platform::tenancy::find_by_subdomain(&app.pool, "alpha")
            .await
            .unwrap()
            .unwrap();
        let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
        tenant_store::audit::list(&mut tx, None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| format!("{} {}", e.actor, e.action))
            .collect()
    };
    assert_eq!(
        audit,
        [
            "owner@alpha.example product.delete",
            "owner@alpha.example product.bulk",
            "owner@alpha.example product.create"
        ]
    );
}

#[tokio::test]
async fn editor_errors_stand_by_their_fields_with_the_input_kept() {
    let app = TestApp::spawn().await;
    let mut admin = owner(&app, "alpha").await;
    let mut bad: Vec<(&str, &str)> = SHIRT.to_vec();
    for (k, v) in bad.iter_mut() {
        match *k {
            "title" => *v = "",
            "v1_price" => *v = "abc",
            _ => {}
        }
    }
    let page = submit(&mut admin, "/admin/products", &bad).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"v1_price\">“abc” is not a price"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("value=\"LIN-M\""),
        "typed values are kept"
    );

    let mut bad = SHIRT.to_vec();
    bad[0] = ("title", "");
    let page = submit(&mut admin, "/admin/products", &bad).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"title\">can&#x27;t be blank"),
        "{}",
        page.body
    );

    // A SKU taken by another product is reported on its row.
    assert_eq!(
        submit(&mut admin, "/admin/products", SHIRT).await.status,
        303
    );
    let mut clash = SHIRT.to_vec();
    clash[0] = ("title", "Other Shirt");
    clash[10] = ("v0_sku", "NEW-S");
    let page = submit(&mut admin, "/admin/products", &clash).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"v1_sku\">is already used by another product"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn members_without_the_products_permission_and_other_stores_get_nothing() {
    let app = TestApp::spawn().await;
    let mut admin = owner(&app, "alpha").await;
    let created = submit(&mut admin, "/admin/products", SHIRT).await;
    let path = created.location.unwrap();

    // A staff member with orders only.
    let hash = platform::accounts::hash_password(PASSWORD).unwrap();
    sqlx::query(
        "WITH u AS (INSERT INTO platform.users (id, email, password_hash) VALUES (gen_random_uuid(), 'clerk@alpha.example', $1) RETURNING id) \
         INSERT INTO platform.memberships (user_id, tenant_id, role, permissions) \
         SELECT u.id, t.id, 'staff', '{orders}' FROM u, platform.tenants t WHERE t.subdomain = 'alpha'",
    )
    .bind(hash)
    .execute(&app.pool)
    .await
    .unwrap();
    let mut clerk = sign_in(&app, "alpha", "clerk@alpha.example", PASSWORD).await;
    assert_eq!(clerk.get("/admin/products").await.status, 403);
    assert_eq!(clerk.get(&path).await.status, 403);
    let csrf = clerk.get("/admin").await.csrf();
    let edit = clerk
        .post_form(&path, &[("_csrf", &csrf), ("title", "Hacked")])
        .await;
    assert_eq!(
        edit.status, 403,
        "a staff member without products cannot edit products"
    );

    // Another store's owner cannot see the product by its id.
    let mut other = owner(&app, "bravo").await;
    assert_eq!(other.get(&path).await.status, 404);
    assert!(
        !other
            .get("/admin/products")
            .await
            .body
            .contains("linen-shirt")
    );
}

#[tokio::test]
async fn collections_inventory_dashboard_and_audit_log_work_in_the_admin() {
    let app = TestApp::spawn().await;
    let mut admin = owner(&app, "alpha").await;
    assert_eq!(
        submit(&mut admin, "/admin/products", SHIRT).await.status,
        303
    );

    // A manual collection; an unknown handle is refused by the field.
    let csrf = admin.get("/admin/collections/new").await.csrf();
    let bad = admin
        .post_form(
            "/admin/collections",
            &[
                ("_csrf", &csrf),
                ("title", "Picks"),
                ("kind", "manual"),
                ("sort_order", "manual"),
                ("products", "linen-shirt\nghost"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body
            .contains("data-field=\"products\">no product has the handle “ghost”"),
        "{}",
        bad.body
    );
    let ok = admin
        .post_form(
            "/admin/collections",
            &[
                ("_csrf", &csrf),
                ("title", "Picks"),
                ("kind", "manual"),
                ("sort_order", "manual"),
                ("published", "on"),
                ("products", "linen-shirt"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    // An automatic one by tag.
    let auto = admin
        .post_form(
            "/admin/collections",
            &[
                ("_csrf", &csrf),
                ("title", "Summer"),
                ("kind", "automatic"),
                ("sort_order", "title-asc"),
                ("disjunctive", "all"),
                ("r0_field", "tag"),
                ("r0_relation", "equals"),
                ("r0_value", "Summer"),
            ],
        )
        .await;
    assert_eq!(auto.status, 303, "{}", auto.body);
    let list = admin.get("/admin/collections").await;
    for handle in ["picks", "summer"] {
        let row = &list.body[list
            .body
            .find(&format!("data-collection=\"{handle}\""))
            .unwrap()..];
        assert!(row.contains("<td>1</td>"), "{handle} holds the shirt");
    }

    // Inventory: set M from 6 to 2 (under the threshold of 5), with a reason.
    let inv = admin.get("/admin/inventory?q=LIN-M").await;
    let at = inv.body.find("data-variant=\"").unwrap() + "data-variant=\"".len();
    let variant = inv.body[at..at + 36].to_owned();
    let set = admin
        .post_form(
            &format!("/admin/inventory/{variant}"),
            &[
                ("_csrf", &inv.csrf()),
                ("quantity", "2"),
                ("reason", "damaged in transit"),
            ],
        )
        .await;
    assert_eq!(set.status, 303);
    let history = admin.get(&format!("/admin/inventory/{variant}")).await;
    assert!(history.body.contains("damaged in transit") && history.body.contains("-4"));
    let bad = admin
        .post_form(
            &format!("/admin/inventory/{variant}"),
            &[("_csrf", &inv.csrf()), ("quantity", "lots")],
        )
        .await;
    assert_eq!(bad.status, 422);

    let dashboard = admin.get("/admin").await;
    assert!(dashboard.body.contains("1 product in the catalog"));
    let low = &dashboard.body[dashboard
        .body
        .find("id=\"low-stock\"")
        .expect("a low-stock list")..];
    assert!(
        low.contains("Linen Shirt")
            && low.contains("(LIN-M): 2 left")
            && low.contains("(LIN-S): 4 left")
    );

    let audit = admin.get("/admin/audit").await;
    for action in ["inventory.set", "collection.create", "product.create"] {
        assert!(audit.body.contains(action), "{action}");
    }
}
