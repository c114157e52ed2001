//! The `storefront` binary as a theme render worker (`storefront theme-worker`), driven by
//! the pool a serving node keeps: pages render, a render that outgrows its memory ends its
//! worker and is reported as such, one that never checks the clock is stopped at the time
//! limit, and the pool goes on with fresh workers.

use std::time::Duration;

use platform::theme::sandbox::RenderFailure;
use platform::theme::worker::{Limits, Pool};
use serde_json::json;

const PAGE: &str = "store/404.html";

fn pool(timeout: Duration) -> Pool {
    Pool::new(
        env!("CARGO_BIN_EXE_storefront").into(),
        1,
        Limits {
            memory_mb: 256,
            timeout,
        },
    )
}

fn set(source: &str) -> Vec<(String, String)> {
    vec![(PAGE.to_owned(), source.to_owned())]
}

#[tokio::test]
async fn a_theme_worker_renders_until_a_template_outgrows_its_memory() {
    let pool = pool(Duration::from_secs(10));
    let hello = set("Hello {{ name }}");
    let page = pool
        .render(1, &hello, PAGE, json!({ "name": "<you>" }))
        .await
        .unwrap();
    assert_eq!(page, "Hello &lt;you&gt;");

    let doubling = set(
        "{% set_global s = \"0123456789abcdef\" %}{% for i in range(end=24) %}{% set_global s = s ~ s %}{% endfor %}{{ s | length }}",
    );
    let failure = pool.render(2, &doubling, PAGE, json!({})).await;
    assert!(
        matches!(failure, Err(RenderFailure::OutOfMemory)),
        "{failure:?}"
    );

    // A fresh worker takes over, and compiles the set it has not seen.
    let page = pool
        .render(1, &hello, PAGE, json!({ "name": "again" }))
        .await
        .unwrap();
    assert_eq!(page, "Hello again");
}

#[tokio::test]
async fn a_theme_render_that_never_checks_the_clock_is_stopped_at_the_time_limit() {
    let pool = pool(Duration::from_millis(300));
    let spinning = set(
        "{% set r = range(end=10000) %}{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}{% endfor %}",
    );
    let failure = pool.render(1, &spinning, PAGE, json!({})).await;
    assert!(
        matches!(failure, Err(RenderFailure::TimedOut)),
        "{failure:?}"
    );

    let page = pool.render(2, &set("still here"), PAGE, json!({})).await;
    assert_eq!(page.unwrap(), "still here");
}
