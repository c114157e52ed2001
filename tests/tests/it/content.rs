//! Pages, blog posts and menus: the admin through HTTP, and the reads the storefront makes
//! through real tenant transactions.

use platform::tenancy::Tenant;
use storefront_tests::{Browser, Page, TestApp};
use tenant_store::catalog::BodyFormat;
use tenant_store::content::{self, Found, PageInput, blog, menus, pages};

async fn begin(app: &TestApp, t: &Tenant) -> tenant_store::TenantTx {
    tenant_store::begin(&app.pool, &t.schema).await.unwrap()
}

/// Posts a form with the CSRF token of the page at `form_page`.
async fn submit(b: &mut Browser<'_>, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = b.get(form_page).await.csrf();
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post_form(path, &all).await
}

/// The events the store's outbox holds, oldest first.
async fn events(app: &TestApp, t: &Tenant) -> Vec<String> {
    let mut tx = begin(app, t).await;
    sqlx::query_scalar("SELECT topic FROM outbox ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

const ABOUT: &[(&str, &str)] = &[
    ("title", "About us"),
    ("handle", ""),
    ("body", "We make **mugs**.\n\n<script>alert(1)</script>"),
    ("body_format", "markdown"),
    ("published", "on"),
    ("seo_title", "About Alpha"),
    ("seo_description", "Who we are"),
];

#[tokio::test]
async fn a_page_is_created_edited_renamed_and_deleted_in_the_admin() {
    let app = TestApp::spawn().await;
    let (tenant, mut admin) = app.store_with_owner("alpha", "Alpha").await;

    let created = submit(&mut admin, "/admin/pages/new", "/admin/pages", ABOUT).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let path = created.location.unwrap();
    let editor = admin.get(&path).await;
    assert_eq!(editor.status, 200);
    assert!(
        editor.body.contains("value=\"about-us\""),
        "handle from the title"
    );
    assert!(
        editor.body.contains("We make **mugs**."),
        "the Markdown source is edited, not the HTML"
    );
    assert!(editor.body.contains("/pages/about-us"));
    assert!(!editor.body.contains("was not saved"), "no error banner");
    let list = admin.get("/admin/pages").await;
    let row = &list.body[list.body.find("data-page=\"about-us\"").unwrap()..];
    assert!(row.contains("About us") && row.contains("Published"));

    // What the storefront reads: rendered, sanitized HTML.
    {
        let mut tx = begin(&app, &tenant).await;
        let Found::Item(page) = pages::find_published_page(&mut tx, "about-us")
            .await
            .unwrap()
        else {
            panic!("the page is found by its handle")
        };
        assert!(page.body_html.contains("<strong>mugs</strong>"));
        assert!(!page.body_html.contains("script"));
        assert_eq!(page.seo_title, "About Alpha");
    }

    // Rename the handle: the old one leads to the new one.
    let mut renamed = ABOUT.to_vec();
    renamed[1] = ("handle", "our-story");
    let saved = submit(&mut admin, &path, &path, &renamed).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(admin.get(&path).await.body.contains("value=\"our-story\""));
    {
        let mut tx = begin(&app, &tenant).await;
        match pages::find_published_page(&mut tx, "about-us")
            .await
            .unwrap()
        {
            Found::MovedTo(h) => assert_eq!(h, "our-story"),
            Found::Item(_) => panic!("the old handle redirects"),
        }
        assert!(matches!(
            pages::find_published_page(&mut tx, "our-story").await,
            Ok(Found::Item(_))
        ));
    }

    // Hidden: shoppers no longer find it under either handle.
    let mut hidden = renamed.clone();
    hidden.retain(|(k, _)| *k != "published");
    assert_eq!(submit(&mut admin, &path, &path, &hidden).await.status, 303);
    assert!(admin.get("/admin/pages").await.body.contains("Hidden"));
    {
        let mut tx = begin(&app, &tenant).await;
        for handle in ["our-story", "about-us"] {
            assert!(matches!(
                pages::find_published_page(&mut tx, handle).await,
                Err(tenant_store::StoreError::NotFound)
            ));
        }
    }

    let gone = submit(&mut admin, &path, &format!("{path}/delete"), &[]).await;
    assert_eq!(gone.status, 303);
    assert_eq!(admin.get(&path).await.status, 404);
    assert!(!admin.get("/admin/pages").await.body.contains("our-story"));

    assert_eq!(
        events(&app, &tenant).await,
        [
            "page.created",
            "page.updated",
            "page.updated",
            "page.deleted"
        ]
    );
    let audit = admin.get("/admin/audit").await;
    for action in ["page.create", "page.update", "page.delete"] {
        assert!(audit.body.contains(action), "{action}");
    }
}

#[tokio::test]
async fn page_errors_stand_by_their_fields_with_the_input_kept_and_nothing_saved() {
    let app = TestApp::spawn().await;
    let (tenant, mut admin) = app.store_with_owner("alpha", "Alpha").await;
    let mut bad = ABOUT.to_vec();
    bad[0] = ("title", "");
    bad[1] = ("handle", "Not a handle!");
    let page = submit(&mut admin, "/admin/pages/new", "/admin/pages", &bad).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"title\">can&#x27;t be blank"),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-field=\"handle\">may contain only"));
    assert!(page.body.contains("We make **mugs**."), "the body is kept");
    assert!(
        page.body.contains("value=\"About Alpha\""),
        "SEO title kept"
    );
    assert!(page.body.contains("value=\"Not a handle!\""), "handle kept");

    // A handle another page has.
    assert_eq!(
        submit(&mut admin, "/admin/pages/new", "/admin/pages", ABOUT)
            .await
            .status,
        303
    );
    let mut clash = ABOUT.to_vec();
    clash[0] = ("title", "Other");
    clash[1] = ("handle", "about-us");
    let page = submit(&mut admin, "/admin/pages/new", "/admin/pages", &clash).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"handle\">is already used by another page"),
        "{}",
        page.body
    );
    assert_eq!(events(&app, &tenant).await, ["page.created"]);
}

#[tokio::test]
async fn a_blog_post_is_written_scheduled_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let (tenant, mut admin) = app.store_with_owner("alpha", "Alpha").await;
    let new = "/admin/blogs/news/articles/new";
    let form = admin.get(new).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("value=\"Alpha\""),
        "author defaults to the store"
    );

    let post = [
        ("title", "Hello world"),
        ("handle", ""),
        ("author", "Ada"),
        ("body", "First *post*."),
        ("body_format", "markdown"),
        ("summary", "<p>Short</p><img src=x onerror=alert(1)>"),
        ("tags", "news, News, launch"),
        ("image_url", "https://cdn.example/hello.jpg"),
        ("published", "on"),
        ("published_at", "2026-01-02T09:30"),
    ];
    let created = submit(&mut admin, new, "/admin/blogs/news/articles", &post).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let path = created.location.unwrap();
    let editor = admin.get(&path).await;
    assert!(editor.body.contains("value=\"hello-world\""));
    assert!(
        editor.body.contains("value=\"news, launch\""),
        "tags de-duplicated"
    );
    assert!(editor.body.contains("value=\"2026-01-02T09:30\""));
    let list = admin.get("/admin/blogs/news/articles").await;
    assert!(list.body.contains("data-article=\"hello-world\""));
    assert!(list.body.contains("2026-01-02 09:30"));

    // A second post scheduled for the future is not shown yet.
    let mut later = post;
    later[0] = ("title", "Coming soon");
    later[9] = ("published_at", "2999-01-01T00:00");
    assert_eq!(
        submit(&mut admin, new, "/admin/blogs/news/articles", &later)
            .await
            .status,
        303
    );
    {
        let mut tx = begin(&app, &tenant).await;
        let page = blog::find_blog(&mut tx, "news", None, 10).await.unwrap();
        let handles: Vec<&str> = page.articles.iter().map(|a| a.handle.as_str()).collect();
        assert_eq!(handles, ["hello-world"]);
        assert_eq!(page.articles[0].summary_html, "<p>Short</p><img src=\"x\">");
        let Found::Item(a) = blog::find_published_article(&mut tx, "news", "hello-world")
            .await
            .unwrap()
        else {
            panic!("published article found")
        };
        assert_eq!(a.body_html, "<p>First <em>post</em>.</p>\n");
        assert_eq!(
            a.image_url.as_deref(),
            Some("https://cdn.example/hello.jpg")
        );
    }

    // Bad input: every field named, the input kept.
    let mut bad = post;
    bad[0] = ("title", " ");
    bad[7] = ("image_url", "javascript:alert(1)");
    bad[9] = ("published_at", "next tuesday");
    let page = submit(&mut admin, new, "/admin/blogs/news/articles", &bad).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"published_at\">“next tuesday” is not a date")
    );
    assert!(page.body.contains("value=\"next tuesday\""));
    bad[9] = ("published_at", "");
    let page = submit(&mut admin, new, "/admin/blogs/news/articles", &bad).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"title\">can&#x27;t be blank")
    );
    assert!(
        page.body
            .contains("data-field=\"image_url\">must be an http(s) address")
    );
    assert!(page.body.contains("value=\"javascript:alert(1)\""));

    // Rename: the old handle leads to the new one; then delete.
    let mut renamed = post;
    renamed[1] = ("handle", "hello-again");
    assert_eq!(submit(&mut admin, &path, &path, &renamed).await.status, 303);
    {
        let mut tx = begin(&app, &tenant).await;
        match blog::find_published_article(&mut tx, "news", "hello-world")
            .await
            .unwrap()
        {
            Found::MovedTo(h) => assert_eq!(h, "hello-again"),
            Found::Item(_) => panic!("the old handle redirects"),
        }
    }
    assert_eq!(
        submit(&mut admin, &path, &format!("{path}/delete"), &[])
            .await
            .status,
        303
    );
    assert_eq!(admin.get(&path).await.status, 404);
    assert_eq!(admin.get("/admin/blogs/nope/articles").await.status, 404);
    assert_eq!(
        events(&app, &tenant).await,
        [
            "article.created",
            "article.created",
            "article.updated",
            "article.deleted"
        ]
    );
}

#[tokio::test]
async fn menus_link_to_content_and_resolve_to_urls() {
    let app = TestApp::spawn().await;
    let (tenant, mut admin) = app.store_with_owner("alpha", "Alpha").await;
    let list = admin.get("/admin/menus").await;
    for handle in ["main-menu", "footer"] {
        assert!(
            list.body.contains(&format!("data-menu=\"{handle}\"")),
            "{handle}"
        );
    }
    assert_eq!(
        submit(&mut admin, "/admin/pages/new", "/admin/pages", ABOUT)
            .await
            .status,
        303
    );
    let main_id = {
        let mut tx = begin(&app, &tenant).await;
        let menus = menus::list_menus(&mut tx).await.unwrap();
        menus.iter().find(|m| m.handle == "main-menu").unwrap().id
    };
    let path = format!("/admin/menus/{main_id}");
    let editor = admin.get(&path).await;
    assert!(editor.body.contains("value=\"Home\""), "the seeded links");

    // An unknown page and a javascript: URL are refused on their rows, input kept.
    let bad = [
        ("title", "Main menu"),
        ("handle", "main-menu"),
        ("i0_title", "Home"),
        ("i0_kind", "url"),
        ("i0_target", "/"),
        ("i1_title", ""),
        ("i1_kind", "page"),
        ("i1_target", ""),
        ("i2_title", "Ghost"),
        ("i2_kind", "page"),
        ("i2_target", "ghost"),
        ("i3_title", "Evil"),
        ("i3_kind", "url"),
        ("i3_target", "javascript:alert(1)"),
    ];
    let page = submit(&mut admin, &path, &path, &bad).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"i3_target\">must be a path starting with /"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"javascript:alert(1)\""));
    let page = submit(&mut admin, &path, &path, &bad[..11]).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body
            .contains("data-field=\"i2_target\">no page has the handle “ghost”"),
        "{}",
        page.body
    );

    let good = [
        ("title", "Main menu"),
        ("handle", "main-menu"),
        ("i0_title", "Home"),
        ("i0_kind", "url"),
        ("i0_target", "/"),
        ("i1_title", "About"),
        ("i1_kind", "page"),
        ("i1_target", "about-us"),
        ("i2_title", "Our news"),
        ("i2_kind", "blog"),
        ("i2_target", "news"),
        ("i3_title", "Elsewhere"),
        ("i3_kind", "url"),
        ("i3_target", "https://example.com/"),
        ("i3_nested", "on"),
    ];
    let saved = submit(&mut admin, &path, &path, &good).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(
        admin
            .get("/admin/menus")
            .await
            .body
            .contains("<td>main-menu</td><td>4</td>")
    );
    {
        let mut tx = begin(&app, &tenant).await;
        let links = menus::find_menu(&mut tx, "main-menu").await.unwrap().links;
        let top: Vec<(&str, &str)> = links
            .iter()
            .map(|l| (l.title.as_str(), l.url.as_str()))
            .collect();
        assert_eq!(
            top,
            [
                ("Home", "/"),
                ("About", "/pages/about-us"),
                ("Our news", "/blogs/news")
            ]
        );
        assert_eq!(links[2].links[0].url, "https://example.com/");
        // A hidden page drops out of the storefront's menu.
        let about = match pages::find_published_page(&mut tx, "about-us")
            .await
            .unwrap()
        {
            Found::Item(p) => p,
            Found::MovedTo(_) => panic!("current handle"),
        };
        let input = PageInput {
            title: about.title.clone(),
            body: about.body_source.clone(),
            body_format: BodyFormat::Markdown,
            published: false,
            ..PageInput::default()
        };
        pages::update_page(&mut tx, about.id, input).await.unwrap();
        let links = menus::find_menu(&mut tx, "main-menu").await.unwrap().links;
        assert!(links.iter().all(|l| l.title != "About"));
    }
    // The theme's menus cannot be deleted.
    let refused = submit(&mut admin, &path, &format!("{path}/delete"), &[]).await;
    assert_eq!(refused.status, 422);
    assert!(
        events(&app, &tenant)
            .await
            .contains(&"menu.updated".to_owned())
    );
}

#[tokio::test]
async fn staff_without_content_and_other_stores_get_nothing() {
    let app = TestApp::spawn().await;
    let (_, mut owner) = app.store_with_owner("alpha", "Alpha").await;
    let created = submit(&mut owner, "/admin/pages/new", "/admin/pages", ABOUT).await;
    let path = created.location.unwrap();

    let mut clerk = app
        .staff_member("alpha", "clerk@alpha.example", &["products"])
        .await;
    for p in [
        "/admin/pages",
        path.as_str(),
        "/admin/blogs/news/articles",
        "/admin/menus",
    ] {
        assert_eq!(clerk.get(p).await.status, 403, "{p}");
    }
    let csrf = clerk.get("/admin/products").await.csrf();
    let edit = clerk
        .post_form(&path, &[("_csrf", &csrf), ("title", "Hacked")])
        .await;
    assert_eq!(edit.status, 403);
    let mut writer = app
        .staff_member("alpha", "writer@alpha.example", &["content"])
        .await;
    assert_eq!(writer.get(&path).await.status, 200);
    assert!(writer.get(&path).await.body.contains("value=\"About us\""));

    // Another store's owner: the id is unknown there, for reading and for writing.
    let (_, mut other) = app.store_with_owner("bravo", "Bravo").await;
    assert_eq!(other.get(&path).await.status, 404);
    let edit = submit(&mut other, "/admin/pages/new", &path, ABOUT).await;
    assert_eq!(edit.status, 404);
    let delete = submit(
        &mut other,
        "/admin/pages/new",
        &format!("{path}/delete"),
        &[],
    )
    .await;
    assert_eq!(delete.status, 404);
    assert!(owner.get(&path).await.body.contains("value=\"About us\""));

    // Nor are its posts and menus reachable by id from the other store.
    let post = submit(
        &mut owner,
        "/admin/blogs/news/articles/new",
        "/admin/blogs/news/articles",
        &[("title", "Hello"), ("body_format", "html")],
    )
    .await
    .location
    .unwrap();
    assert_eq!(other.get(&post).await.status, 404);
    let menus = owner.get("/admin/menus").await.body;
    let row = "data-menu=\"footer\"><td><a href=\"";
    let at = menus.find(row).unwrap() + row.len();
    let menu = &menus[at..at + "/admin/menus/".len() + 36];
    assert_eq!(owner.get(menu).await.status, 200);
    assert_eq!(other.get(menu).await.status, 404);
    let hijack = submit(&mut other, "/admin/menus/new", menu, &[("title", "Mine")]).await;
    assert_eq!(hijack.status, 404);
}

#[tokio::test]
async fn the_demo_store_has_pages_a_blog_and_menus() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("demo", "Demo").await;
    let mut out = Vec::new();
    platform::demo::seed(&app.pool, &app.state.media, &tenant, 0, false, &mut out)
        .await
        .unwrap();
    let mut tx = begin(&app, &tenant).await;
    for handle in ["about", "shipping-returns", "faq"] {
        assert!(
            matches!(
                pages::find_published_page(&mut tx, handle).await,
                Ok(Found::Item(_))
            ),
            "{handle}"
        );
    }
    assert_eq!(
        blog::find_blog(&mut tx, "news", None, 10)
            .await
            .unwrap()
            .articles
            .len(),
        2
    );
    let main = content::find_menu(&mut tx, "main-menu").await.unwrap();
    let urls: Vec<&str> = main.links.iter().map(|l| l.url.as_str()).collect();
    assert_eq!(
        urls,
        ["/", "/collections/featured", "/blogs/news", "/pages/about"]
    );
    assert_eq!(
        main.links[1].links.len(),
        2,
        "T-shirts and Kitchen under Shop"
    );
    let footer = content::find_menu(&mut tx, "footer").await.unwrap();
    assert!(
        footer
            .links
            .iter()
            .any(|l| l.url == "/pages/shipping-returns")
    );
}
