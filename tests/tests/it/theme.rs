//! Theme customisation through HTTP: a merchant's version of a storefront template shows on
//! the store (and only that store, on every node), a broken one is refused with its line and
//! changes nothing, the sandbox keeps templates away from the environment and from hanging
//! the store or taking its node's memory, reset restores the default, and only members with
//! `settings` may do it.

use std::time::{Duration, Instant};

use storefront_tests::{Browser, Page, TestApp};
use tenant_store::TenantSchema;

const HOME: &str = "store/home.html";

/// A home page a merchant might write: the default frame with their own content.
fn home_with(marker: &str) -> String {
    format!(
        "{{% extends \"store/base.html\" %}}\n{{% block content %}}\n<h1 class=\"custom\">{marker}</h1>\n<p>{{{{ shop.store.name }}}}</p>\n{{% endblock content %}}\n"
    )
}

async fn save(admin: &mut Browser<'_>, name: &str, source: &str) -> Page {
    let csrf = admin
        .get(&format!("/admin/theme/edit?name={name}"))
        .await
        .csrf();
    admin
        .post_form(
            "/admin/theme/edit",
            &[("_csrf", &csrf), ("name", name), ("source", source)],
        )
        .await
}

async fn reset(admin: &mut Browser<'_>, name: &str) -> Page {
    let csrf = admin.get("/admin/theme").await.csrf();
    admin
        .post_form("/admin/theme/reset", &[("_csrf", &csrf), ("name", name)])
        .await
}

async fn home(app: &TestApp, subdomain: &str) -> String {
    let (status, body) = app.get_text(&TestApp::store_host(subdomain), "/").await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Stores a template without the admin's checks, as a row written by an older release or
/// by hand would be: what the storefront's own sandbox must cope with.
async fn store_unchecked(
    app: &TestApp,
    schema: &TenantSchema,
    tenant_id: uuid::Uuid,
    name: &str,
    source: &str,
) {
    let mut tx = tenant_store::begin(&app.pool, schema).await.unwrap();
    tenant_store::theme::save(&mut tx, name, source, "test")
        .await
        .unwrap();
    platform::theme::notify_changed(&mut tx, tenant_id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.state.themes.invalidate(tenant_id).await;
}

/// Polls until `check` holds for the body of `path` (notifications are asynchronous).
async fn eventually(
    app: &TestApp,
    subdomain: &str,
    path: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        let (_, body) = app.get_text(&TestApp::store_host(subdomain), path).await;
        if check(&body) || start.elapsed() > Duration::from_secs(10) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_override_changes_only_its_store_and_reset_restores_the_default() {
    let app = TestApp::spawn().await;
    let (_, mut alpha) = app.store_with_owner("alpha", "Alpha").await;
    let _bravo = app.create_tenant("bravo", "Bravo").await;
    assert!(home(&app, "alpha").await.contains("Shop all products"));

    let saved = save(&mut alpha, HOME, &home_with("Alpha's own welcome")).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let list = alpha.get(saved.location.as_deref().unwrap()).await;
    assert!(list.body.contains("Saved store/home.html"), "{}", list.body);
    assert!(list.body.contains("Customised"), "{}", list.body);

    let page = home(&app, "alpha").await;
    assert!(
        page.contains("<h1 class=\"custom\">Alpha's own welcome</h1>"),
        "{page}"
    );
    assert!(
        page.contains("<p>Alpha</p>"),
        "the store's data renders: {page}"
    );
    assert!(
        page.contains("Skip to content"),
        "the default frame still wraps it"
    );
    assert!(!page.contains("Shop all products"));

    let other = home(&app, "bravo").await;
    assert!(!other.contains("Alpha's own welcome"));
    assert!(
        other.contains("Shop all products"),
        "Bravo keeps the default theme"
    );

    let edit = alpha.get("/admin/theme/edit?name=store/home.html").await;
    assert!(
        edit.body.contains("Alpha&#x27;s own welcome"),
        "the editor shows the saved version"
    );
    let audit = alpha.get("/admin/audit").await;
    assert!(audit.body.contains("theme.update"), "{}", audit.body);

    let done = reset(&mut alpha, HOME).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = home(&app, "alpha").await;
    assert!(page.contains("Shop all products"), "{page}");
    assert!(!page.contains("Alpha's own welcome"));
    let edit = alpha.get("/admin/theme/edit?name=store/home.html").await;
    assert!(
        edit.body.contains("Shop all products"),
        "the editor shows the default again"
    );
    assert!(alpha.get("/admin/audit").await.body.contains("theme.reset"));
}

#[tokio::test]
async fn a_syntax_error_is_refused_with_its_line_and_the_store_keeps_its_version() {
    let app = TestApp::spawn().await;
    let (_, mut alpha) = app.store_with_owner("alpha", "Alpha").await;
    assert_eq!(
        save(&mut alpha, HOME, &home_with("Version one"))
            .await
            .status,
        303
    );

    let broken = "{% extends \"store/base.html\" %}\n{% block content %}\n<p>Version two</p>\n{% if %}\n{% endblock content %}\n";
    let refused = save(&mut alpha, HOME, broken).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("Not saved: line 4"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("&lt;p&gt;Version two&lt;&#x2F;p&gt;")
            || refused.body.contains("&lt;p&gt;Version two&lt;/p&gt;"),
        "the merchant's text is kept: {}",
        refused.body
    );

    let page = home(&app, "alpha").await;
    assert!(page.contains("Version one"), "{page}");
    assert!(!page.contains("Version two"));
    let edit = alpha.get("/admin/theme/edit?name=store/home.html").await;
    assert!(edit.body.contains("Version one") && !edit.body.contains("Version two"));

    // A template that parses but fails on a real page (an unknown variable) is refused too.
    let failing = "{% extends \"store/base.html\" %}{% block content %}{{ no_such_thing.title }}{% endblock content %}";
    let refused = save(&mut alpha, HOME, failing).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("no_such_thing"), "{}", refused.body);
    assert!(home(&app, "alpha").await.contains("Version one"));
}

#[tokio::test]
async fn templates_reach_neither_the_environment_nor_other_templates() {
    let app = TestApp::spawn().await;
    let (tenant, mut alpha) = app.store_with_owner("alpha", "Alpha").await;
    // Every process has a PATH; the template must not be able to show it.
    let secret = std::env::var("PATH").expect("PATH is set");
    let reads_env = "{% extends \"store/base.html\" %}{% block content %}[{{ get_env(name=\"PATH\", default=\"none\") }}]{% endblock content %}";
    let refused = save(&mut alpha, HOME, reads_env).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("get_env"), "{}", refused.body);
    assert!(!refused.body.contains(&secret));

    for source in [
        "{% extends \"admin/layout.html\" %}",
        "{% include \"email/welcome/body.html\" %}",
        "{% include \"/etc/passwd\" %}",
        "{% import \"macros/forms.html\" as forms %}",
    ] {
        let refused = save(&mut alpha, HOME, source).await;
        assert_eq!(refused.status, 422, "{source}: {}", refused.body);
    }
    assert!(home(&app, "alpha").await.contains("Shop all products"));

    // Even saved past the admin's checks, the storefront's sandbox cannot read it.
    store_unchecked(&app, &tenant.schema, tenant.id, HOME, reads_env).await;
    let page = home(&app, "alpha").await;
    assert!(!page.contains(&secret), "{page}");
    assert!(
        page.contains("Shop all products"),
        "the default serves instead: {page}"
    );
    let list = eventually_admin(&mut alpha, |b| b.contains("get_env")).await;
    assert!(
        list.contains("get_env() is not available"),
        "the error shows in the admin: {list}"
    );
}

async fn eventually_admin(admin: &mut Browser<'_>, check: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let body = admin.get("/admin/theme").await.body;
        if check(&body) || start.elapsed() > Duration::from_secs(10) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_runaway_template_does_not_hang_the_store() {
    let app = TestApp::spawn().await;
    let (tenant, mut alpha) = app.store_with_owner("alpha", "Alpha").await;

    let huge = "{% extends \"store/base.html\" %}{% block content %}{% for i in range(end=100000000) %}{{ i }}{% endfor %}{% endblock content %}";
    let refused = save(&mut alpha, HOME, huge).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("at most 10000"), "{}", refused.body);

    let slow = "{% extends \"store/base.html\" %}{% block content %}{% for i in range(end=10000) %}{% for j in range(end=10000) %}{% for k in range(end=10000) %}x{% endfor %}{% endfor %}{% endfor %}{% endblock content %}";
    let refused = save(&mut alpha, HOME, slow).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("took longer than"),
        "{}",
        refused.body
    );

    // Saved past the checks, it still cannot hold the store up.
    store_unchecked(&app, &tenant.schema, tenant.id, HOME, slow).await;
    for _ in 0..3 {
        let started = Instant::now();
        let page = home(&app, "alpha").await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        assert!(
            page.contains("Shop all products"),
            "the default serves instead"
        );
    }
    let list = eventually_admin(&mut alpha, |b| b.contains("took longer than")).await;
    assert!(list.contains("took longer than"), "{list}");
}

#[tokio::test]
async fn theme_changes_need_the_settings_permission() {
    let app = TestApp::spawn().await;
    let (_, _owner) = app.store_with_owner("alpha", "Alpha").await;
    let mut clerk = app
        .staff_member("alpha", "clerk@alpha.example.com", &["products"])
        .await;
    assert_eq!(clerk.get("/admin/theme").await.status, 403);
    assert_eq!(
        clerk
            .get("/admin/theme/edit?name=store/home.html")
            .await
            .status,
        403
    );
    let csrf = clerk.get("/admin").await.csrf();
    let source = home_with("Clerk was here");
    let denied = clerk
        .post_form(
            "/admin/theme/edit",
            &[("_csrf", &csrf), ("name", HOME), ("source", &source)],
        )
        .await;
    assert_eq!(denied.status, 403);
    assert!(!home(&app, "alpha").await.contains("Clerk was here"));

    let mut designer = app
        .staff_member("alpha", "designer@alpha.example.com", &["settings"])
        .await;
    assert_eq!(
        save(&mut designer, HOME, &home_with("Designer's home"))
            .await
            .status,
        303
    );
    assert!(home(&app, "alpha").await.contains("Designer's home"));

    // Only the default theme's storefront templates can be overridden.
    for name in [
        "admin/layout.html",
        "store/assets/theme.css",
        "store/nope.html",
    ] {
        let csrf = designer.get("/admin/theme").await.csrf();
        let page = designer
            .post_form(
                "/admin/theme/edit",
                &[("_csrf", &csrf), ("name", name), ("source", "x")],
            )
            .await;
        assert_eq!(page.status, 404, "{name}");
    }
}

#[tokio::test]
async fn every_node_sees_a_change() {
    let app = TestApp::spawn().await;
    let (_, mut alpha) = app.store_with_owner("alpha", "Alpha").await;
    let other = TestApp::spawn_node(app.db.clone()).await;
    // The other node has the store's (default) theme cached.
    assert!(home(&other, "alpha").await.contains("Shop all products"));

    assert_eq!(
        save(&mut alpha, HOME, &home_with("Seen everywhere"))
            .await
            .status,
        303
    );
    let page = eventually(&other, "alpha", "/", |b| b.contains("Seen everywhere")).await;
    assert!(page.contains("Seen everywhere"), "{page}");

    assert_eq!(reset(&mut alpha, HOME).await.status, 303);
    let page = eventually(&other, "alpha", "/", |b| !b.contains("Seen everywhere")).await;
    assert!(page.contains("Shop all products"), "{page}");
}

/// The override: three lines that double a string 24 times (256 MB), which took a
/// node from 294 MB to a 950 MB peak in one page view.
const DOUBLING: &str = "{% set_global s = \"0123456789abcdef\" %}\n{% for i in range(end=24) %}{% set_global s = s ~ s %}{% endfor %}\n{{ s | length }}\n";

/// What a render that outgrows its memory shows in the admin (the test apps keep the
/// default limit).
const OUT_OF_MEMORY: &str = "needed more than 256 MB of memory";

/// A time limit long enough that memory, not time, stops a growing template even in a
/// debug build on a busy machine.
fn patient(settings: &mut platform::config::Settings) {
    settings.theme_render_timeout_ms = 5_000;
}

/// This process's peak resident memory (the app runs inside it), in MB.
fn peak_memory_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM in kB")
        / 1024
}

/// CPU time used so far by each thread and process theme renders may run on, in /proc's
/// ticks (100 a second): this process's threads named `theme-...` (the sandbox's) and the
/// processes it started named `theme...` (render workers). Other tests run in this process
/// at the same time; their threads are not counted.
fn cpu_ticks() -> std::collections::HashMap<String, u64> {
    // `pid (name) state ppid ...`: after the name, utime is the 12th field, stime the 13th.
    let read = |path: std::path::PathBuf| -> Option<(String, u32, u64)> {
        let stat = std::fs::read_to_string(path).ok()?;
        let (head, rest) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1.to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ppid = fields.get(1)?.parse().ok()?;
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some((name, ppid, ticks))
    };
    let mut used = std::collections::HashMap::new();
    for task in std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
    {
        if let Some((name, _, ticks)) = read(task.path().join("stat"))
            && name.starts_with("theme-")
        {
            used.insert(format!("thread {:?} {name}", task.file_name()), ticks);
        }
    }
    let me = std::process::id();
    for process in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let id = process.file_name();
        if id.to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        if let Some((name, ppid, ticks)) = read(process.path().join("stat"))
            && ppid == me
            && name.starts_with("theme")
        {
            used.insert(format!("process {id:?} {name}"), ticks);
        }
    }
    used
}

/// The most CPU time, in seconds, that any one thread or process theme renders may run on
/// uses during `window`.
async fn busiest_cpu_seconds(window: Duration) -> f64 {
    let before = cpu_ticks();
    tokio::time::sleep(window).await;
    let after = cpu_ticks();
    let most = after
        .iter()
        .map(|(id, t)| t.saturating_sub(before.get(id).copied().unwrap_or(*t)))
        .max()
        .unwrap_or(0);
    most as f64 / 100.0
}

#[tokio::test]
async fn overrides_that_grow_without_bound_are_refused_and_ordinary_ones_are_not() {
    let app = TestApp::spawn_with(patient).await;
    let (_, mut alpha) = app.store_with_owner("alpha", "Alpha").await;

    // The shipped templates themselves, and a merchant's edit that joins text with `~`.
    for name in platform::theme::template_names() {
        let source = platform::theme::default_source(&name).unwrap();
        let saved = save(&mut alpha, &name, &source).await;
        assert_eq!(saved.status, 303, "{name}: {}", saved.body);
    }
    let edit = "{% extends \"store/base.html\" %}{% block content %}{% set greeting = \"Welcome to \" ~ shop.store.name %}<h1 class=\"custom\">{{ greeting ~ \"!\" }}</h1>{% for card in newest %}<p>{{ card.title ~ \" from \" ~ card.vendor ~ \", \" ~ card.price }}</p>{% endfor %}{% endblock content %}";
    assert_eq!(save(&mut alpha, HOME, edit).await.status, 303);
    assert!(
        home(&app, "alpha")
            .await
            .contains("<h1 class=\"custom\">Welcome to Alpha!</h1>")
    );

    let sixteen = "\"0123456789abcdef\"";
    let doublings =
        |statement: &str| format!("{{% set s = {sixteen} %}}\n{}", statement.repeat(24));
    let a512 = "0123456789abcdef".repeat(32);
    let variants = [
        ("the issue's override", HOME, DOUBLING.to_owned()),
        (
            "ping-pong between two variables",
            HOME,
            format!("{{% set_global a = {sixteen} %}}{{% set_global b = a %}}{{% for i in range(end=12) %}}{{% set_global a = b ~ b %}}{{% set_global b = a ~ a %}}{{% endfor %}}{{{{ b | length }}}}"),
        ),
        (
            "replace() with the string itself",
            HOME,
            "{% set_global s = \"#abcdefghijklmno\" %}{% for i in range(end=24) %}{% set_global s = s | replace(from=\"#\", to=s) %}{% endfor %}{{ s | length }}".to_owned(),
        ),
        (
            "concat() of an array with itself",
            HOME,
            format!("{{% set_global a = [\"{a512}\"] %}}{{% for i in range(end=19) %}}{{% set_global a = a | concat(with=a) %}}{{% endfor %}}{{{{ a | length }}}}"),
        ),
        (
            "join() over a growing array",
            HOME,
            format!("{{% set_global s = {sixteen} %}}{{% set_global parts = [] %}}{{% for i in range(end=24) %}}{{% set_global parts = parts | concat(with=s) %}}{{% set_global s = parts | join(sep=\"\") %}}{{% endfor %}}{{{{ s | length }}}}"),
        ),
        ("set repeated without a loop", HOME, doublings("{% set s = s ~ s %}\n")),
        (
            "a macro's output",
            HOME,
            format!("{{% macro twice(s) %}}{{{{ s }}}}{{{{ s }}}}{{% endmacro twice %}}{{% set_global s = {sixteen} %}}{{% for i in range(end=24) %}}{{% set_global s = self::twice(s=s) %}}{{% endfor %}}{{{{ s | length }}}}"),
        ),
        (
            "an included template",
            "store/_card.html",
            doublings("{% set s = s ~ s %}\n"),
        ),
    ];
    for (what, name, source) in variants {
        let refused = save(&mut alpha, name, &source).await;
        assert_eq!(refused.status, 422, "{what}: {}", refused.body);
        assert!(
            refused.body.contains(OUT_OF_MEMORY),
            "{what}: {}",
            refused.body
        );
    }
    assert!(
        home(&app, "alpha").await.contains("Welcome to Alpha!"),
        "nothing refused was saved"
    );
}

#[tokio::test]
async fn a_stored_override_that_outgrows_its_memory_serves_the_default_and_spares_the_node() {
    let app = TestApp::spawn_with(patient).await;
    let (tenant, mut alpha) = app.store_with_owner("alpha", "Alpha").await;
    let _bravo = app.create_tenant("bravo", "Bravo").await;
    store_unchecked(&app, &tenant.schema, tenant.id, HOME, DOUBLING).await;
    let peak_before = peak_memory_mb();

    let page = home(&app, "alpha").await;
    assert!(
        page.contains("Shop all products"),
        "the default serves instead: {page}"
    );
    assert!(!page.contains("268435456"), "{page}");
    let list = eventually_admin(&mut alpha, |b| b.contains(OUT_OF_MEMORY)).await;
    assert!(list.contains(OUT_OF_MEMORY), "{list}");
    assert!(home(&app, "alpha").await.contains("Shop all products"));
    assert!(home(&app, "bravo").await.contains("Shop all products"));

    let grown = peak_memory_mb().saturating_sub(peak_before);
    assert!(
        grown < 200,
        "the node's peak memory grew by {grown} MB for one store's page"
    );
}

#[tokio::test]
async fn a_large_value_appended_in_nested_loops_is_refused_and_stops_at_the_time_limit() {
    let app = TestApp::spawn().await;
    let (tenant, mut alpha) = app.store_with_owner("alpha", "Alpha").await;
    let paragraph = "<p>Hand-woven from organic linen, washed for softness.</p>\n";
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    tenant_store::catalog::create_product(
        &mut tx,
        tenant_store::catalog::ProductInput {
            title: "Linen throw".into(),
            body: paragraph.repeat(64 * 1024 / paragraph.len()),
            status: Some(tenant_store::catalog::Status::Active),
            variants: vec![tenant_store::catalog::VariantInput {
                sku: "THROW".into(),
                price_minor: 4_900,
                ..Default::default()
            }],
            ..Default::default()
        },
        "test",
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Each range() is bounded; nested, they append the description 100 million times.
    let appending = "{% extends \"store/base.html\" %}{% block content %}{% set_global s = \"\" %}{% for i in range(end=10000) %}{% for j in range(end=10000) %}{% set_global s = s ~ product.body_html %}{% endfor %}{% endfor %}{{ s | length }}{% endblock content %}";
    let refused = save(&mut alpha, "store/product.html", appending).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("took longer than"),
        "{}",
        refused.body
    );

    store_unchecked(
        &app,
        &tenant.schema,
        tenant.id,
        "store/product.html",
        appending,
    )
    .await;
    let (status, page) = app
        .get_text(&TestApp::store_host("alpha"), "/products/linen-throw")
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Add to cart") && page.contains("Hand-woven from organic linen"),
        "the default serves instead: {page}"
    );
    let list = eventually_admin(&mut alpha, |b| b.contains("took longer than")).await;
    assert!(list.contains("took longer than"), "{list}");

    // Nothing keeps working on the page that was served without it. (A render that ran
    // on would use most of a CPU; another test's render, a fraction of a second.)
    let busiest = busiest_cpu_seconds(Duration::from_secs(3)).await;
    assert!(
        busiest < 1.0,
        "a theme thread or worker used {busiest} s of CPU in 3 s after its render was given up"
    );
}

#[tokio::test]
async fn a_stored_override_nested_past_the_limit_is_not_parsed() {
    let app = TestApp::spawn().await;
    let (tenant, mut alpha) = app.store_with_owner("alpha", "Alpha").await;
    let deep = format!(
        "{{% extends \"store/base.html\" %}}{{% block content %}}{}<h1>Deep welcome</h1>{}{{% endblock content %}}",
        "{% if true %}".repeat(100),
        "{% endif %}".repeat(100)
    );
    let refused = save(&mut alpha, HOME, &deep).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("nests too deeply"),
        "{}",
        refused.body
    );

    store_unchecked(&app, &tenant.schema, tenant.id, HOME, &deep).await;
    let page = home(&app, "alpha").await;
    assert!(
        page.contains("Shop all products") && !page.contains("Deep welcome"),
        "the default serves instead: {page}"
    );
    let list = eventually_admin(&mut alpha, |b| b.contains("nests too deeply")).await;
    assert!(list.contains("nests too deeply"), "{list}");
}
