//! Black-box test harness: the real app on a loopback port against a fresh database.
//!
//! Each [`TestApp`] gets its own database on the server named by `DATABASE_URL`, or, when
//! it is unset, on a private cluster under `target/test-pg` (started once and shared by
//! every test process), and drops it afterwards. Tests therefore run in parallel without
//! seeing each other's tenants.

pub mod browser;
pub mod dns;
pub mod proxy;
pub mod smtp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::OnceLock;

use anyhow::Context as _;
use platform::app::{App, AppState};
use platform::cli::{Cli, Console};
use platform::config::Settings;
use platform::embedded_pg::EmbeddedPostgres;
use platform::tenancy::{self, NewTenant, Tenant};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A well-formed argon2 hash for owners whose password no test uses (hashing for real is
/// slow in debug builds and beside the point of most tests).
pub const UNUSED_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";

/// The platform domain every test app serves.
pub const PLATFORM_DOMAIN: &str = "storefront.test";

/// Where test databases are created: `DATABASE_URL`'s server, or the shared private cluster.
fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => embedded_server_url().expect("starting the test PostgreSQL cluster"),
    })
}

/// Starts (or joins) the cluster under `target/test-pg`. A file lock keeps concurrent test
/// processes from initialising it twice; it keeps running for the next test run.
fn embedded_server_url() -> anyhow::Result<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-pg");
    std::fs::create_dir_all(&dir)?;
    let lock_file = std::fs::File::create(dir.join("start.lock"))?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("locking the test cluster: {e}"))?;
    let pg = EmbeddedPostgres::start(&dir)?;
    let socket = pg.socket_dir().display().to_string();
    // The cluster outlives this process on purpose: the next test binary reuses it.
    pg.leave_running();
    Ok(format!(
        "postgres://postgres@localhost/postgres?host={socket}"
    ))
}

/// This package's `theme_worker` binary, which the app under test renders stores' own
/// templates in (a test harness cannot be started as `storefront theme-worker`). Cargo
/// builds it with the integration tests and benchmarks, whose executables live in
/// `target/<profile>/deps/`, one level below it.
pub fn theme_worker() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        exe.ancestors()
            .skip(1)
            .take(2)
            .map(|dir| dir.join(format!("theme_worker{}", std::env::consts::EXE_SUFFIX)))
            .find(|path| path.is_file())
            .expect("the theme_worker binary next to the tests (cargo builds it with them)")
    })
    .clone()
}

/// A database of its own for one test, dropped when this is dropped.
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// A URL for it, as `--database-url` takes.
    pub url: String,
}

impl TestDb {
    /// Creates an empty database.
    pub async fn create() -> Self {
        let name = format!("sf_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(server_url())
            .await
            .expect("connecting to the test PostgreSQL server");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("creating a test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(server_url()).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            name,
            url: url.to_string(),
        }
    }

    /// Connection options as the app uses them (starting in the empty `no_tenant` schema).
    pub fn app_options(&self) -> PgConnectOptions {
        platform::db::app_connect_options(
            PgConnectOptions::from_str(&self.url).expect("test database URL parses"),
        )
    }

    /// A pool like the app's, with at most `max` connections.
    pub async fn pool(&self, max: u32) -> PgPool {
        platform::db::pool_options(max)
            .connect_with(self.app_options())
            .await
            .expect("connecting to the test database")
    }

    /// Where its server listens, for a [`proxy::DbProxy`] to forward to.
    pub fn upstream(&self) -> proxy::Upstream {
        let url = url::Url::parse(&self.url).expect("the test database URL parses");
        match url.query_pairs().find(|(k, _)| k == "host") {
            Some((_, dir)) => proxy::Upstream::Unix(
                PathBuf::from(dir.as_ref())
                    .join(format!(".s.PGSQL.{}", url.port().unwrap_or(5432))),
            ),
            None => proxy::Upstream::Tcp(format!(
                "{}:{}",
                url.host_str().unwrap_or("127.0.0.1"),
                url.port().unwrap_or(5432)
            )),
        }
    }

    /// Its URL with the server at `addr` instead (a proxy's).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let mut url = url::Url::parse(&self.url).expect("the test database URL parses");
        let query: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "host")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url.set_host(Some(&addr.ip().to_string()))
            .expect("an IP host");
        url.set_port(Some(addr.port())).expect("a port");
        url.to_string()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(server_url()).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("warning: could not drop test database {}: {e:#}", self.name);
        }
    }
}

/// The app serving on a loopback port.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The app's state, for reaching into the registry from tests.
    pub state: AppState,
    /// The app's pool.
    pub pool: PgPool,
    /// The database (shared with other nodes started with [`TestApp::spawn_node`]).
    pub db: std::sync::Arc<TestDb>,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    /// A fresh database with the platform schema, and the app serving it.
    pub async fn spawn() -> Self {
        let db = std::sync::Arc::new(TestDb::create().await);
        Self::spawn_node(db).await
    }

    /// Like [`TestApp::spawn`], with settings changed by `configure` first (e.g. a DNS
    /// server for custom-domain checks).
    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let db = std::sync::Arc::new(TestDb::create().await);
        Self::start_node(db, configure).await
    }

    /// Another app node on an existing database (as behind a load balancer).
    pub async fn spawn_node(db: std::sync::Arc<TestDb>) -> Self {
        Self::start_node(db, |_| {}).await
    }

    /// The app on a fresh database that it reaches through a [`proxy::DbProxy`], for
    /// playing the database going away; `configure` changes the settings first.
    pub async fn spawn_behind_proxy(
        configure: impl FnOnce(&mut Settings),
    ) -> (Self, proxy::DbProxy) {
        let db = std::sync::Arc::new(TestDb::create().await);
        let proxy = proxy::DbProxy::start(db.upstream()).await;
        let url = db.url_via(proxy.addr);
        let app = Self::start_node_at(db, &url, configure).await;
        (app, proxy)
    }

    async fn start_node(db: std::sync::Arc<TestDb>, configure: impl FnOnce(&mut Settings)) -> Self {
        let url = db.url.clone();
        Self::start_node_at(db, &url, configure).await
    }

    async fn start_node_at(
        db: std::sync::Arc<TestDb>,
        url: &str,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("a temporary DATA_DIR");
        let mut settings = Settings::for_database(url, data_dir.path().to_path_buf());
        settings.platform_domain = PLATFORM_DOMAIN.into();
        // Cached pages follow a write a moment after it commits (by NOTIFY), and most tests
        // read a page right after writing: the page cache's own tests switch it on.
        settings.page_cache_mb = 0;
        settings.theme_worker_program = Some(theme_worker());
        configure(&mut settings);
        // The pool a node opens with these settings (`Database::open`).
        let pool =
            platform::db::pool_options(platform::db::pool_share(settings.database_max_connections))
                .connect_with(platform::db::app_connect_options(
                    PgConnectOptions::from_str(url).expect("the database URL parses"),
                ))
                .await
                .expect("connecting to the test database");
        platform::db::migrate_platform(&pool)
            .await
            .expect("migrating the platform schema");
        let state = App::build(settings, pool.clone()).expect("building the app");
        let router = platform::router::build(state.clone());
        Self::serve(db, state, pool, router, data_dir).await
    }

    /// The app's middleware around `routes` instead of the real routes: for exercising the
    /// error and panic handling with handlers that misbehave on purpose.
    pub async fn spawn_with_routes(routes: axum::Router) -> Self {
        let db = std::sync::Arc::new(TestDb::create().await);
        let data_dir = tempfile::tempdir().expect("a temporary DATA_DIR");
        let mut settings = Settings::for_database(&db.url, data_dir.path().to_path_buf());
        settings.theme_worker_program = Some(theme_worker());
        let pool = db.pool(2).await;
        let state = App::build(settings, pool.clone()).expect("building the app");
        let router = platform::middleware::stack(state.clone(), routes);
        Self::serve(db, state, pool, router, data_dir).await
    }

    async fn serve(
        db: std::sync::Arc<TestDb>,
        state: AppState,
        pool: PgPool,
        router: axum::Router,
        data_dir: tempfile::TempDir,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await
                .expect("serving");
        });
        Self {
            addr,
            state,
            pool,
            db,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            shutdown: Some(shutdown),
            _data_dir: data_dir,
        }
    }

    /// `<subdomain>.storefront.test`.
    pub fn store_host(subdomain: &str) -> String {
        format!("{subdomain}.{PLATFORM_DOMAIN}")
    }

    /// Creates a store with an owner, as `storefront tenant create` does.
    pub async fn create_tenant(&self, subdomain: &str, name: &str) -> Tenant {
        let new = NewTenant::parse(
            subdomain,
            name,
            &format!("owner@{subdomain}.example.com"),
            UNUSED_PASSWORD_HASH.into(),
        )
        .expect("valid tenant fields");
        tenancy::provision(&self.pool, &new)
            .await
            .expect("provisioning")
            .tenant
    }

    /// `GET path` with the given Host header.
    pub async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("http://{}{path}", self.addr))
            .header(reqwest::header::HOST, host)
            .send()
            .await
            .expect("the app answers")
    }

    /// `GET path` with the given Host header and extra request headers.
    pub async fn get_with(
        &self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .header(reqwest::header::HOST, host);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("the app answers")
    }

    /// `GET path` on a host, returning the status and the body.
    pub async fn get_text(&self, host: &str, path: &str) -> (u16, String) {
        let res = self.get(host, path).await;
        let status = res.status().as_u16();
        (status, res.text().await.expect("a body"))
    }

    /// Runs the `storefront` command line against this app's database; returns its result
    /// and what it printed. `input` is what the user types.
    pub async fn cli(&self, args: &[&str], input: &str) -> (anyhow::Result<()>, String) {
        run_cli(&self.db.url, args, input).await
    }
}

/// Runs the `storefront` command line against `database_url`.
pub async fn run_cli(
    database_url: &str,
    args: &[&str],
    input: &str,
) -> (anyhow::Result<()>, String) {
    let data_dir = tempfile::tempdir().expect("a temporary DATA_DIR");
    let mut argv = vec![
        "storefront".to_owned(),
        "--database-url".to_owned(),
        database_url.to_owned(),
        "--platform-domain".to_owned(),
        PLATFORM_DOMAIN.to_owned(),
        "--data-dir".to_owned(),
        data_dir.path().display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let cli = match <Cli as clap::Parser>::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return (Err(anyhow::anyhow!("{e}")), String::new()),
    };
    let mut out = Vec::<u8>::new();
    let mut input = std::io::Cursor::new(input.as_bytes().to_vec());
    let mut console = Console {
        out: &mut out,
        input: &mut input,
        terminal: false,
    };
    let result = platform::cli::run(cli, &mut console)
        .await
        .context("storefront command");
    (result, String::from_utf8(out).expect("UTF-8 output"))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A browser on one host: keeps that host's session cookie, as a real browser keeps
/// host-only cookies apart.
pub struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    /// The Host header sent.
    pub host: String,
    /// The session cookie, once set.
    pub cookie: Option<String>,
}

/// A response as a test looks at it.
#[derive(Debug)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    /// The `Retry-After` header.
    pub retry_after: Option<String>,
    /// The body.
    pub body: String,
}

impl Page {
    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .expect("the page has a form with a CSRF token")
            + marker.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end].to_owned()
    }
}

/// The password [`TestApp::store_with_owner`] gives the owner.
pub const OWNER_PASSWORD: &str = "owner password 1";

impl TestApp {
    /// Creates a store whose owner (`owner@<subdomain>.example.com`) has
    /// [`OWNER_PASSWORD`], and returns a browser signed in to its admin.
    pub async fn store_with_owner(&self, subdomain: &str, name: &str) -> (Tenant, Browser<'_>) {
        let tenant = self.create_tenant(subdomain, name).await;
        let email = format!("owner@{subdomain}.example.com");
        let hash = platform::accounts::hash_password(OWNER_PASSWORD).expect("hashing");
        sqlx::query("UPDATE platform.users SET password_hash = $1 WHERE email = $2")
            .bind(hash)
            .bind(&email)
            .execute(&self.pool)
            .await
            .expect("setting the owner's password");
        let mut browser = self.browser(&Self::store_host(subdomain));
        let csrf = browser.get("/admin/login").await.csrf();
        let done = browser
            .post_form(
                "/admin/login",
                &[
                    ("_csrf", &csrf),
                    ("email", &email),
                    ("password", OWNER_PASSWORD),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "owner sign-in: {}", done.body);
        (tenant, browser)
    }

    /// Adds a staff member with `permissions` to a store and returns a browser signed in
    /// as them (password [`OWNER_PASSWORD`]).
    pub async fn staff_member(
        &self,
        subdomain: &str,
        email: &str,
        permissions: &[&str],
    ) -> Browser<'_> {
        let hash = platform::accounts::hash_password(OWNER_PASSWORD).expect("hashing");
        sqlx::query(
            "WITH u AS (INSERT INTO platform.users (id, email, password_hash) \
                        VALUES (gen_random_uuid(), $1, $2) RETURNING id) \
             INSERT INTO platform.memberships (user_id, tenant_id, role, permissions) \
             SELECT u.id, t.id, 'staff', $3 FROM u, platform.tenants t WHERE t.subdomain = $4",
        )
        .bind(email)
        .bind(hash)
        .bind(permissions)
        .bind(subdomain)
        .execute(&self.pool)
        .await
        .expect("adding a staff member");
        let mut browser = self.browser(&Self::store_host(subdomain));
        let csrf = browser.get("/admin/login").await.csrf();
        let done = browser
            .post_form(
                "/admin/login",
                &[
                    ("_csrf", &csrf),
                    ("email", email),
                    ("password", OWNER_PASSWORD),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "staff sign-in: {}", done.body);
        browser
    }

    /// A browser with no cookies on `host`.
    pub fn browser(&self, host: &str) -> Browser<'_> {
        Browser {
            app: self,
            client: self.client.clone(),
            host: host.to_owned(),
            cookie: None,
        }
    }

    /// A browser with no cookies on `host` that connects from `ip`, a loopback address
    /// such as `127.0.0.2` (on Linux all of 127.0.0.0/8 is loopback): the app sees another
    /// client address, as it would another person's.
    pub fn browser_from(&self, host: &str, ip: std::net::Ipv4Addr) -> Browser<'_> {
        assert!(ip.is_loopback(), "{ip} is not a loopback address");
        Browser {
            app: self,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(std::net::IpAddr::V4(ip))
                .build()
                .expect("an HTTP client"),
            host: host.to_owned(),
            cookie: None,
        }
    }
}

impl Browser<'_> {
    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("http://{}{path}", self.app.addr));
        self.send(req).await
    }

    /// `POST path` with a URL-encoded form.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self
            .client
            .post(format!("http://{}{path}", self.app.addr))
            .form(fields);
        self.send(req).await
    }

    /// Sends a request built elsewhere, with this browser's Host and cookie.
    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req.header(reqwest::header::HOST, &self.host);
        if let Some(c) = &self.cookie {
            req = req.header(
                reqwest::header::COOKIE,
                format!("{}={c}", platform::sessions::COOKIE),
            );
        }
        let res = req.send().await.expect("the app answers");
        for set in res.headers().get_all(reqwest::header::SET_COOKIE) {
            let set = set.to_str().expect("ASCII cookie");
            let prefix = format!("{}=", platform::sessions::COOKIE);
            if let Some(rest) = set.strip_prefix(&prefix) {
                let value = rest.split(';').next().unwrap_or("").to_owned();
                let expired = set.contains("Max-Age=0") || value.is_empty();
                self.cookie = (!expired).then_some(value);
            }
        }
        let header = |name: reqwest::header::HeaderName| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Page {
            status: res.status().as_u16(),
            location: header(reqwest::header::LOCATION),
            retry_after: header(reqwest::header::RETRY_AFTER),
            body: res.text().await.expect("a body"),
        }
    }
}
