//! Hostile input at every endpoint: a seeded store (products, a collection, a page, an
//! article, an order, customer accounts on and a customer signed in, discounts, shipping and
//! tax rates, staff, an API token with every scope, an owner and an operator signed in) is
//! sent random hostile strings (NUL, lone surrogates escaped in JSON, right-to-left marks,
//! control characters, megabyte values, huge numbers, empty values, markup) in every form
//! field, JSON body, query string and path parameter of every route, and must never answer
//! 5xx; a request answered 4xx must change nothing (a fingerprint of every row of the
//! store's schema and of the platform schema is compared before and after).
//!
//! The endpoints come from the app's own route table (`platform::router::route_table`,
//! which the router is built from), so a new route is fuzzed without editing this file.
//! Form field names come from the templates' forms, JSON bodies from the OpenAPI document.
//! `FUZZ_SEED=<n>` replays a run (the seed is printed, and quoted by every failure);
//! `FUZZ_ROUNDS=<n>` sets the requests per endpoint (2: one string PostgreSQL cannot store,
//! one of any kind).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use platform::router::{RouteEntry, Site, route_table};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use storefront_tests::{Browser, Page, TestApp};

use crate::fixtures;

// ----- Hostile values ----------------------------------------------------------------------

/// A kind of hostile input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hostile {
    /// A NUL inside a value.
    Nul,
    /// A NUL inside a field name or JSON key.
    NulInName,
    /// A lone UTF-16 surrogate: escaped in JSON, its (invalid) UTF-8 bytes elsewhere.
    LoneSurrogate,
    /// Right-to-left override and marks.
    RtlMarks,
    /// Control characters, an escape sequence, CR LF.
    Controls,
    /// A megabyte (8 KB in an address, which servers cap far below that).
    Megabyte,
    /// A number far past 64 bits.
    HugeNumber,
    /// One below `i64::MIN`.
    NegativeOverflow,
    /// A float past `f64`.
    Exponent,
    /// Nothing at all.
    Empty,
    /// Only whitespace.
    Blank,
    /// Markup and SQL.
    Markup,
    /// Emoji, a combining accent, a BOM and a noncharacter.
    Emoji,
    /// A percent-encoded NUL, encoded again (`%2500`).
    PercentNul,
    /// A value of the wrong shape (`[]`, an object in JSON).
    WrongType,
}

/// Strings PostgreSQL cannot store: every endpoint gets one of these first.
const UNSTORABLE: [Hostile; 3] = [Hostile::Nul, Hostile::NulInName, Hostile::LoneSurrogate];

const EVERY_KIND: [Hostile; 15] = [
    Hostile::Nul,
    Hostile::NulInName,
    Hostile::LoneSurrogate,
    Hostile::RtlMarks,
    Hostile::Controls,
    Hostile::Megabyte,
    Hostile::HugeNumber,
    Hostile::NegativeOverflow,
    Hostile::Exponent,
    Hostile::Empty,
    Hostile::Blank,
    Hostile::Markup,
    Hostile::Emoji,
    Hostile::PercentNul,
    Hostile::WrongType,
];

impl Hostile {
    /// As the bytes of a form value, query parameter or path segment.
    fn bytes(self, in_url: bool) -> Vec<u8> {
        match self {
            Self::Nul => b"fuzz\0value".to_vec(),
            // The name carries the NUL; the value is ordinary.
            Self::NulInName => b"fuzz".to_vec(),
            Self::LoneSurrogate => b"fuzz\xed\xa0\x80".to_vec(),
            Self::RtlMarks => "\u{202e}fuzz\u{200f}\u{200e}\u{61c}".into(),
            Self::Controls => "\u{1}\u{1b}[2J\u{7}\u{7f}\r\n\t\u{85}fuzz".into(),
            Self::Megabyte => vec![b'x'; if in_url { 8 * 1024 } else { 1024 * 1024 }],
            Self::HugeNumber => "99999999999999999999999999999999999999".into(),
            Self::NegativeOverflow => "-9223372036854775809".into(),
            Self::Exponent => "1e309".into(),
            Self::Empty => Vec::new(),
            Self::Blank => " \t ".into(),
            Self::Markup => "<script>alert(1)</script>' OR '1'='1' --".into(),
            Self::Emoji => "👩\u{200d}💻 e\u{301} \u{feff}\u{ffff}".into(),
            Self::PercentNul => "%00".into(),
            Self::WrongType => "[]".into(),
        }
    }

    /// As a raw JSON value.
    fn json(self) -> String {
        match self {
            Self::Nul => r#""fuzz\u0000value""#.into(),
            Self::NulInName => r#""fuzz""#.into(),
            Self::LoneSurrogate => r#""fuzz\ud800""#.into(),
            Self::HugeNumber | Self::NegativeOverflow | Self::Exponent => {
                String::from_utf8(self.bytes(false)).unwrap()
            }
            Self::WrongType => r#"{"fuzz": [[]]}"#.into(),
            other => {
                serde_json::to_string(&String::from_utf8(other.bytes(false)).unwrap()).unwrap()
            }
        }
    }
}

/// A name or key with a NUL in it.
const NUL_NAME: &str = "fuzz\0name";

/// Percent-encodes everything but unreserved characters (for a path segment or a query).
fn percent(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `name=value&...`, each part percent-encoded.
fn urlencoded(pairs: &[(Vec<u8>, Vec<u8>)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

// ----- The seeded store --------------------------------------------------------------------

const STORE: &str = "fuzz";
const CUSTOMER_PASSWORD: &str = "Fuzz customer password 1";
const OPERATOR_PASSWORD: &str = "Fuzz operator password 1";

/// Real values for path parameters, by what they name (`product_id`, `order_token`, ...).
type Ids = BTreeMap<&'static str, Vec<String>>;

struct Seeded<'a> {
    schema: String,
    owner: Browser<'a>,
    operator: Browser<'a>,
    token: String,
    ids: Ids,
}

async fn post_ok(b: &mut Browser<'_>, form: &str, path: &str, fields: &[(&str, &str)]) {
    let csrf = b.get(form).await.csrf();
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let page = b.post_form(path, &all).await;
    assert!(
        page.status == 303 || page.status == 200,
        "seeding {path}: {} {}",
        page.status,
        page.body
    );
}

async fn api_ok(app: &TestApp, host: &str, token: &str, path: &str, body: Value) -> Value {
    let res = reqwest::Client::new()
        .post(format!("http://{}{path}", app.addr))
        .header(reqwest::header::HOST, host)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let json: Value = res.json().await.unwrap();
    assert!(status.is_success(), "seeding {path}: {status} {json}");
    json
}

async fn seed_store(app: &TestApp) -> Seeded<'_> {
    let host = TestApp::store_host(STORE);
    let (tenant, mut owner) = app.store_with_owner(STORE, "Fuzz Goods").await;
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    sqlx::query("UPDATE settings SET customer_accounts = 'optional'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tee = fixtures::product(app, &tenant, "Fuzz Tee", 2500, 50).await;
    fixtures::product(app, &tenant, "Fuzz Mug", 1200, 50).await;

    // An API token with every scope, from the command line.
    let scopes = platform::api_tokens::Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let (result, out) = app
        .cli(
            &["token", "create", "--tenant", STORE, "--scopes", &scopes],
            "",
        )
        .await;
    result.expect("token create");
    let token = out.lines().last().unwrap().to_owned();

    // Content through the API.
    api_ok(
        app,
        &host,
        &token,
        "/admin/api/v1/pages.json",
        json!({"page": {"title": "About Fuzz", "body_html": "<p>Hello</p>", "published": true}}),
    )
    .await;
    let blogs = reqwest::Client::new()
        .get(format!("http://{}/admin/api/v1/blogs.json", app.addr))
        .header(reqwest::header::HOST, &host)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let blog_id = blogs["blogs"][0]["id"].as_str().unwrap().to_owned();
    api_ok(
        app,
        &host,
        &token,
        &format!("/admin/api/v1/blogs/{blog_id}/articles.json"),
        json!({"article": {"title": "Fuzz News", "body_html": "<p>News</p>", "published": true}}),
    )
    .await;

    // An order (before any shipping rate, which it would then need).
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    tenant_store::orders::place_order(&mut tx, &fixtures::order(&[(tee.variant, 1)], "fuzz-1"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // The admin's own records, through its forms.
    post_ok(
        &mut owner,
        "/admin/collections/new",
        "/admin/collections",
        &[
            ("title", "Fuzz Picks"),
            ("kind", "manual"),
            ("sort_order", "manual"),
            ("published", "on"),
            ("products", &tee.handle),
        ],
    )
    .await;
    post_ok(
        &mut owner,
        "/admin/settings/shipping/new",
        "/admin/settings/shipping",
        &[
            ("name", "Standard"),
            ("countries", "us, de"),
            ("position", "1"),
            ("kind", "flat"),
            ("price", "4.95"),
        ],
    )
    .await;
    post_ok(
        &mut owner,
        "/admin/settings/taxes",
        "/admin/settings/taxes",
        &[
            ("country", "de"),
            ("region", ""),
            ("name", "VAT"),
            ("rate", "19"),
        ],
    )
    .await;
    post_ok(
        &mut owner,
        "/admin/discounts/new",
        "/admin/discounts",
        &[("code", "FUZZ10"), ("kind", "percentage"), ("value", "10")],
    )
    .await;
    post_ok(
        &mut owner,
        "/admin/search/synonyms",
        "/admin/search/synonyms",
        &[("terms", "tee, shirt")],
    )
    .await;
    post_ok(
        &mut owner,
        "/admin/staff",
        "/admin/staff/invitations",
        &[("email", "invited@fuzz.example"), ("role", "admin")],
    )
    .await;
    app.staff_member(STORE, "staff@fuzz.example", &["products"])
        .await;

    // A shopper's message, and an order.
    let mut shopper = app.browser(&host);
    let sent = shopper
        .post_form(
            "/contact",
            &[
                ("name", "Ada"),
                ("email", "ada@example.com"),
                ("body", "Hello"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);

    // The owner's session is also a signed-in customer's, with an address.
    post_ok(
        &mut owner,
        "/account/register",
        "/account/register",
        &[
            ("first_name", "Fuzz"),
            ("last_name", "Customer"),
            ("email", "customer@fuzz.example"),
            ("password", CUSTOMER_PASSWORD),
        ],
    )
    .await;
    post_ok(
        &mut owner,
        "/account/addresses",
        "/account/addresses",
        &[
            ("first_name", "Fuzz"),
            ("last_name", "Customer"),
            ("address1", "1 Main St"),
            ("city", "Springfield"),
            ("province", "IL"),
            ("zip", "62701"),
            ("country", "US"),
        ],
    )
    .await;

    // An operator on the platform host.
    let (result, out) = app
        .cli(
            &[
                "operator",
                "create",
                "--email",
                "ops@fuzz.example",
                "--password",
                OPERATOR_PASSWORD,
            ],
            "",
        )
        .await;
    result.unwrap_or_else(|e| panic!("operator create: {e:#} {out}"));
    let mut operator = app.browser(storefront_tests::PLATFORM_DOMAIN);
    post_ok(
        &mut operator,
        "/operator/login",
        "/operator/login",
        &[
            ("email", "ops@fuzz.example"),
            ("password", OPERATOR_PASSWORD),
        ],
    )
    .await;

    let ids = collect_ids(app, &tenant).await;
    Seeded {
        schema: tenant.schema.to_string(),
        owner,
        operator,
        token,
        ids,
    }
}

/// The seeded store's ids and handles, by what path parameters name.
async fn collect_ids(app: &TestApp, tenant: &platform::tenancy::Tenant) -> Ids {
    let mut tx = tenant_store::begin(&app.pool, &tenant.schema)
        .await
        .unwrap();
    let mut ids = Ids::new();
    let tenant_queries: [(&'static str, &str); 20] = [
        ("product_id", "SELECT id::text FROM products"),
        ("product_handle", "SELECT handle FROM products"),
        ("variant_id", "SELECT id::text FROM variants"),
        ("collection_id", "SELECT id::text FROM collections"),
        ("collection_handle", "SELECT handle FROM collections"),
        ("page_id", "SELECT id::text FROM pages"),
        ("page_handle", "SELECT handle FROM pages"),
        ("article_id", "SELECT id::text FROM articles"),
        ("article_handle", "SELECT handle FROM articles"),
        ("blog_id", "SELECT id::text FROM blogs"),
        ("blog_handle", "SELECT handle FROM blogs"),
        ("menu_id", "SELECT id::text FROM menus"),
        ("synonym_id", "SELECT id::text FROM search_synonyms"),
        ("enquiry_id", "SELECT id::text FROM enquiries"),
        ("order_id", "SELECT id::text FROM orders"),
        ("order_token", "SELECT token FROM orders"),
        ("customer_id", "SELECT id::text FROM customers"),
        ("address_id", "SELECT id::text FROM customer_addresses"),
        ("discount_id", "SELECT id::text FROM discount_codes"),
        ("shipping_id", "SELECT id::text FROM shipping_rates"),
    ];
    for (key, sql) in tenant_queries
        .into_iter()
        .chain([("tax_id", "SELECT id::text FROM tax_rates")])
    {
        let values: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *tx).await.unwrap();
        assert!(!values.is_empty(), "the seeded store has no {key}");
        ids.insert(key, values);
    }
    tx.commit().await.unwrap();
    let platform_queries: [(&'static str, &str); 4] = [
        (
            "invitation_id",
            "SELECT id::text FROM platform.invitations WHERE tenant_id = $1",
        ),
        (
            "api_token_id",
            "SELECT id::text FROM platform.api_tokens WHERE tenant_id = $1",
        ),
        (
            "staff_user_id",
            "SELECT user_id::text FROM platform.memberships WHERE tenant_id = $1 AND role = 'staff'",
        ),
        (
            "tenant_id",
            "SELECT id::text FROM platform.tenants WHERE id = $1",
        ),
    ];
    for (key, sql) in platform_queries {
        let values: Vec<String> = sqlx::query_scalar(sql)
            .bind(tenant.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
        assert!(!values.is_empty(), "the seeded store has no {key}");
        ids.insert(key, values);
    }
    for (key, value) in [
        ("policy_handle", "refund-policy"),
        ("gateway", "test"),
        ("asset", "theme.css"),
        ("media_path", "fuzz/none.jpg"),
    ] {
        ids.insert(key, vec![value.to_owned()]);
    }
    ids
}

/// What the parameter `name` after the segment `prev` names, as a key of [`Ids`]; `None`
/// for one nothing is seeded for (a random id is sent).
fn param_key(prev: &str, name: &str) -> Option<&'static str> {
    Some(match (prev, name) {
        ("products", "handle") => "product_handle",
        ("collections", "handle") | (_, "collection") => "collection_handle",
        ("pages", "handle") => "page_handle",
        ("policies", "handle") => "policy_handle",
        ("{blog}", "handle") => "article_handle",
        (_, "blog") => "blog_handle",
        (_, "blog_id") => "blog_id",
        ("orders", "token") => "order_token",
        (_, "gateway") | ("payments", "name") => "gateway",
        ("assets", "name") => "asset",
        (_, "variant_id") => "variant_id",
        (_, "user_id") => "staff_user_id",
        (_, "*path") => "media_path",
        ("products", "id") => "product_id",
        ("collections" | "custom_collections" | "smart_collections", "id") => "collection_id",
        ("pages", "id") => "page_id",
        ("articles", "id") => "article_id",
        ("menus", "id") => "menu_id",
        ("synonyms", "id") => "synonym_id",
        ("enquiries", "id") => "enquiry_id",
        ("invitations", "id") => "invitation_id",
        ("orders", "id") => "order_id",
        ("customers", "id") => "customer_id",
        ("discounts", "id") => "discount_id",
        ("shipping", "id") => "shipping_id",
        ("taxes", "id") => "tax_id",
        ("api-tokens", "id") => "api_token_id",
        ("addresses", "id") => "address_id",
        ("tenants", "id") => "tenant_id",
        _ => return None,
    })
}

// ----- Field names: the templates' forms and the OpenAPI document --------------------------

/// A `<form>` of the templates: its method, the paths its action can be, its encoding and
/// the names of its fields.
struct TemplateForm {
    method: Method,
    actions: Vec<String>,
    multipart: bool,
    fields: BTreeSet<String>,
    files: BTreeSet<String>,
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

fn attribute<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// Removes `{% ... %}` tags, splitting the text where they were.
fn split_tags(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        parts.push(rest[..start].to_owned());
        rest = rest[start..]
            .find("%}")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    parts.push(rest.to_owned());
    parts
}

/// Replaces each `{{ ... }}` with `with`.
fn fill_expressions(text: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        out.push_str(with);
        rest = rest[start..]
            .find("}}")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

fn template_forms() -> Vec<TemplateForm> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let mut files = Vec::new();
    html_files(&root, &mut files);
    let mut forms = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("<form") {
            let tag_end = at + text[at..].find('>').unwrap();
            let tag = &text[at..tag_end];
            let body_end = text[tag_end..]
                .find("</form>")
                .map_or(text.len(), |e| tag_end + e);
            let body = &text[tag_end..body_end];
            let method = match attribute(tag, "method").map(str::to_ascii_lowercase) {
                Some(m) if m == "post" => Method::POST,
                _ => Method::GET,
            };
            let actions = attribute(tag, "action")
                .map(|a| {
                    split_tags(a)
                        .into_iter()
                        .map(|p| p.split('?').next().unwrap_or("").trim().to_owned())
                        .filter(|p| p.starts_with('/'))
                        .collect()
                })
                .unwrap_or_default();
            // Fields are elements (`<input name="...">`) or form macros
            // (`{{ f::input(name="...", type="file") }}`).
            let mut fields = BTreeSet::new();
            let mut files = BTreeSet::new();
            for (i, _) in body.match_indices("name=\"") {
                if !body[..i].ends_with([' ', '(', ',', '\n']) {
                    continue;
                }
                let start = [body[..i].rfind('<'), body[..i].rfind("{{")]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap_or(0);
                let end = [body[i..].find('>'), body[i..].find("}}")]
                    .into_iter()
                    .flatten()
                    .min()
                    .map_or(body.len(), |e| i + e);
                let element = &body[start..end];
                if element.starts_with("<meta") || element.starts_with("<form") {
                    continue;
                }
                let value = &body[i + 6..];
                let name = fill_expressions(&value[..value.find('"').unwrap_or(0)], "0");
                if element.contains("type=\"file\"") {
                    files.insert(name);
                } else if name != "_csrf" && !name.is_empty() {
                    fields.insert(name);
                }
            }
            forms.push(TemplateForm {
                method,
                multipart: attribute(tag, "enctype") == Some("multipart/form-data"),
                actions,
                fields,
                files,
            });
        }
    }
    assert!(forms.len() > 80, "the templates' forms were not found");
    forms
}

/// Whether a concrete path (with `{{ ... }}` left in) can be the route pattern `pattern`.
fn action_matches(action: &str, pattern: &str) -> bool {
    let a: Vec<&str> = action.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = pattern.split('/').collect();
    if p.last().is_some_and(|s| s.starts_with("{*")) {
        return a.len() >= p.len() - 1 && a.iter().zip(&p[..p.len() - 1]).all(|(a, p)| seg(a, p));
    }
    a.len() == p.len() && a.iter().zip(&p).all(|(a, p)| seg(a, p))
}

fn seg(action: &str, pattern: &str) -> bool {
    if pattern.starts_with('{') {
        !action.is_empty()
    } else {
        action == pattern
    }
}

/// How each endpoint is called: its form fields (or query parameters) and body.
#[derive(Default)]
struct Shape {
    fields: BTreeSet<String>,
    files: BTreeSet<String>,
    multipart: bool,
    /// An example JSON body (Admin API writes).
    json: Option<Value>,
}

/// Query parameters any page might read, for GET routes no form or document describes.
const COMMON_QUERY: [&str; 12] = [
    "q", "page", "sort_by", "after", "before", "variant", "limit", "since_id", "status", "ids",
    "next", "from",
];

/// Form fields to send where no template names them.
const COMMON_FIELDS: [&str; 8] = [
    "title", "name", "email", "body", "quantity", "id", "handle", "password",
];

/// The routes each template form posts to: for each of its actions, the routes of its method
/// that match with the most literal segments (`/admin/products/import` is its own route, not
/// `/admin/products/{id}`).
fn form_routes<'f>(
    table: &[RouteEntry],
    forms: &'f [TemplateForm],
) -> BTreeMap<(Method, &'static str), Vec<&'f TemplateForm>> {
    let mut out: BTreeMap<(Method, &'static str), Vec<&TemplateForm>> = BTreeMap::new();
    for form in forms {
        for action in &form.actions {
            let action = fill_expressions(action, "{{x}}");
            let matching: Vec<&RouteEntry> = table
                .iter()
                .filter(|e| e.method == form.method && action_matches(&action, e.path))
                .collect();
            let literals =
                |e: &RouteEntry| e.path.split('/').filter(|s| !s.starts_with('{')).count();
            let best = matching.iter().map(|e| literals(e)).max();
            for e in matching.iter().filter(|e| Some(literals(e)) == best) {
                out.entry((e.method.clone(), e.path))
                    .or_default()
                    .push(form);
            }
        }
    }
    out
}

fn shape_of(entry: &RouteEntry, forms: &[&TemplateForm], openapi: &Value, ids: &Ids) -> Shape {
    let mut shape = Shape::default();
    for form in forms {
        shape.fields.extend(form.fields.iter().cloned());
        shape.files.extend(form.files.iter().cloned());
        shape.multipart |= form.multipart;
    }
    if entry.path.starts_with("/admin/api/") {
        if let Some(op) = openapi_operation(openapi, entry) {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    shape.fields.insert(p["name"].as_str().unwrap().to_owned());
                }
            }
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if !schema.is_null() {
                shape.json = Some(example(openapi, schema, 0, "", ids));
            }
        }
        if matches!(entry.method, Method::POST | Method::PUT | Method::PATCH)
            && shape.json.is_none()
        {
            shape.json = Some(json!({"fuzz": "value"}));
        }
    }
    if shape.fields.is_empty() {
        let common: &[&str] = if entry.method == Method::GET || entry.method == Method::DELETE {
            &COMMON_QUERY
        } else {
            &COMMON_FIELDS
        };
        shape.fields.extend(common.iter().map(|s| (*s).to_owned()));
    }
    shape
}

/// The OpenAPI operation of an Admin API endpoint (its `.json` twin shares it).
fn openapi_operation<'a>(doc: &'a Value, entry: &RouteEntry) -> Option<&'a Value> {
    let path = entry
        .path
        .strip_suffix(".json")
        .unwrap_or(entry.path)
        .split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>();
    let method = entry.method.as_str().to_ascii_lowercase();
    doc["paths"].as_object()?.iter().find_map(|(p, item)| {
        let p: Vec<&str> = p
            .split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect();
        (p == path).then(|| item.get(&method)).flatten()
    })
}

/// An instance of an OpenAPI schema: every property, one item per array, strings as the
/// benign value of their property's name.
fn example(doc: &Value, schema: &Value, depth: usize, name: &str, ids: &Ids) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(r) = schema["$ref"].as_str() {
        return example(
            doc,
            &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
            depth + 1,
            name,
            ids,
        );
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[key]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["type"] != "null").or_else(|| a.first()))
        {
            let mut merged = example(doc, first, depth + 1, name, ids);
            if key == "allOf" {
                for more in &schema[key].as_array().unwrap()[1..] {
                    if let (Value::Object(m), Value::Object(extra)) =
                        (&mut merged, example(doc, more, depth + 1, name, ids))
                    {
                        m.extend(extra);
                    }
                }
            }
            return merged;
        }
    }
    if let Some(e) = schema.get("example") {
        return e.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match ty {
        "object" => Value::Object(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, s)| (k.clone(), example(doc, s, depth + 1, k, ids)))
                .collect(),
        ),
        "array" => json!([example(doc, &schema["items"], depth + 1, name, ids)]),
        "integer" => json!(1),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!(benign(name, ids)),
    }
}

/// Puts `hostile` somewhere in `doc`: replaces a random leaf, or (for a name) adds a key to
/// a random object. Returns the body as sent.
fn mutate_json(doc: &Value, hostile: Hostile, rng: &mut StdRng) -> String {
    const MARK: &str = "\u{1}fuzz-mark\u{1}";
    let mut doc = doc.clone();
    let mut leaves = Vec::new();
    let mut objects = vec![String::new()];
    fn walk(v: &Value, at: String, leaves: &mut Vec<String>, objects: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if !at.is_empty() {
                    objects.push(at.clone());
                }
                for (k, v) in m {
                    walk(
                        v,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        leaves,
                        objects,
                    );
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{at}/{i}"), leaves, objects);
                }
            }
            _ => leaves.push(at),
        }
    }
    walk(&doc.clone(), String::new(), &mut leaves, &mut objects);
    let marked = format!("\"{}\"", MARK.replace('\u{1}', "\\u0001"));
    if hostile == Hostile::NulInName || leaves.is_empty() {
        let at = objects.choose(rng).unwrap().clone();
        if let Some(Value::Object(m)) = doc.pointer_mut(&at) {
            m.insert(MARK.to_owned(), json!(1));
        } else {
            doc = json!({MARK: 1});
        }
        let text = doc.to_string();
        let key = if hostile == Hostile::NulInName {
            r#""fuzz\u0000name""#.to_owned()
        } else {
            hostile.json()
        };
        // A hostile key must be a string: anything else goes in as the key's value.
        return if key.starts_with('"') {
            text.replacen(&marked, &key, 1)
        } else {
            text.replacen(&format!("{marked}:1"), &format!("\"fuzz\":{key}"), 1)
        };
    }
    let at = leaves.choose(rng).unwrap().clone();
    *doc.pointer_mut(&at).unwrap() = json!(MARK);
    doc.to_string().replacen(&marked, &hostile.json(), 1)
}

// ----- Fingerprints ------------------------------------------------------------------------

/// Bookkeeping a refused request may change, and what changes on its own: these are left out
/// of the fingerprint (`None`: the whole table).
const UNFINGERPRINTED: [(&str, &str, Option<&[&str]>); 7] = [
    // The session of every request: its expiry moves, its CSRF token is made on first use.
    ("platform", "sessions", None),
    // A refused sign-in counts against its limit: that is what the limit is for.
    ("platform", "rate_limits", None),
    // A wrong password (a 422) counts as a failure of that account from that address.
    ("platform", "sign_in_throttle", None),
    // Every call with a token marks it used, answered or refused.
    ("platform", "api_tokens", Some(&["last_used_at"])),
    // The mail worker's delivery of earlier mail.
    (
        "platform",
        "mail_outbox",
        Some(&[
            "attempts",
            "available_at",
            "sent_at",
            "dead_at",
            "last_error",
        ]),
    ),
    // The search worker's progress through earlier events.
    ("tenant", "search_consumers", None),
    (
        "tenant",
        "outbox",
        Some(&["attempts", "available_at", "delivered_at"]),
    ),
];

/// A hash of every row of every table of the store's schema and the platform schema, by
/// table, in one query.
struct Fingerprint {
    sql: String,
    schema: String,
    db: PgPool,
}

impl Fingerprint {
    async fn new(url: &str, schema: &str) -> Self {
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap();
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_schema IN ('platform', $1) AND table_type = 'BASE TABLE' \
             ORDER BY 1, 2",
        )
        .bind(schema)
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(tables.len() > 40, "{} tables", tables.len());
        let parts: Vec<String> = tables
            .iter()
            .filter_map(|(s, t)| {
                let kind = if s == "platform" { "platform" } else { "tenant" };
                let rule = UNFINGERPRINTED
                    .iter()
                    .find(|(k, name, _)| *k == kind && name == t);
                let dropped = match rule {
                    Some((_, _, None)) => return None,
                    Some((_, _, Some(columns))) => format!(
                        " - ARRAY[{}]::text[]",
                        columns
                            .iter()
                            .map(|c| format!("'{c}'"))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    None => String::new(),
                };
                Some(format!(
                    "SELECT '{kind}.{t}' AS t, md5(coalesce(string_agg(r, ',' ORDER BY r), '')) AS h \
                     FROM (SELECT md5((to_jsonb(x){dropped})::text) AS r FROM \"{s}\".\"{t}\" x) rows"
                ))
            })
            .collect();
        Self {
            sql: parts.join(" UNION ALL "),
            schema: schema.to_owned(),
            db,
        }
    }

    /// Waits for work a request started in the background (a product import) to finish,
    /// so it does not change the store during the next request.
    async fn settle(&self) {
        for _ in 0..300 {
            let running: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM \"{}\".import_jobs WHERE status = 'running'",
                self.schema
            ))
            .fetch_one(&self.db)
            .await
            .unwrap();
            if running == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("a product import never finished");
    }

    async fn take(&self) -> BTreeMap<String, String> {
        sqlx::query_as::<_, (String, String)>(&self.sql)
            .fetch_all(&self.db)
            .await
            .unwrap()
            .into_iter()
            .collect()
    }
}

fn changed_tables(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    before
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|t| before.get(*t) != after.get(*t))
        .cloned()
        .collect()
}

// ----- The run -----------------------------------------------------------------------------

/// Where a case puts its hostile value.
#[derive(Clone, Debug)]
enum Target {
    /// The `i`th path parameter.
    Param(usize),
    /// A form field or query parameter.
    Field(String),
    /// Somewhere in the JSON body.
    Json,
}

/// One request to make.
struct Case {
    entry: RouteEntry,
    hostile: Hostile,
    target: Target,
}

/// Requests that remove seeded records go after the others, and those that end the
/// session's or the token's access last, so the others meet the store as seeded.
fn destructive(entry: &RouteEntry) -> u8 {
    let p = entry.path;
    let ends_access = [
        "logout",
        "api-tokens/{id}/revoke",
        "/password",
        "members/{user_id}/remove",
    ];
    if ends_access.iter().any(|w| p.contains(w)) {
        2
    } else if entry.method == Method::DELETE
        || ["delete", "remove", "revoke", "/cancel", "/refund"]
            .iter()
            .any(|w| p.contains(w))
    {
        1
    } else {
        0
    }
}

fn params(path: &str) -> Vec<(usize, &str, &str)> {
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.starts_with('{'))
        .map(|(i, s)| (i, segments[i - 1], s.trim_matches(['{', '}'])))
        .collect()
}

/// A benign value for a field that is not the one under attack.
fn benign(name: &str, ids: &Ids) -> String {
    let n = name.to_ascii_lowercase();
    let first = |key: &str| ids[key][0].clone();
    if n.contains("email") {
        "fuzz@example.com".into()
    } else if n.contains("password") {
        "Fuzz password 12345".into()
    } else if n.contains("price") || n.contains("amount") || n.contains("subtotal") {
        "1.00".into()
    } else if n.ends_with("_at") || n == "from" || n == "to" {
        "2030-01-01T00:00".into()
    } else {
        match n.as_str() {
            "id" | "variant" | "variant_id" => first("variant_id"),
            "product" => first("product_handle"),
            "country" => "US".into(),
            "currency" => "USD".into(),
            "status" => "active".into(),
            "kind" => "flat".into(),
            "role" => "staff".into(),
            "body_format" => "markdown".into(),
            "gateway" => "test".into(),
            "quantity" | "position" | "value" | "rate" | "usage_limit" | "limit" => "1".into(),
            _ => "fuzz".into(),
        }
    }
}

struct Outcome {
    status: u16,
    body: String,
}

async fn send(
    app: &TestApp,
    seeded: &mut Seeded<'_>,
    shapes: &BTreeMap<(Method, &'static str), Shape>,
    case: &Case,
    csrf: &HashMap<Site, String>,
    rng: &mut StdRng,
) -> Outcome {
    let entry = &case.entry;
    let shape = &shapes[&(entry.method.clone(), entry.path)];
    let hostile_name = case.hostile == Hostile::NulInName;

    // The path, parameters filled with the seeded store's values.
    let mut segments: Vec<String> = entry.path.split('/').map(str::to_owned).collect();
    for (n, (i, prev, name)) in params(entry.path).into_iter().enumerate() {
        segments[i] = if matches!(case.target, Target::Param(p) if p == n) {
            percent(&case.hostile.bytes(true))
        } else {
            let value = match param_key(prev, name) {
                Some(key) => ids_choice(&seeded.ids, key, rng),
                None => uuid::Uuid::now_v7().to_string(),
            };
            let json_suffix = entry.path.starts_with("/admin/api/") && rng.gen_bool(0.3);
            let value = if json_suffix && n + 1 == params(entry.path).len() {
                format!("{value}.json")
            } else {
                value
            };
            if name.starts_with('*') {
                value
            } else {
                percent(value.as_bytes())
            }
        };
    }
    let mut url = segments.join("/");

    // Fields: benign, but for the one under attack.
    let is_query = matches!(entry.method, Method::GET | Method::DELETE);
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for field in &shape.fields {
        let under_attack = matches!(&case.target, Target::Field(f) if f == field);
        if is_query && !under_attack && rng.gen_bool(0.7) {
            continue;
        }
        let name = if under_attack && hostile_name {
            NUL_NAME.as_bytes().to_vec()
        } else {
            field.as_bytes().to_vec()
        };
        let value = if under_attack {
            case.hostile.bytes(is_query)
        } else {
            benign(field, &seeded.ids).into_bytes()
        };
        pairs.push((name, value));
    }
    let site_csrf = csrf.get(&entry.site).cloned().unwrap_or_default();
    let api = entry.path.starts_with("/admin/api/");
    if is_query && !pairs.is_empty() {
        url = format!("{url}?{}", urlencoded(&pairs));
    }
    if shape.multipart {
        url = format!("{url}?_csrf={}", percent(site_csrf.as_bytes()));
    }

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut req = client.request(entry.method.clone(), format!("http://{}{url}", app.addr));
    if api {
        req = req.bearer_auth(&seeded.token);
    }
    if !is_query {
        if let Some(doc) = &shape.json {
            let body = match case.target {
                Target::Json => mutate_json(doc, case.hostile, rng),
                _ => doc.to_string(),
            };
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        } else if shape.multipart {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in pairs {
                form = form.text(
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                );
            }
            for file in &shape.files {
                form = form.part(
                    file.clone(),
                    reqwest::multipart::Part::bytes(b"Handle,Title\nfuzz,Fuzz\n".to_vec())
                        .file_name("fuzz.csv"),
                );
            }
            req = req.multipart(form);
        } else {
            pairs.insert(0, (b"_csrf".to_vec(), site_csrf.into_bytes()));
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(urlencoded(&pairs));
        }
    }
    let browser = match entry.site {
        Site::Platform => &mut seeded.operator,
        Site::Any | Site::Store => &mut seeded.owner,
    };
    let page: Page = browser.send(req).await;
    Outcome {
        status: page.status,
        body: page.body,
    }
}

fn ids_choice(ids: &Ids, key: &str, rng: &mut StdRng) -> String {
    ids[key].choose(rng).unwrap().clone()
}

fn cases(
    table: &[RouteEntry],
    shapes: &BTreeMap<(Method, &'static str), Shape>,
    rounds: usize,
    rng: &mut StdRng,
) -> Vec<Case> {
    let mut cases = Vec::new();
    for entry in table {
        let shape = &shapes[&(entry.method.clone(), entry.path)];
        let n_params = params(entry.path).len();
        for round in 0..rounds {
            let hostile = if round == 0 {
                *UNSTORABLE.choose(rng).unwrap()
            } else {
                *EVERY_KIND.choose(rng).unwrap()
            };
            let mut targets: Vec<Target> =
                shape.fields.iter().cloned().map(Target::Field).collect();
            if shape.json.is_some() && !matches!(entry.method, Method::GET | Method::DELETE) {
                targets = vec![Target::Json];
            }
            let target = if n_params > 0 && (targets.is_empty() || rng.gen_bool(0.3)) {
                Target::Param(rng.gen_range(0..n_params))
            } else {
                targets.choose(rng).unwrap().clone()
            };
            cases.push(Case {
                entry: entry.clone(),
                hostile,
                target,
            });
        }
    }
    cases.sort_by_key(|c| destructive(&c.entry));
    cases
}

#[tokio::test]
async fn hostile_input_at_every_endpoint_is_never_a_5xx_and_a_refusal_changes_nothing() {
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let rounds: usize = std::env::var("FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    eprintln!("hostile input: FUZZ_SEED={seed} FUZZ_ROUNDS={rounds}");
    let mut rng = StdRng::seed_from_u64(seed);

    let app = TestApp::spawn().await;
    let mut seeded = seed_store(&app).await;
    let table = route_table(&app.state);

    let openapi: Value = reqwest::Client::new()
        .get(format!("http://{}/admin/api/v1/openapi.json", app.addr))
        .header(reqwest::header::HOST, TestApp::store_host(STORE))
        .bearer_auth(&seeded.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let forms = template_forms();
    let posted_by = form_routes(&table, &forms);
    let shapes: BTreeMap<(Method, &'static str), Shape> = table
        .iter()
        .map(|e| {
            let key = (e.method.clone(), e.path);
            let forms = posted_by.get(&key).map_or(&[][..], Vec::as_slice);
            (key, shape_of(e, forms, &openapi, &seeded.ids))
        })
        .collect();
    let with_form = shapes
        .values()
        .filter(|s| !s.fields.is_empty() || s.json.is_some())
        .count();
    let unseeded: BTreeSet<String> = table
        .iter()
        .flat_map(|e| {
            params(e.path)
                .into_iter()
                .filter(|(_, prev, name)| param_key(prev, name).is_none())
                .map(|(_, prev, name)| format!("{prev}/{{{name}}}"))
        })
        .collect();
    if std::env::var("FUZZ_VERBOSE").is_ok() {
        for ((method, path), shape) in &shapes {
            eprintln!(
                "{method} {path}: {:?}{}{}",
                shape.fields,
                if shape.multipart { " multipart" } else { "" },
                if shape.json.is_some() { " json" } else { "" }
            );
        }
    }
    let cases = cases(&table, &shapes, rounds, &mut rng);
    eprintln!(
        "hostile input: {} endpoints ({with_form} with fields or a body), {} requests; \
         random ids for {unseeded:?}",
        table.len(),
        cases.len()
    );

    let mut csrf = HashMap::new();
    csrf.insert(Site::Store, seeded.owner.get("/admin").await.csrf());
    csrf.insert(Site::Any, csrf[&Site::Store].clone());
    csrf.insert(
        Site::Platform,
        seeded.operator.get("/operator").await.csrf(),
    );

    let fingerprint = Fingerprint::new(&app.db.url, &seeded.schema).await;
    let mut before = fingerprint.take().await;
    let mut failures = Vec::new();
    let mut statuses = BTreeMap::<u16, usize>::new();
    for case in &cases {
        let outcome = send(&app, &mut seeded, &shapes, case, &csrf, &mut rng).await;
        *statuses.entry(outcome.status).or_default() += 1;
        if std::env::var("FUZZ_VERBOSE").is_ok() {
            eprintln!(
                "{} {} {:?} {:?} -> {} {}",
                case.entry.method,
                case.entry.path,
                case.hostile,
                case.target,
                outcome.status,
                outcome
                    .body
                    .chars()
                    .take(160)
                    .collect::<String>()
                    .replace('\n', " ")
            );
        }
        if outcome.status < 400 {
            fingerprint.settle().await;
        }
        let after = fingerprint.take().await;
        let what = format!(
            "{} {} with {:?} in {:?}",
            case.entry.method, case.entry.path, case.hostile, case.target
        );
        if outcome.status >= 500 {
            let body: String = outcome.body.chars().take(300).collect();
            failures.push(format!("{what}: {} {body}", outcome.status));
        } else if outcome.status >= 400 {
            let changed = changed_tables(&before, &after);
            if !changed.is_empty() {
                failures.push(format!(
                    "{what}: {} but changed {changed:?}",
                    outcome.status
                ));
            }
        }
        before = after;
    }
    eprintln!("hostile input: statuses {statuses:?}");
    assert!(
        failures.is_empty(),
        "FUZZ_SEED={seed}: {} of {} requests failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}
