//! The demo store: a few realistic products with variants, generated images and collections,
//! pages, blog posts and menus, and on request many more sample products (for trying the
//! admin at scale).

use std::io::Write;

use anyhow::Context as _;
use sqlx::PgPool;
use tenant_store::catalog::collections::{self, CollectionInput, Kind, Rule};
use tenant_store::catalog::images::{self, NewImage};
use tenant_store::catalog::{self, BodyFormat, ProductInput, Status, VariantInput};
use tenant_store::content::{
    ArticleInput, MenuInput, MenuItemInput, PageInput, blog, menus, pages,
};

use crate::media::{self, MediaStore};
use crate::tenancy::Tenant;

/// Who the seeded changes are attributed to.
const ACTOR: &str = "demo";

struct Seed {
    title: &'static str,
    product_type: &'static str,
    tags: &'static [&'static str],
    body: &'static str,
    options: &'static [&'static str],
    variants: &'static [(&'static [&'static str], i64, i32)],
    hue: u8,
}

const SEEDS: &[Seed] = &[
    Seed {
        title: "Organic Cotton Tee",
        product_type: "T-shirt",
        tags: &["tees", "organic"],
        body: "A soft, **organic cotton** tee that keeps its shape wash after wash.",
        options: &["Size", "Colour"],
        variants: &[
            (&["S", "Sand"], 2400, 12),
            (&["M", "Sand"], 2400, 20),
            (&["L", "Sand"], 2400, 3),
            (&["M", "Ink"], 2400, 0),
        ],
        hue: 30,
    },
    Seed {
        title: "Heavyweight Pocket Tee",
        product_type: "T-shirt",
        tags: &["tees"],
        body: "Boxy fit, 240 g cotton, a chest pocket for your sunglasses.",
        options: &["Size"],
        variants: &[
            (&["S"], 3200, 8),
            (&["M"], 3200, 15),
            (&["L"], 3200, 9),
            (&["XL"], 3400, 4),
        ],
        hue: 200,
    },
    Seed {
        title: "Stoneware Mug",
        product_type: "Mug",
        tags: &["kitchen", "gift"],
        body: "Hand-glazed stoneware, 350 ml. Dishwasher safe.",
        options: &["Glaze"],
        variants: &[(&["Moss"], 1800, 30), (&["Chalk"], 1800, 25)],
        hue: 110,
    },
    Seed {
        title: "Espresso Cup Set",
        product_type: "Mug",
        tags: &["kitchen"],
        body: "Four 90 ml cups for the perfect *ristretto*.",
        options: &[],
        variants: &[(&[], 3600, 6)],
        hue: 15,
    },
    Seed {
        title: "Linen Tote Bag",
        product_type: "Bag",
        tags: &["gift", "summer"],
        body: "Sturdy washed linen with long handles.",
        options: &["Colour"],
        variants: &[(&["Natural"], 2900, 14), (&["Rust"], 2900, 2)],
        hue: 50,
    },
    Seed {
        title: "Beeswax Candle",
        product_type: "Home",
        tags: &["gift", "home"],
        body: "Pure beeswax, about 40 hours of warm light.",
        options: &["Size"],
        variants: &[(&["Small"], 1400, 40), (&["Large"], 2600, 18)],
        hue: 45,
    },
];

/// Seeds the demo catalog when the store has no products yet, then tops the store up to
/// `sample_products` generated products (`sample-N` handles), reporting progress on `out`.
pub async fn seed(
    pool: &PgPool,
    media: &MediaStore,
    tenant: &Tenant,
    sample_products: usize,
    production: bool,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let mut tx = tenant_store::begin(pool, &tenant.schema).await?;
    let empty = catalog::count_products(&mut tx).await? == 0;
    if empty {
        writeln!(out, "seeding the demo catalog")?;
        for seed in SEEDS {
            let product = catalog::create_product(&mut tx, input(seed), ACTOR, None)
                .await
                .with_context(|| format!("seeding {}", seed.title))?;
            let png = swatch(seed.hue);
            let processed = media
                .process(png)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let key = media::storage_key(&tenant.schema, &processed.content_hash);
            media.put(&key, &processed).await?;
            let image = NewImage {
                storage_key: &key,
                content_type: "image/jpeg",
                width: processed.width as i32,
                height: processed.height as i32,
                alt: seed.title,
            };
            images::add_image(&mut tx, product.id, image).await?;
        }
        let rule = |field: &str, value: &str| Rule {
            field: field.into(),
            relation: "equals".into(),
            value: value.into(),
        };
        let collection =
            |title: &str, kind: Kind, rules: Vec<Rule>, handles: Vec<String>| CollectionInput {
                title: title.into(),
                handle: None,
                body_html: String::new(),
                kind,
                sort_order: "manual".into(),
                published: true,
                disjunctive: false,
                rules,
                product_handles: handles,
            };
        collections::create_collection(
            &mut tx,
            collection(
                "T-shirts",
                Kind::Automatic,
                vec![rule("type", "T-shirt")],
                vec![],
            ),
        )
        .await?;
        collections::create_collection(
            &mut tx,
            collection(
                "Kitchen",
                Kind::Automatic,
                vec![rule("tag", "kitchen")],
                vec![],
            ),
        )
        .await?;
        let featured = vec![
            "organic-cotton-tee".into(),
            "stoneware-mug".into(),
            "linen-tote-bag".into(),
        ];
        collections::create_collection(
            &mut tx,
            collection("Featured", Kind::Manual, vec![], featured),
        )
        .await?;
    }
    if pages::count_pages(&mut tx).await? == 0 {
        writeln!(out, "seeding the demo pages, blog posts and menus")?;
        seed_content(&mut tx).await.context("seeding content")?;
    }
    if tenant_store::payments::list_gateways(&mut tx)
        .await?
        .is_empty()
    {
        writeln!(
            out,
            "setting up checkout: shipping rates and payment methods"
        )?;
        seed_checkout(&mut tx, production)
            .await
            .context("seeding checkout")?;
    }
    tx.commit().await?;

    let mut tx = tenant_store::begin(pool, &tenant.schema).await?;
    let existing: i64 =
        sqlx::query_scalar("SELECT count(*) FROM products WHERE handle LIKE 'sample-%'")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    let start = existing as usize;
    if sample_products > start {
        let total = sample_products - start;
        writeln!(out, "adding {total} sample products")?;
        let step = (total / 10).max(1);
        // Batches of 200 per transaction: a crash keeps what was committed, a rerun resumes.
        for batch in (start..sample_products).collect::<Vec<_>>().chunks(200) {
            let mut tx = tenant_store::begin(pool, &tenant.schema).await?;
            for &i in batch {
                catalog::create_product(&mut tx, sample(i), ACTOR, None).await?;
                let done = i + 1 - start;
                if done.is_multiple_of(step) || done == total {
                    writeln!(out, "  {done}/{total} sample products")?;
                }
            }
            tx.commit().await?;
        }
        // Fresh planner statistics after a bulk load, rather than waiting for autovacuum:
        // listings are planned for the catalog as it now is.
        let mut tx = tenant_store::begin(pool, &tenant.schema).await?;
        sqlx::Executor::execute(
            &mut *tx,
            "ANALYZE products, variants, product_images, collection_products",
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Pages: title and Markdown body.
const PAGES: &[(&str, &str)] = &[
    (
        "About",
        "## Small batches, made to last\n\nDemo Goods Co. started in a garage with one \
         pottery wheel. Today we work with a handful of makers who care about materials as \
         much as we do.\n\n- Organic cotton and washed linen\n- Hand-glazed stoneware\n- \
         Pure beeswax candles",
    ),
    (
        "Shipping & returns",
        "## Shipping\n\nOrders leave our workshop within two working days. Shipping is free \
         over 50.00.\n\n## Returns\n\nNot quite right? Send it back unused within **30 days** \
         for a full refund.",
    ),
    (
        "FAQ",
        "**Are your mugs dishwasher safe?**  \nYes, every glaze we use is.\n\n**Do you ship \
         abroad?**  \nWe ship across the EU and to the UK.\n\n**Can I change my order?**  \n\
         Write to us within an hour of ordering and we will.",
    ),
];

/// Blog posts in "news": title, excerpt, Markdown body, tags, days ago.
const POSTS: &[(&str, &str, &str, &[&str], i64)] = &[
    (
        "Meet the new glazes",
        "Moss and Chalk join the stoneware range.",
        "Our potter spent the winter testing glazes. Two made the cut: **Moss**, a deep green \
         that breaks brown on the rims, and **Chalk**, a soft matte white.\n\nFind them on the \
         [Stoneware Mug](/products/stoneware-mug).",
        &["stoneware", "new"],
        12,
    ),
    (
        "Summer opening hours",
        "The workshop shop keeps longer hours from June.",
        "From June to August the workshop shop is open **Tuesday to Saturday, 10:00 to 19:00**. \
         Come by for a coffee from our espresso cups.",
        &["workshop"],
        3,
    ),
];

/// Checkout for the demo store: standard shipping anywhere (free from 75.00), express,
/// and payment by bank transfer, plus the test card form outside production.
async fn seed_checkout(conn: &mut sqlx::PgConnection, production: bool) -> anyhow::Result<()> {
    use tenant_store::pricing::ShippingRule;
    use tenant_store::shipping::{self, ShippingRateInput};
    let rates = [
        (
            "Standard",
            ShippingRule::FreeOver {
                price_minor: 490,
                threshold_minor: 7500,
            },
        ),
        ("Express", ShippingRule::Flat { price_minor: 1490 }),
    ];
    for (position, (name, rule)) in rates.into_iter().enumerate() {
        shipping::create_rate(
            conn,
            &ShippingRateInput {
                name: name.into(),
                countries: Vec::new(),
                rule,
                position: position as i32,
            },
        )
        .await?;
    }
    let manual = serde_json::json!({
        "gateway": "manual",
        "instructions": "Transfer the total to IBAN DE00 0000 0000 0000 0000 00, quoting your order number.",
    });
    tenant_store::payments::save_gateway(conn, "manual", true, "Bank transfer", &manual).await?;
    if !production {
        let test = serde_json::json!({ "gateway": "test" });
        tenant_store::payments::save_gateway(conn, "test", true, "Card (test mode)", &test).await?;
    }
    Ok(())
}

/// The demo store's pages, blog posts, and main and footer menus linking to them and to the
/// demo collections.
async fn seed_content(conn: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    for (title, body) in PAGES {
        pages::create_page(
            conn,
            PageInput {
                title: (*title).into(),
                body: (*body).into(),
                body_format: BodyFormat::Markdown,
                published: true,
                ..PageInput::default()
            },
        )
        .await
        .with_context(|| format!("page {title}"))?;
    }
    let news = blog::get_blog(conn, "news").await?;
    for (title, summary, body, tags, days_ago) in POSTS {
        blog::create_article(
            conn,
            news.id,
            ArticleInput {
                title: (*title).into(),
                author: "Demo Goods Co.".into(),
                body: (*body).into(),
                body_format: BodyFormat::Markdown,
                summary: format!("<p>{summary}</p>"),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                published: true,
                published_at: Some(chrono::Utc::now() - chrono::Duration::days(*days_ago)),
                ..ArticleInput::default()
            },
        )
        .await
        .with_context(|| format!("blog post {title}"))?;
    }
    let link = |title: &str, kind: &str, target: &str, nested: bool| MenuItemInput {
        title: title.into(),
        kind: kind.into(),
        target: target.into(),
        nested,
    };
    let main = vec![
        link("Home", "url", "/", false),
        link("Shop", "collection", "featured", false),
        link("T-shirts", "collection", "t-shirts", true),
        link("Kitchen", "collection", "kitchen", true),
        link("News", "blog", "news", false),
        link("About", "page", "about", false),
    ];
    let footer = vec![
        link("Search", "url", "/search", false),
        link("About", "page", "about", false),
        link("Shipping & returns", "page", "shipping-returns", false),
        link("FAQ", "page", "faq", false),
    ];
    // A store seeded before collections existed may lack them: link only to those it has.
    let collections: Vec<String> = collections::list_collections(conn)
        .await?
        .into_iter()
        .map(|c| c.handle)
        .collect();
    let main: Vec<MenuItemInput> = main
        .into_iter()
        .filter(|i| i.kind != "collection" || collections.contains(&i.target))
        .collect();
    let existing = menus::list_menus(conn).await?;
    for (handle, title, items) in [
        ("main-menu", "Main menu", main),
        ("footer", "Footer", footer),
    ] {
        let input = MenuInput {
            title: title.into(),
            handle: Some(handle.into()),
            items,
        };
        match existing.iter().find(|m| m.handle == handle) {
            Some(m) => menus::update_menu(conn, m.id, input).await,
            None => menus::create_menu(conn, input).await,
        }
        .with_context(|| format!("menu {handle}"))?;
    }
    Ok(())
}

fn input(seed: &Seed) -> ProductInput {
    ProductInput {
        title: seed.title.into(),
        body: seed.body.into(),
        body_format: BodyFormat::Markdown,
        status: Some(Status::Active),
        vendor: "Demo Goods Co.".into(),
        product_type: seed.product_type.into(),
        tags: seed.tags.iter().map(|t| (*t).to_owned()).collect(),
        options: seed.options.iter().map(|o| (*o).to_owned()).collect(),
        variants: seed
            .variants
            .iter()
            .map(|(values, price, qty)| VariantInput {
                option_values: values.iter().map(|v| (*v).to_owned()).collect(),
                sku: sku(seed.title, values),
                price_minor: *price,
                track_inventory: true,
                inventory_quantity: *qty,
                weight_grams: 300,
                ..VariantInput::default()
            })
            .collect(),
        ..ProductInput::default()
    }
}

fn sku(title: &str, values: &[&str]) -> String {
    let initials: String = title
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .collect();
    let mut sku = format!("DEMO-{}", initials.to_uppercase());
    for v in values {
        sku.push('-');
        sku.push_str(&v.to_uppercase());
    }
    sku
}

fn sample(i: usize) -> ProductInput {
    const TYPES: [&str; 5] = ["T-shirt", "Mug", "Bag", "Home", "Poster"];
    ProductInput {
        title: format!("Sample Product {i}"),
        handle: Some(format!("sample-{i}")),
        body: format!("Sample product number {i}, generated for the demo."),
        status: Some(Status::Active),
        vendor: "Demo Goods Co.".into(),
        product_type: TYPES[i % TYPES.len()].into(),
        tags: vec!["sample".into(), format!("batch-{}", i / 1000)],
        options: vec!["Size".into()],
        variants: ["S", "M", "L"]
            .iter()
            .enumerate()
            .map(|(n, size)| VariantInput {
                option_values: vec![(*size).into()],
                sku: format!("SAMPLE-{i}-{size}"),
                price_minor: 1000 + (i as i64 % 50) * 100 + n as i64 * 200,
                track_inventory: true,
                inventory_quantity: ((i * 7 + n * 3) % 40) as i32,
                ..VariantInput::default()
            })
            .collect(),
        ..ProductInput::default()
    }
}

/// An 800×800 PNG: a soft diagonal gradient around `hue`, so each demo product has its own
/// picture without shipping or fetching any.
fn swatch(hue: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(800, 800, |x, y| {
        let t = ((x + y) as f32 / 1600.0 * 60.0) as u8;
        let h = hue.wrapping_add(t);
        // A cheap hue wheel: three phase-shifted triangle waves.
        let ch = |shift: u8| {
            let v = h.wrapping_add(shift) as i32;
            let tri = (128 - (v - 128).abs()) * 2;
            (120 + tri.clamp(0, 255) / 2) as u8
        };
        image::Rgb([ch(0), ch(85), ch(170)])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encoding a PNG in memory cannot fail");
    png
}
