//! A real browser for the tests: Debian's Chromium, driven by its chromedriver over
//! WebDriver ([`fantoccini`]), against the real app of a [`TestApp`].
//!
//! Every page a test reaches is judged as a shopper or merchant would meet it
//! ([`Chrome::check`]): its status, every `<img>` loaded, no console error or failed
//! request, no horizontal scrolling at 320 and 390 CSS pixels, and no critical, serious or
//! moderate axe-core violation. A screenshot of it at desktop and phone size is written to
//! `target/browser/<journey>/`, for people to look at.
//!
//! Forms are submitted by clicking their button, so the browser sends what it sends
//! (`Origin`, `Sec-Fetch-*`, referrer policy), and each form is named by its
//! `data-form` attribute; `form_coverage` checks that every form in the templates is
//! submitted by some browser test.
//!
//! The browser gets every hostname mapped to the app's loopback port
//! (`--host-resolver-rules`), so stores are reached on their own hosts
//! (`http://acme.storefront.test/`) with no DNS and no port in the URL.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value as Json, json};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::TestApp;

/// Browsers open at once in one test process: each Chromium is a few processes and a
/// few hundred megabytes, and the machine has other tests to run.
fn browser_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = std::env::var("BROWSERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        Semaphore::new(n)
    })
}

/// Longest any one browser command may take before the test fails (a hung browser must
/// not hang the suite).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How a page is laid out: the size of the viewport in CSS pixels, and whether the
/// browser behaves as a phone (meta viewport, touch-sized layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewport {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
    /// A phone's browser.
    pub mobile: bool,
}

impl Viewport {
    /// A laptop's window.
    pub const DESKTOP: Self = Self {
        width: 1280,
        height: 900,
        mobile: false,
    };
    /// A common phone (390×844).
    pub const PHONE: Self = Self {
        width: 390,
        height: 844,
        mobile: true,
    };
    /// The narrowest phone a page must fit.
    pub const SMALL_PHONE: Self = Self {
        width: 320,
        height: 640,
        mobile: true,
    };
}

/// Where Chromium and its driver are.
fn executable(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "the browser suite needs {} ({var}), which is missing: `apt-get install chromium \
         chromium-driver` (Debian's packages; `.ci/run` installs them)",
        path.display()
    );
    path
}

/// `target/`, where screenshots and the browser's tools go.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// axe-core's script (from the npm package pinned in `tests/browser/package.json`),
/// installed under `target/browser-tools` with npm on first use.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let tools = target_dir().join("browser-tools");
        let script = tools.join("node_modules/axe-core/axe.min.js");
        if !script.exists() {
            install_browser_tools(&tools);
        }
        std::fs::read_to_string(&script)
            .unwrap_or_else(|e| panic!("reading {}: {e}", script.display()))
    })
}

/// `npm ci` of `tests/browser` into `tools`, under a file lock (test processes run at once).
fn install_browser_tools(tools: &Path) {
    std::fs::create_dir_all(tools).expect("creating target/browser-tools");
    let lock_file =
        std::fs::File::create(tools.join("install.lock")).expect("creating the install lock");
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("locking target/browser-tools");
    if tools.join("node_modules/axe-core/axe.min.js").exists() {
        return;
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(manifest.join(file), tools.join(file))
            .unwrap_or_else(|e| panic!("copying tests/browser/{file}: {e}"));
    }
    eprintln!(
        "browser suite: installing axe-core with npm into {}",
        tools.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(tools)
        .status()
        .expect("the browser suite installs axe-core with npm, which is missing");
    assert!(status.success(), "npm ci in {} failed", tools.display());
}

/// A chromedriver process in a process group of its own, killed with the browsers it
/// started when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Self {
        let driver = executable("CHROMEDRIVER", "/usr/bin/chromedriver");
        let mut child = Command::new(driver)
            .args(["--port=0", "--log-level=SEVERE"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("starting chromedriver");
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("chromedriver stopped before saying its port");
            };
            if let Some(port) = line
                .split("started successfully on port ")
                .nth(1)
                .and_then(|rest| rest.trim_end_matches('.').trim().parse().ok())
            {
                break port;
            }
        };
        // Keep reading what it prints, so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A command chromedriver adds to WebDriver.
#[derive(Debug)]
struct ChromeCommand {
    path: &'static str,
    body: Json,
}

impl WebDriverCompatibleCommand for ChromeCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// One entry of the browser's console log.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`.
    pub level: String,
    /// What the console said (for a failed request: its URL and status).
    pub message: String,
}

/// What the checks of one page found wrong.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn add(&mut self, what: impl Into<String>) {
        self.0.push(what.into());
    }
}

/// A browser tab on the app, with the journey it takes.
pub struct Chrome {
    client: Client,
    /// The host `visit` uses when given a path (the store under test).
    pub host: String,
    viewport: Viewport,
    journey: String,
    shots: PathBuf,
    step: usize,
    /// Status the next page is expected to answer with (200 unless a test says).
    expect_status: u16,
    /// Console messages a test expects on the next page (substrings).
    expect_console: Vec<String>,
    /// Forms submitted so far, by name.
    pub submitted: Vec<String>,
    _slot: SemaphorePermit<'static>,
    _driver: Driver,
}

impl TestApp {
    /// A desktop browser (1280×900) on `host`, its screenshots under
    /// `target/browser/<journey>/`.
    pub async fn chrome(&self, host: &str, journey: &str) -> Chrome {
        Chrome::launch(self, host, journey, Viewport::DESKTOP).await
    }

    /// A phone's browser (390×844, mobile layout) on `host`.
    pub async fn phone(&self, host: &str, journey: &str) -> Chrome {
        Chrome::launch(self, host, journey, Viewport::PHONE).await
    }
}

async fn within<T, E: std::fmt::Debug>(what: &str, fut: impl Future<Output = Result<T, E>>) -> T {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("browser: {what}: {e:?}"),
        Err(_) => panic!("browser: {what}: no answer in {COMMAND_TIMEOUT:?}"),
    }
}

impl Chrome {
    async fn launch(app: &TestApp, host: &str, journey: &str, viewport: Viewport) -> Self {
        let chromium = executable("CHROMIUM", "/usr/bin/chromium");
        let axe_ready = axe_source().len();
        assert!(axe_ready > 0, "axe-core's script is empty");
        let slot = browser_slots()
            .acquire()
            .await
            .expect("the browser slots are never closed");
        let driver = Driver::start();
        let port = app.addr.port();
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-default-apps".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,Translate,OptimizationHints,MediaRouter".to_owned(),
            "--lang=en-US".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--host-resolver-rules=MAP * 127.0.0.1:{port}"),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("pageLoadStrategy".into(), json!("normal"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = within(
            "starting Chromium",
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{}", driver.port)),
        )
        .await;
        let shots = target_dir().join("browser").join(journey);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("creating the screenshot folder");
        let chrome = Self {
            client,
            host: host.to_owned(),
            viewport,
            journey: journey.to_owned(),
            shots,
            step: 0,
            expect_status: 200,
            expect_console: Vec::new(),
            submitted: Vec::new(),
            _slot: slot,
            _driver: driver,
        };
        chrome.set_viewport(viewport).await;
        chrome
    }

    /// Ends the session (the browser quits). Dropping a `Chrome` kills it instead.
    pub async fn close(self) {
        let _ = tokio::time::timeout(COMMAND_TIMEOUT, self.client.clone().close()).await;
    }

    /// A Chrome DevTools command, through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Json) -> Json {
        within(
            cmd,
            self.client.issue_cmd(ChromeCommand {
                path: "goog/cdp/execute",
                body: json!({ "cmd": cmd, "params": params }),
            }),
        )
        .await
    }

    async fn set_viewport(&self, v: Viewport) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": v.width, "height": v.height,
                "deviceScaleFactor": 1, "mobile": v.mobile,
            }),
        )
        .await;
        self.cdp(
            "Emulation.setTouchEmulationEnabled",
            json!({ "enabled": v.mobile }),
        )
        .await;
    }

    /// The console's messages since the last call.
    pub async fn console(&self) -> Vec<LogEntry> {
        let log = within(
            "reading the console",
            self.client.issue_cmd(ChromeCommand {
                path: "se/log",
                body: json!({ "type": "browser" }),
            }),
        )
        .await;
        serde_json::from_value(log).unwrap_or_default()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Json>) -> Json {
        within(script, self.client.execute(script, args)).await
    }

    /// Runs `script` with a callback as its last argument, and waits for it.
    pub async fn js_async(&self, script: &str, args: Vec<Json>) -> Json {
        within(script, self.client.execute_async(script, args)).await
    }

    /// The next page is expected to answer with `status` (e.g. a form shown again with
    /// its errors as 422); the console line the browser writes for it is expected too.
    pub fn expect_status(&mut self, status: u16) -> &mut Self {
        self.expect_status = status;
        self
    }

    /// The next page is expected to log a console message containing `text`.
    pub fn expect_console(&mut self, text: &str) -> &mut Self {
        self.expect_console.push(text.to_owned());
        self
    }

    /// Opens `path` on this browser's host (or a full `http://` URL) and checks the page.
    pub async fn visit(&mut self, path: &str) -> &mut Self {
        let url = if path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("http://{}{path}", self.host)
        };
        within(&format!("opening {url}"), self.client.goto(&url)).await;
        self.check().await;
        self
    }

    /// The page's address.
    pub async fn url(&self) -> url::Url {
        within("reading the URL", self.client.current_url()).await
    }

    /// The page's path and query.
    pub async fn path(&self) -> String {
        let url = self.url().await;
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// What the page says (its visible text).
    pub async fn text(&self) -> String {
        self.js("return document.body.innerText;", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The visible text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        let found = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                vec![json!(css)],
            )
            .await;
        found
            .as_str()
            .unwrap_or_else(|| panic!("no element matches {css} on {}", self.shown()))
            .to_owned()
    }

    /// Whether an element matching `css` is on the page.
    pub async fn has(&self, css: &str) -> bool {
        self.js(
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(css)],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// An attribute of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(name)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// The current value of a form field.
    pub async fn value(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.value : null;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_else(|| panic!("no field matches {css}"))
        .to_owned()
    }

    /// The error a form field shows, as a sighted person and a screen reader both meet it:
    /// the field is marked `aria-invalid` and its `aria-describedby` names the message.
    /// Fails the test when the field, the mark or the message is missing.
    pub async fn field_error(&self, css: &str) -> String {
        let found = self
            .js(
                "const f = document.querySelector(arguments[0]);
                 if (!f) return { missing: 'the field' };
                 if (f.getAttribute('aria-invalid') !== 'true') return { missing: 'aria-invalid' };
                 const text = (f.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)
                   .map(id => document.getElementById(id)).filter(Boolean)
                   .map(e => e.innerText.trim()).join(' ');
                 return text ? { text } : { missing: 'a message named by aria-describedby' };",
                vec![json!(css)],
            )
            .await;
        match found["text"].as_str() {
            Some(text) => text.to_owned(),
            None => panic!(
                "{css} shows no error: {} is missing on {} ({})",
                found["missing"],
                self.path().await,
                self.shown()
            ),
        }
    }

    fn shown(&self) -> String {
        format!("{} step {}", self.journey, self.step)
    }

    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        match tokio::time::timeout(COMMAND_TIMEOUT, self.client.find(Locator::Css(css))).await {
            Ok(Ok(e)) => e,
            Ok(Err(e)) => panic!(
                "browser: no element matches {css} ({}): {e}\n{}",
                self.shown(),
                self.text().await
            ),
            Err(_) => panic!("browser: finding {css}: no answer"),
        }
    }

    /// Types `value` into the field matching `css`, replacing what it held.
    pub async fn fill(&mut self, css: &str, value: &str) -> &mut Self {
        let field = self.element(css).await;
        within(&format!("clearing {css}"), field.clear()).await;
        if !value.is_empty() {
            within(&format!("typing into {css}"), field.send_keys(value)).await;
        }
        self
    }

    /// Fills several fields of one form (`[name=...]` inside `form[data-form=form]`).
    pub async fn fill_form(&mut self, form: &str, fields: &[(&str, &str)]) -> &mut Self {
        for (name, value) in fields {
            let css = format!("form[data-form=\"{form}\"] [name=\"{name}\"]");
            let kind = self.attr(&css, "type").await.unwrap_or_default();
            let tag = self
                .js(
                    "const e = document.querySelector(arguments[0]); return e ? e.tagName : null;",
                    vec![json!(css)],
                )
                .await;
            if tag.as_str() == Some("SELECT") {
                self.select(&css, value).await;
            } else if kind == "checkbox" {
                self.set_checked(&css, *value == "on" || *value == "true")
                    .await;
            } else {
                self.fill(&css, value).await;
            }
        }
        self
    }

    /// Chooses the option of the `<select>` matching `css` whose value or text is `choice`.
    pub async fn select(&mut self, css: &str, choice: &str) -> &mut Self {
        let option = self
            .js(
                "const s = document.querySelector(arguments[0]); if (!s) return null;
                 const o = Array.from(s.options).find(o => o.value === arguments[1] || o.text.trim() === arguments[1]);
                 return o ? o.value : false;",
                vec![json!(css), json!(choice)],
            )
            .await;
        let value = match option {
            Json::String(v) => v,
            Json::Bool(false) => panic!("{css} has no option {choice:?} ({})", self.shown()),
            _ => panic!("no select matches {css} ({})", self.shown()),
        };
        let select = self.element(css).await;
        within(
            &format!("choosing {choice} in {css}"),
            select.select_by_value(&value),
        )
        .await;
        self
    }

    /// Ticks or clears the checkbox matching `css` by clicking it, as a person would.
    pub async fn set_checked(&mut self, css: &str, on: bool) -> &mut Self {
        let checked = self
            .js(
                "return document.querySelector(arguments[0]).checked;",
                vec![json!(css)],
            )
            .await
            .as_bool()
            .unwrap_or(false);
        if checked != on {
            self.click(css).await;
        }
        self
    }

    /// Chooses a file for the file input matching `css`.
    pub async fn upload(&mut self, css: &str, file: &Path) -> &mut Self {
        let input = self.element(css).await;
        let path = file.canonicalize().expect("the upload exists");
        within(
            &format!("choosing {} for {css}", path.display()),
            input.send_keys(&path.display().to_string()),
        )
        .await;
        self
    }

    /// Clicks the element matching `css` (scrolled into view first) without expecting a
    /// new page.
    pub async fn click(&mut self, css: &str) -> &mut Self {
        let element = self.element(css).await;
        self.js(
            "arguments[0].scrollIntoView({block: 'center'});",
            vec![serde_json::to_value(&element).expect("an element reference")],
        )
        .await;
        within(&format!("clicking {css}"), element.click()).await;
        self
    }

    /// Presses keys in the focused element (`\u{E015}` is ArrowDown, `\u{E007}` Enter:
    /// WebDriver's key codes).
    pub async fn press(&mut self, css: &str, keys: &str) -> &mut Self {
        let element = self.element(css).await;
        within(&format!("pressing keys in {css}"), element.send_keys(keys)).await;
        self
    }

    /// Waits until `script` (a function body) returns true, for up to ten seconds.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if self.js(script, vec![]).await.as_bool() == Some(true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "browser: waited 10 s for {what} ({})\n{}",
                self.shown(),
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks `css` and waits for the page it leads to, then checks that page.
    pub async fn follow(&mut self, css: &str) -> &mut Self {
        self.mark_page().await;
        self.click(css).await;
        self.wait_for_new_page(css).await;
        self.check().await;
        self
    }

    /// Clicks the first visible link whose text is `text`, as a person does, and checks
    /// the page it leads to.
    pub async fn follow_link(&mut self, text: &str) -> &mut Self {
        let found = self
            .js(
                "document.querySelectorAll('[data-test-press]').forEach(b => b.removeAttribute('data-test-press'));
                 const a = Array.from(document.querySelectorAll('a[href]'))
                   .find(a => a.checkVisibility() && a.innerText.trim() === arguments[0]);
                 if (!a) return false;
                 a.setAttribute('data-test-press', '');
                 return true;",
                vec![json!(text)],
            )
            .await;
        assert!(
            found.as_bool() == Some(true),
            "no link {text:?} on {} ({})",
            self.path().await,
            self.shown()
        );
        self.follow("[data-test-press]").await
    }

    /// Submits the first form named `form` (`data-form`) with its first visible submit
    /// button, as a person does, and checks the page that comes back.
    pub async fn submit(&mut self, form: &str) -> &mut Self {
        self.press_button(form, None).await
    }

    /// Submits the form named `form` with its button whose text is `label`.
    pub async fn submit_button(&mut self, form: &str, label: &str) -> &mut Self {
        self.press_button(form, Some(label)).await
    }

    async fn press_button(&mut self, form: &str, label: Option<&str>) -> &mut Self {
        let found = self
            .js(
                "document.querySelectorAll('[data-test-press]').forEach(b => b.removeAttribute('data-test-press'));
                 const form = document.querySelector(`form[data-form=\"${arguments[0]}\"]`);
                 if (!form) return 'no form';
                 const button = Array.from(form.querySelectorAll('button, input[type=submit], input[type=image]'))
                   .filter(b => b.type === 'submit' || b.type === 'image')
                   .filter(b => b.checkVisibility() && !b.disabled)
                   .find(b => arguments[1] === null || (b.innerText || b.value || '').trim() === arguments[1]);
                 if (!button) return 'no button';
                 button.setAttribute('data-test-press', '');
                 return 'ok';",
                vec![json!(form), json!(label)],
            )
            .await;
        match found.as_str() {
            Some("ok") => {}
            Some(problem) => panic!(
                "{problem} to press: form {form}, button {label:?}, on {} ({})",
                self.path().await,
                self.shown()
            ),
            None => panic!("pressing a button of form {form}: {found}"),
        }
        self.submitted.push(form.to_owned());
        self.mark_page().await;
        self.click("[data-test-press]").await;
        self.wait_for_new_page(&format!("form {form}")).await;
        self.check().await;
        self
    }

    async fn mark_page(&self) {
        self.js("window.__testOldPage = true;", vec![]).await;
    }

    async fn wait_for_new_page(&self, what: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let state = self
                .js(
                    "return window.__testOldPage ? 'old' : document.readyState;",
                    vec![],
                )
                .await;
            if state.as_str() == Some("complete") {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "browser: {what} led to no new page in 30 s ({})",
                self.shown()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Checks the page the browser shows (see the module's documentation), writes its
    /// screenshots, and fails the test with everything found wrong.
    pub async fn check(&mut self) -> &mut Self {
        self.step += 1;
        let path = self.path().await;
        let mut found = Findings::default();
        let expected_status = std::mem::replace(&mut self.expect_status, 200);
        let expected_console = std::mem::take(&mut self.expect_console);

        let status = self
            .js(
                "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : 0;",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(0);
        if status != u64::from(expected_status) {
            found.add(format!(
                "answered {status}, expected {expected_status}: {}",
                self.text().await.chars().take(400).collect::<String>()
            ));
        }

        self.check_images(&mut found).await;
        for width in [Viewport::SMALL_PHONE, Viewport::PHONE] {
            self.set_viewport(width).await;
            self.check_overflow(width, &mut found).await;
            self.check_images(&mut found).await;
            if width == Viewport::PHONE {
                self.screenshot(&path, "phone").await;
            }
        }
        self.set_viewport(Viewport::DESKTOP).await;
        self.check_images(&mut found).await;
        self.screenshot(&path, "desktop").await;
        if self.viewport != Viewport::DESKTOP {
            self.set_viewport(self.viewport).await;
        }

        self.check_accessibility(&mut found).await;
        self.check_console(expected_status, &expected_console, &mut found)
            .await;

        let report = format!(
            "browser: {path} ({}) is not right:\n  - {}",
            self.shown(),
            found.0.join("\n  - ")
        );
        if std::env::var("BROWSER_REPORT_ONLY").is_ok_and(|v| !v.is_empty() && v != "0") {
            // For surveying many pages at once: say what is wrong and go on.
            if !found.0.is_empty() {
                eprintln!("{report}");
            }
        } else {
            assert!(found.0.is_empty(), "{report}");
        }
        self
    }

    async fn check_images(&self, found: &mut Findings) {
        let broken = self
            .js_async(
                "const done = arguments[arguments.length - 1];
                 const images = Array.from(document.images);
                 images.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
                 const deadline = Date.now() + 10000;
                 (function wait() {
                   if (images.some(i => !i.complete) && Date.now() < deadline) { setTimeout(wait, 20); return; }
                   done(images.filter(i => !i.complete || i.naturalWidth === 0)
                     .map(i => i.currentSrc || i.getAttribute('src') || i.outerHTML.slice(0, 120)));
                 })();",
                vec![],
            )
            .await;
        for src in broken.as_array().into_iter().flatten() {
            found.add(format!(
                "image did not load: {}",
                src.as_str().unwrap_or("?")
            ));
        }
    }

    async fn check_overflow(&self, viewport: Viewport, found: &mut Findings) {
        let wide = self
            .js(
                "const root = document.documentElement;
                 const width = root.clientWidth;
                 if (root.scrollWidth <= width) return null;
                 const culprits = Array.from(document.body.querySelectorAll('*'))
                   .filter(e => e.getBoundingClientRect().right > width + 1)
                   .filter(e => !Array.from(e.children).some(c => c.getBoundingClientRect().right > width + 1))
                   .slice(0, 4)
                   .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + ' (right edge ' + Math.round(e.getBoundingClientRect().right) + ')');
                 return root.scrollWidth + ' px wide: ' + culprits.join(', ');",
                vec![],
            )
            .await;
        if let Some(wide) = wide.as_str() {
            found.add(format!(
                "scrolls sideways at {} px: the page is {wide}",
                viewport.width
            ));
        }
    }

    async fn check_accessibility(&self, found: &mut Findings) {
        self.js(&format!("{};\nreturn true;", axe_source()), vec![])
            .await;
        let violations = self
            .js_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(
                   r.violations.filter(v => ['critical', 'serious', 'moderate'].includes(v.impact))
                     .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' [' + v.nodes.slice(0, 4)
                       .map(n => n.target.join(' ') + ' (' + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 200) + ')')
                       .join('; ') + (v.nodes.length > 4 ? '; ...' : '') + ']')),
                   e => done(['axe-core failed: ' + e]));",
                vec![],
            )
            .await;
        for v in violations.as_array().into_iter().flatten() {
            found.add(format!("axe: {}", v.as_str().unwrap_or("?")));
        }
    }

    async fn check_console(&self, status: u16, expected: &[String], found: &mut Findings) {
        let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        let status_line = format!("the server responded with a status of {status}");
        for entry in self.console().await {
            if entry.level != "SEVERE" && entry.level != "WARNING" {
                continue;
            }
            if status != 200 && entry.message.contains(&status_line) {
                continue;
            }
            if let Some(i) = expected.iter().position(|e| entry.message.contains(e)) {
                expected.remove(i);
                continue;
            }
            found.add(format!("console {}: {}", entry.level, entry.message));
        }
        for missing in expected {
            found.add(format!("expected a console message with {missing:?}"));
        }
    }

    async fn screenshot(&self, path: &str, size: &str) {
        let dims = self
            .js(
                "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight];",
                vec![],
            )
            .await;
        let width = dims[0].as_u64().unwrap_or(1280);
        let height = dims[1].as_u64().unwrap_or(900).min(5000);
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
                }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        // Long segments are tokens and ids (some of them secrets, like an order's link):
        // their first characters tell pages apart.
        let short: Vec<&str> = path
            .trim_start_matches('/')
            .split(['/', '?', '&', '='])
            .map(|segment| {
                segment
                    .get(..10)
                    .filter(|_| segment.len() > 20)
                    .unwrap_or(segment)
            })
            .collect();
        let name: String = short
            .join("-")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(60)
            .collect();
        let name = if name.is_empty() { "home".into() } else { name };
        let file = self
            .shots
            .join(format!("{:02}-{name}-{size}.png", self.step));
        std::fs::write(&file, png).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
    }
}
