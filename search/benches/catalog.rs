//! A generated 100,000-product catalog: full index build time, and the latency of 1-3 word
//! queries with typos, two facet filters and facet counts (p50/p99 over many queries, then
//! criterion's estimate). `PRODUCTS=N` changes the catalog size; `NO_HIGHLIGHT=1` and
//! `NO_FACETS=1` leave out highlighting or facet counting, to see what each costs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::DateTime;
use criterion::Criterion;
use search::{
    Filters, IndexManager, Language, ProductDoc, SearchRequest, Sort, Synonyms, TenantIndex, search,
};

const BRANDS: [&str; 24] = [
    "Acme",
    "Northwind",
    "Lumen",
    "Fjord",
    "Kestrel",
    "Oakridge",
    "Vantage",
    "Meridian",
    "Solace",
    "Tundra",
    "Harbor",
    "Juniper",
    "Atlas",
    "Pioneer",
    "Cobalt",
    "Everly",
    "Sable",
    "Willow",
    "Summit",
    "Ember",
    "Crescent",
    "Nimbus",
    "Orchard",
    "Bramble",
];
const ADJECTIVES: [&str; 30] = [
    "classic",
    "organic",
    "lightweight",
    "waterproof",
    "vintage",
    "premium",
    "handmade",
    "ergonomic",
    "wireless",
    "insulated",
    "recycled",
    "compact",
    "durable",
    "slim",
    "cozy",
    "portable",
    "rugged",
    "elegant",
    "minimalist",
    "breathable",
    "adjustable",
    "stackable",
    "foldable",
    "reversible",
    "heavyweight",
    "soft",
    "bold",
    "modern",
    "rustic",
    "smart",
];
const COLOURS: [&str; 16] = [
    "black", "white", "navy", "olive", "charcoal", "crimson", "ivory", "teal", "mustard", "sand",
    "forest", "blush", "slate", "amber", "indigo", "coral",
];
const MATERIALS: [&str; 14] = [
    "cotton",
    "linen",
    "leather",
    "wool",
    "bamboo",
    "ceramic",
    "steel",
    "walnut",
    "oak",
    "silicone",
    "canvas",
    "denim",
    "merino",
    "stoneware",
];
const NOUNS: [(&str, &str); 40] = [
    ("shirt", "Shirts"),
    ("t-shirt", "Shirts"),
    ("hoodie", "Sweaters"),
    ("sweater", "Sweaters"),
    ("cardigan", "Sweaters"),
    ("jacket", "Outerwear"),
    ("parka", "Outerwear"),
    ("raincoat", "Outerwear"),
    ("jeans", "Trousers"),
    ("chinos", "Trousers"),
    ("shorts", "Trousers"),
    ("sneakers", "Shoes"),
    ("boots", "Shoes"),
    ("sandals", "Shoes"),
    ("loafers", "Shoes"),
    ("backpack", "Bags"),
    ("tote", "Bags"),
    ("wallet", "Accessories"),
    ("belt", "Accessories"),
    ("scarf", "Accessories"),
    ("beanie", "Accessories"),
    ("sunglasses", "Accessories"),
    ("watch", "Accessories"),
    ("mug", "Kitchen"),
    ("teapot", "Kitchen"),
    ("skillet", "Kitchen"),
    ("cutting board", "Kitchen"),
    ("knife", "Kitchen"),
    ("bowl", "Kitchen"),
    ("blanket", "Home"),
    ("pillow", "Home"),
    ("lamp", "Home"),
    ("candle", "Home"),
    ("notebook", "Stationery"),
    ("pen", "Stationery"),
    ("headphones", "Electronics"),
    ("speaker", "Electronics"),
    ("charger", "Electronics"),
    ("keyboard", "Electronics"),
    ("phone case", "Electronics"),
];
const COLLECTIONS: [&str; 12] = [
    "new-arrivals",
    "summer-sale",
    "best-sellers",
    "gifts-under-50",
    "outdoor",
    "home-office",
    "kitchen-essentials",
    "winter",
    "eco",
    "travel",
    "staff-picks",
    "clearance",
];
const PHRASES: [&str; 12] = [
    "Made to last with attention to every detail.",
    "Perfect for everyday use, at home or on the go.",
    "Designed in our studio and produced in small batches.",
    "Easy to care for: machine wash cold, tumble dry low.",
    "A customer favourite since our very first season.",
    "Pairs well with the rest of the collection.",
    "Thoughtfully sourced materials and fair production.",
    "Backed by our two-year warranty and free returns.",
    "Gift-ready packaging included at no extra cost.",
    "Tested in the mountains, loved in the city.",
    "Comfortable from the first day, better every day after.",
    "Limited run: once it is gone, it is gone.",
];

/// A small deterministic generator (xorshift), so every run builds the same catalog.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn catalog(n: usize) -> Vec<ProductDoc> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| {
            let brand = rng.pick(&BRANDS);
            let adjective = rng.pick(&ADJECTIVES);
            let colour = rng.pick(&COLOURS);
            let material = rng.pick(&MATERIALS);
            let (noun, kind) = NOUNS[rng.below(NOUNS.len())];
            let title = format!("{brand} {adjective} {colour} {material} {noun}");
            let description = format!(
                "A {adjective} {noun} in {colour} {material}. {} {} {}",
                rng.pick(&PHRASES),
                rng.pick(&PHRASES),
                rng.pick(&PHRASES)
            );
            let variants = 1 + rng.below(4);
            ProductDoc {
                product_id: format!("00000000-0000-0000-0000-{i:012}"),
                handle: format!("{}-{i}", title.to_lowercase().replace(' ', "-")),
                title,
                description,
                vendor: brand.to_owned(),
                product_type: kind.to_owned(),
                tags: vec![adjective.to_owned(), colour.to_owned(), material.to_owned()],
                skus: (0..variants)
                    .map(|v| format!("{}-{i:06}-{v}", &brand[..3].to_uppercase()))
                    .collect(),
                collections: (0..rng.below(3))
                    .map(|_| rng.pick(&COLLECTIONS).to_owned())
                    .collect(),
                price_minor: 500 + (rng.below(40_000) as i64),
                in_stock: rng.below(10) < 8,
                published: rng.below(20) != 0,
                created_at: DateTime::from_timestamp(1_600_000_000 + i as i64 * 60, 0)
                    .expect("valid time"),
            }
        })
        .collect()
}

/// One typo in a word of 4+ characters: a swap of two neighbours or a dropped letter.
fn typo(rng: &mut Rng, word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 4 {
        return word.to_owned();
    }
    let at = 1 + rng.below(chars.len() - 2);
    if rng.below(2) == 0 {
        chars.swap(at, at + 1);
    } else {
        chars.remove(at);
    }
    chars.into_iter().collect()
}

fn queries(n: usize) -> Vec<SearchRequest> {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let vocabulary: Vec<&str> = ADJECTIVES
        .iter()
        .chain(&COLOURS)
        .chain(&MATERIALS)
        .chain(NOUNS.iter().map(|(noun, _)| noun))
        .chain(&BRANDS)
        .copied()
        .collect();
    (0..n)
        .map(|_| {
            let words = 1 + rng.below(3);
            let mut query: Vec<String> = (0..words)
                .map(|_| rng.pick(&vocabulary).to_lowercase())
                .collect();
            let which = rng.below(words);
            query[which] = typo(&mut rng, &query[which]);
            // Two facet filters, and every facet counted.
            let filters = Filters {
                collection: Some(rng.pick(&COLLECTIONS).to_owned()),
                in_stock: true,
                ..Filters::default()
            };
            SearchRequest {
                query: query.join(" "),
                filters,
                sort: Sort::Relevance,
                limit: 24,
                highlight: std::env::var("NO_HIGHLIGHT").is_err(),
                facets: std::env::var("NO_FACETS").is_err(),
                ..SearchRequest::default()
            }
        })
        .collect()
}

fn build(manager: &IndexManager, docs: &[ProductDoc]) -> (Duration, std::sync::Arc<TenantIndex>) {
    let started = Instant::now();
    let mut rebuild = manager
        .start_rebuild("t_bench", Language::English)
        .expect("start rebuild");
    for doc in docs {
        rebuild.add(doc).expect("add");
    }
    let index = manager
        .finish_rebuild(rebuild, docs.len() as i64)
        .expect("finish");
    (started.elapsed(), index)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

fn main() {
    let products: usize = std::env::var("PRODUCTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let root = tempfile::tempdir().expect("temp dir");
    let manager = IndexManager::new(root.path().to_path_buf(), 4);
    let docs = catalog(products);

    let (elapsed, index) = build(&manager, &docs);
    println!(
        "full index build: {products} products in {:.2} s",
        elapsed.as_secs_f64()
    );
    drop(index);
    let (elapsed, index) = build(&manager, &docs);
    println!(
        "full index build (again): {products} products in {:.2} s",
        elapsed.as_secs_f64()
    );

    let synonyms = Synonyms::default();
    let requests = queries(2_000);
    let mut hits = 0usize;
    for request in requests.iter().take(200) {
        hits += search(&index, request, &synonyms).expect("search").total;
    }
    let mut latencies: Vec<Duration> = requests
        .iter()
        .map(|request| {
            let started = Instant::now();
            let found = search(&index, request, &synonyms).expect("search");
            let elapsed = started.elapsed();
            hits += black_box(found.total);
            elapsed
        })
        .collect();
    latencies.sort();
    println!(
        "queries (1-3 words, one typo, collection + in-stock filters, facet counts, highlights): \
         {} runs, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} matches in all)",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().expect("some").as_secs_f64() * 1e3,
        hits
    );

    let mut criterion = Criterion::default().configure_from_args();
    let mut next = 0usize;
    criterion.bench_function("search 100k: typo query + 2 facet filters", |b| {
        b.iter(|| {
            next = (next + 1) % requests.len();
            black_box(search(&index, &requests[next], &synonyms).expect("search"))
        })
    });
    criterion.final_summary();
}
