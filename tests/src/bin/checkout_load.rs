//! Load generator for the checkout benchmark (`tests/bench/checkout.sh`): each of
//! `--clients` shoppers loops over a whole guest checkout through HTTP (add to cart, open
//! checkout, place the order with the test gateway, pay with the test card) for
//! `--seconds`, and the completed checkouts per second are reported with p50/p99 latency of
//! one whole checkout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// `http://127.0.0.1:8765`
    #[arg(long)]
    base: String,
    /// The store's Host header.
    #[arg(long)]
    host: String,
    /// What to buy, comma-separated `handle:variant-id` pairs; each checkout takes the next.
    #[arg(long)]
    handles: String,
    /// Concurrent shoppers.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

struct Shopper {
    client: reqwest::Client,
    base: String,
    host: String,
    cookie: Option<String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Shopper {
    async fn send(&mut self, req: reqwest::RequestBuilder) -> anyhow::Result<Answer> {
        let mut req = req.header(reqwest::header::HOST, &self.host);
        if let Some(c) = &self.cookie {
            req = req.header(reqwest::header::COOKIE, c);
        }
        let res = req.send().await?;
        for set in res.headers().get_all(reqwest::header::SET_COOKIE) {
            if let Some(pair) = set.to_str()?.split(';').next() {
                self.cookie = Some(pair.to_owned());
            }
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Answer {
            status,
            location,
            body: res.text().await?,
        })
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let req = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }
}

fn value_of(body: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .with_context(|| format!("no {name} field"))?
        + marker.len();
    let end = body[start..].find('"').context("closing quote")? + start;
    Ok(body[start..end].to_owned())
}

/// One whole guest checkout; a fresh session each time.
async fn checkout(shopper: &mut Shopper, item: &str) -> anyhow::Result<()> {
    shopper.cookie = None;
    let (handle, variant) = item.split_once(':').unwrap_or((item, ""));
    let added = shopper
        .post(
            "/cart/add",
            &[("product", handle), ("id", variant), ("quantity", "1")],
        )
        .await?;
    if added.status != 303 {
        bail!("cart/add answered {}", added.status);
    }
    let page = shopper.get("/checkout").await?;
    if page.status != 200 {
        bail!("checkout answered {}", page.status);
    }
    let csrf = value_of(&page.body, "_csrf")?;
    let key = value_of(&page.body, "checkout_key")?;
    let placed = shopper
        .post(
            "/checkout",
            &[
                ("_csrf", csrf.as_str()),
                ("checkout_key", key.as_str()),
                ("email", "load@example.com"),
                ("first_name", "Load"),
                ("last_name", "Test"),
                ("address1", "1 Bench Street"),
                ("city", "Springfield"),
                ("zip", "12345"),
                ("country", "US"),
                ("gateway", "test"),
                ("action", "pay"),
            ],
        )
        .await?;
    let pay = match (placed.status, placed.location) {
        (303, Some(l)) if l.ends_with("/pay") => l,
        (s, l) => bail!("placing answered {s} {l:?}"),
    };
    let paid = shopper
        .post(
            &pay,
            &[
                ("_csrf", csrf.as_str()),
                ("card_number", "4242424242424242"),
            ],
        )
        .await?;
    if paid.status != 303 {
        bail!("paying answered {}", paid.status);
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let handles: Arc<Vec<String>> = Arc::new(
        args.handles
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect(),
    );
    anyhow::ensure!(!handles.is_empty(), "--handles is empty");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..args.clients {
        let mut shopper = Shopper {
            client: client.clone(),
            base: args.base.clone(),
            host: args.host.clone(),
            cookie: None,
        };
        let (stop, handles) = (Arc::clone(&stop), Arc::clone(&handles));
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::new();
            let mut errors = 0u64;
            let mut i = n;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match checkout(&mut shopper, &handles[i % handles.len()]).await {
                    Ok(()) => took.push(t.elapsed()),
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("client {n}: {e:#}");
                        }
                        errors += 1;
                    }
                }
                i += args.clients;
            }
            (took, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (took, e) = t.await?;
        all.extend(took);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{}\t{:.1}\t{:.1}ms\t{:.1}ms\t{}",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.50).as_secs_f64() * 1000.0,
        percentile(&all, 0.99).as_secs_f64() * 1000.0,
        errors
    );
    Ok(())
}
