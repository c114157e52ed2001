//! The Tera templates, embedded in the binary (read from disk in debug builds).

use std::collections::HashSet;
use std::hash::{BuildHasher as _, Hash as _, Hasher};
use std::sync::Arc;
use std::time::Duration;

use rust_embed::RustEmbed;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::AppError;

#[derive(RustEmbed)]
#[folder = "../templates/"]
#[include = "*.html"]
#[include = "*.txt"]
#[include = "*.xml"]
struct TemplateFiles;

/// The one Tera instance.
pub struct Views {
    tera: tera::Tera,
    /// How store pages get their frame without rendering it each time (None when
    /// `store/base.html` has a shape it does not know).
    framing: Option<Framing>,
}

impl Views {
    /// Parses every template; a syntax error stops start-up with the file and line.
    pub fn load() -> anyhow::Result<Self> {
        let mut tera = tera::Tera::default();
        let files: Vec<(String, String)> = TemplateFiles::iter()
            .map(|name| {
                let file = TemplateFiles::get(&name).expect("listed file exists");
                let text = String::from_utf8(file.data.into_owned())
                    .map_err(|_| anyhow::anyhow!("template {name} is not UTF-8"))?;
                Ok((name.into_owned(), text))
            })
            .collect::<anyhow::Result<_>>()?;
        let framing = Framing::prepare(&files);
        let mut files = files;
        if let Some((_, derived)) = &framing {
            files.extend(derived.iter().cloned());
        }
        tera.add_raw_templates(files)
            .map_err(|e| anyhow::anyhow!("{}", tera_error_chain(&e)))?;
        tera.autoescape_on(vec![".html", ".xml"]);
        tera.set_escape_fn(escape_html);
        Ok(Self {
            tera,
            framing: framing.map(|(framing, _)| framing),
        })
    }

    /// Whether a template by this name was loaded (for optional parts such as an email's
    /// `body.html`).
    pub fn has(&self, template: &str) -> bool {
        self.tera.get_template_names().any(|name| name == template)
    }

    /// Renders `template` with a typed view. A store page's frame (`store/base.html`: head,
    /// header, menus, footer) is rendered once per state of the page's `shop` and kept (see
    /// [`Framing`]); only the page's blocks are rendered each time.
    pub fn render<V: Serialize>(&self, template: &str, view: &V) -> Result<String, AppError> {
        let context = tera::Context::from_serialize(view)
            .map_err(|e| anyhow::anyhow!("view for {template}: {e}"))?;
        if let Some(page) = self.render_framed(template, &context) {
            return Ok(page);
        }
        self.tera
            .render(template, &context)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{}", tera_error_chain(&e))))
    }

    /// The page rendered around its kept frame, or None when it is not a framed store page
    /// or anything about it is unexpected (the caller then renders it whole).
    fn render_framed(&self, template: &str, context: &tera::Context) -> Option<String> {
        let framing = self.framing.as_ref()?;
        if !framing.pages.contains(template) {
            return None;
        }
        let Some(Value::Object(shop)) = context.get("shop") else {
            return None;
        };
        let count = match shop.get("cart_count")? {
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let frame = self.frame(framing, shop)?;
        let blocks = self
            .tera
            .render(&format!("{FRAMED_PREFIX}{template}"), context)
            .ok()?;
        let blocks: Vec<&str> = blocks.split(framing.marker.as_str()).collect();
        if blocks.len() != framing.blocks {
            return None;
        }
        let size = frame.text_len + blocks.iter().map(|b| b.len()).sum::<usize>() + 16;
        let mut page = String::with_capacity(size);
        for piece in &frame.pieces {
            match piece {
                Piece::Text(text) => page.push_str(text),
                Piece::Block(i) => page.push_str(blocks[*i]),
                Piece::CartCount => page.push_str(&count),
            }
        }
        Some(page)
    }

    /// The frame for `shop`: kept, or rendered now and kept.
    fn frame(&self, framing: &Framing, shop: &Map<String, Value>) -> Option<Arc<Frame>> {
        // A `shop` with a frame id: its nested values (settings, menus) are what the id
        // stands for, so only its plain values need telling apart (see `layout::Shop`).
        let by_id = matches!(shop.get(FRAME_ID), Some(Value::Number(_)));
        let key = framing.key(shop, by_id);
        if let Some(frame) = framing.frames.get(&key)
            && same_shop(&frame.shop, shop, by_id)
        {
            return Some(frame);
        }
        let mut frame_shop = shop.clone();
        frame_shop.insert("cart_count".into(), Value::from(framing.count_marker));
        let mut context = tera::Context::new();
        context.insert("shop", &frame_shop);
        let text = self.tera.render(FRAME_TEMPLATE, &context).ok()?;
        let frame = Arc::new(framing.cut(&text, frame_shop)?);
        framing.frames.insert(key, Arc::clone(&frame));
        Some(frame)
    }
}

/// Names of the templates [`Framing`] derives.
const FRAMED_PREFIX: &str = "__framed/";
/// The frame alone: `store/base.html` with a marker in each block.
const FRAME_TEMPLATE: &str = "__framed/frame.html";
/// Frames kept at most (about 10 KB each); the least used go first.
const MAX_FRAMES: u64 = 2048;
/// A kept frame is rendered again after this long (it shows the year, from `now()`).
const FRAME_TTL: Duration = Duration::from_secs(600);

/// Renders a store page's frame once per state of its `shop` value instead of every time.
///
/// Every default store page extends `store/base.html`, whose output depends on the page
/// only through its blocks (title, description, head, content) and on the shopper only
/// through `shop.cart_count`. At start-up each such page gets a twin that extends a base
/// holding nothing but those blocks, separated by a marker no data can hold (random per
/// process); `store/base.html` itself is rendered with a marker in each block and a
/// marker number as the cart count, and cut at the markers. A page is then its twin's
/// blocks put into the kept frame's cuts. Frames are kept per `shop` value (compared in
/// full, the cart count aside), so any change to the store's settings or menus, which
/// changes `shop`, renders a new frame. Stores with their own templates render in their
/// sandbox and never come here.
struct Framing {
    /// Separates blocks in a twin's output and marks them in the frame.
    marker: String,
    /// The cart count the frame is rendered with, found and cut out of it.
    count_marker: i64,
    /// How many blocks `store/base.html` has.
    blocks: usize,
    /// The pages that have a twin.
    pages: HashSet<String>,
    frames: moka::sync::Cache<u64, Arc<Frame>>,
    hasher: std::hash::RandomState,
}

/// A rendered frame, cut where the page's parts go.
struct Frame {
    /// The `shop` value it was rendered for.
    shop: Map<String, Value>,
    pieces: Vec<Piece>,
    text_len: usize,
}

enum Piece {
    Text(String),
    Block(usize),
    CartCount,
}

impl Framing {
    /// The framing for these templates and the templates it adds, or None when
    /// `store/base.html` is missing or its blocks are not a flat list.
    fn prepare(files: &[(String, String)]) -> Option<(Self, Vec<(String, String)>)> {
        let base = &files.iter().find(|(n, _)| n == "store/base.html")?.1;
        let blocks = block_defaults(base)?;
        let marker = format!("\u{1}frame-{:016x}\u{1}", rand::random::<u64>());
        // 19 digits: no store data holds it by chance.
        let count_marker =
            1_000_000_000_000_000_000 + (rand::random::<u64>() % 1_000_000_000_000_000_000) as i64;
        let mut twin_base = String::new();
        let mut frame = String::from("{% extends \"store/base.html\" %}");
        for (i, (name, default)) in blocks.iter().enumerate() {
            if i > 0 {
                twin_base.push_str(&marker);
            }
            twin_base.push_str(&format!(
                "{{% block {name} %}}{default}{{% endblock {name} %}}"
            ));
            frame.push_str(&format!(
                "{{% block {name} %}}{marker}{i}{{% endblock {name} %}}"
            ));
        }
        const EXTENDS: &str = "{% extends \"store/base.html\" %}";
        let twin_base_name = format!("{FRAMED_PREFIX}base.html");
        let mut derived = vec![
            (twin_base_name.clone(), twin_base),
            (FRAME_TEMPLATE.to_owned(), frame),
        ];
        let mut pages = HashSet::new();
        for (name, source) in files {
            if !name.starts_with("store/") || !source.trim_start().starts_with(EXTENDS) {
                continue;
            }
            let twin =
                source.replacen(EXTENDS, &format!("{{% extends \"{twin_base_name}\" %}}"), 1);
            derived.push((format!("{FRAMED_PREFIX}{name}"), twin));
            pages.insert(name.clone());
        }
        let framing = Self {
            marker,
            count_marker,
            blocks: blocks.len(),
            pages,
            frames: moka::sync::Cache::builder()
                .max_capacity(MAX_FRAMES)
                .time_to_live(FRAME_TTL)
                .build(),
            hasher: std::hash::RandomState::new(),
        };
        Some((framing, derived))
    }

    /// Where a frame for `shop` is kept: a hash of it (of each string's length and head),
    /// the cart count aside; with `plain_only`, a hash of its plain values alone.
    fn key(&self, shop: &Map<String, Value>, plain_only: bool) -> u64 {
        let mut h = self.hasher.build_hasher();
        for (k, v) in shop {
            if k != "cart_count" && !(plain_only && is_nested(v)) {
                k.hash(&mut h);
                hash_json(v, &mut h);
            }
        }
        h.finish()
    }

    /// `text` (the frame template's output) cut at the block markers and the cart count;
    /// None unless each block shows exactly once.
    fn cut(&self, text: &str, shop: Map<String, Value>) -> Option<Frame> {
        let count = self.count_marker.to_string();
        let mut pieces = Vec::new();
        let mut seen = vec![0; self.blocks];
        let push_text = |pieces: &mut Vec<Piece>, text: &str| {
            let mut parts = text.split(count.as_str());
            if let Some(first) = parts.next() {
                pieces.push(Piece::Text(first.to_owned()));
            }
            for part in parts {
                pieces.push(Piece::CartCount);
                pieces.push(Piece::Text(part.to_owned()));
            }
        };
        let mut parts = text.split(self.marker.as_str());
        push_text(&mut pieces, parts.next()?);
        for part in parts {
            let digits = part.bytes().take_while(u8::is_ascii_digit).count();
            let i: usize = part[..digits].parse().ok()?;
            *seen.get_mut(i)? += 1;
            pieces.push(Piece::Block(i));
            push_text(&mut pieces, &part[digits..]);
        }
        if seen.iter().any(|&n| n != 1) {
            return None;
        }
        pieces.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
        let text_len = pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.len(),
                _ => 0,
            })
            .sum();
        Some(Frame {
            shop,
            pieces,
            text_len,
        })
    }
}

/// The blocks of a base template in order, with their default content; None when a block
/// holds another or is not closed by name.
fn block_defaults(source: &str) -> Option<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{% block ") {
        let after = &rest[start + "{% block ".len()..];
        let name_end = after.find(" %}")?;
        let name = after[..name_end].trim().to_owned();
        let body = &after[name_end + " %}".len()..];
        let close = format!("{{% endblock {name} %}}");
        let end = body.find(&close)?;
        let default = &body[..end];
        if default.contains("{% block") || default.contains("{%- block") {
            return None;
        }
        blocks.push((name, default.to_owned()));
        rest = &body[end + close.len()..];
    }
    if blocks.is_empty() || source.contains("{%- block") || source.contains("-%}") {
        return None;
    }
    Some(blocks)
}

/// The entry of `shop` naming the kept store frame its settings and menus come from.
const FRAME_ID: &str = "frame_id";

fn is_nested(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
}

/// Whether two `shop` values are the same, the cart count aside; with `plain_only`, whether
/// their plain values are (the frame id among them).
fn same_shop(kept: &Map<String, Value>, shop: &Map<String, Value>, plain_only: bool) -> bool {
    kept.len() == shop.len()
        && shop.iter().all(|(k, v)| {
            k == "cart_count" || (plain_only && is_nested(v)) || kept.get(k) == Some(v)
        })
}

fn hash_json(value: &Value, h: &mut impl Hasher) {
    match value {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => {
            h.write_u8(1);
            b.hash(h);
        }
        Value::Number(n) => {
            h.write_u8(2);
            n.to_string().hash(h);
        }
        Value::String(s) => {
            // Length and head only: a kept frame is compared in full before use, so the
            // key need only tell states apart, and a store's policies run to many KB.
            h.write_u8(3);
            h.write_usize(s.len());
            h.write(&s.as_bytes()[..s.len().min(64)]);
        }
        Value::Array(items) => {
            h.write_u8(4);
            h.write_usize(items.len());
            for item in items {
                hash_json(item, h);
            }
        }
        Value::Object(map) => {
            h.write_u8(5);
            h.write_usize(map.len());
            for (k, v) in map {
                k.hash(h);
                hash_json(v, h);
            }
        }
    }
}

/// The default theme's templates (`store/...`, not its assets) as `(name, source)`, sorted
/// by name: what a merchant may override, and what a store's sandboxed template set is built
/// from. Files that are not UTF-8 are left out (start-up refuses them anyway).
pub fn default_store_templates() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = TemplateFiles::iter()
        .filter(|name| name.starts_with("store/") && !name.starts_with("store/assets/"))
        .filter_map(|name| {
            let file = TemplateFiles::get(&name)?;
            let text = String::from_utf8(file.data.into_owned()).ok()?;
            Some((name.into_owned(), text))
        })
        .collect();
    files.sort();
    files
}

/// HTML escaping for text and attribute values: `& < > " '`. Tera's default also escapes
/// `/`, which only bloats every URL without making anything safer.
pub fn escape_html(input: &str) -> String {
    // Most values (names, prices, URLs) hold nothing to escape: one scan, one copy.
    let Some(first) = input
        .bytes()
        .position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    else {
        return input.to_owned();
    };
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    out.push_str(&input[..first]);
    for c in input[first..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Tera's top-level error only says which template failed; the cause says why.
fn tera_error_chain(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Views, escape_html};

    fn sample_shop(name: &str, cart_count: i64) -> Value {
        let link = |title: &str, url: &str, children: Value| json!({ "title": title, "url": url, "children": children });
        json!({
            "store": {
                "name": name, "contact_email": "shop@example.com", "currency": "EUR",
                "timezone": "Europe/Paris", "locale": "fr", "low_stock_threshold": 5,
                "logo_key": "logo/abc", "logo_alt": "", "color_accent": "#112233",
                "color_text": "#000000", "color_background": "#ffffff", "phone": "+33 1 23",
                "address_line1": "1 rue de la Paix", "address_line2": "", "city": "Paris",
                "region": "Île-de-France", "postal_code": "75002", "country": "FR",
                "seo_title": "", "seo_description": "Linen & wool",
                "refund_policy": "x", "refund_policy_html": "<p>x</p>",
                "shipping_policy": "", "shipping_policy_html": "",
                "privacy_policy": "p", "privacy_policy_html": "<p>p</p>",
                "terms_of_service": "", "terms_of_service_html": "",
                "customer_accounts": "optional", "logo_url": "/media/logo/abc/480.webp",
                "home_title": name
            },
            "main_menu": [
                link("Home", "/", json!([])),
                link("Shop", "/collections/all", json!([link("Shirts", "/collections/shirts", json!([]))])),
            ],
            "footer_menu": [link("About <us>", "/pages/about", json!([]))],
            "cart_count": cart_count,
            "base_url": "https://shop.example.com",
            "stylesheet": "/assets/theme.css",
            "script": "/assets/theme.js"
        })
    }

    fn sample_cart(name: &str, count: i64) -> Value {
        let line = json!({
            "variant_id": "01a24819-f3ad-702f-ad57-9106255cd426",
            "url": "/products/linen?variant=01a24819-f3ad-702f-ad57-9106255cd426",
            "product_title": "Linen <shirt>", "variant_title": "M / Blue", "sku": "L-1",
            "image_url": "/media/p/1/160.webp", "image_alt": "A shirt", "quantity": 2,
            "max_quantity": 3, "unit_price": "€20.00", "compare_at": "€25.00",
            "line_total": "€40.00", "error": "Only 3 left."
        });
        json!({
            "shop": sample_shop(name, count), "lines": [line], "notices": ["A price changed."],
            "subtotal": "€40.00", "item_count": count
        })
    }

    #[test]
    fn a_store_page_put_into_its_kept_frame_reads_as_the_page_rendered_whole() {
        let views = Views::load().unwrap();
        assert!(views.framing.is_some(), "store/base.html can be framed");
        let mut framed_pages = 0;
        for (name, count) in [
            ("Tom & Jerry's <Shop>", 0),
            ("Tom & Jerry's <Shop>", 3),
            ("Other", 12),
        ] {
            let mut pages = crate::theme::samples::pages(sample_shop(name, count));
            pages.push(("store/cart.html", sample_cart(name, count)));
            for (page, view) in pages {
                let context = tera::Context::from_value(view).unwrap();
                // A sample that has fallen behind its view renders neither way.
                let Ok(whole) = views.tera.render(page, &context) else {
                    assert!(views.render_framed(page, &context).is_none(), "{page}");
                    continue;
                };
                let framed = views
                    .render_framed(page, &context)
                    .unwrap_or_else(|| panic!("{page} is put into its frame"));
                assert_eq!(framed, whole, "{page} with {count} in the cart");
                framed_pages += 1;
            }
        }
        assert!(
            framed_pages >= 21,
            "only {framed_pages} sample pages rendered"
        );
    }

    #[test]
    fn a_changed_store_gets_a_new_frame_and_each_shopper_their_cart_count() {
        let views = Views::load().unwrap();
        let render = |name: &str, count: i64| {
            let view = json!({ "shop": sample_shop(name, count) });
            views.render("store/404.html", &view).unwrap()
        };
        let first = render("First name", 1);
        assert!(first.contains("First name"));
        assert!(first.contains(">1</span>"), "{first}");
        let renamed = render("Second name", 1);
        assert!(renamed.contains("Second name") && !renamed.contains("First name"));
        let other_cart = render("Second name", 7);
        assert!(other_cart.contains(">7</span>") && !other_cart.contains(">1</span>"));
        let frames = &views.framing.as_ref().unwrap().frames;
        frames.run_pending_tasks();
        assert_eq!(frames.entry_count(), 2);
    }

    #[test]
    fn a_shop_with_a_frame_id_is_framed_by_its_id_and_address() {
        let views = Views::load().unwrap();
        let shop = |id: u64, name: &str, base_url: &str, count: i64| {
            let mut shop = sample_shop(name, count);
            shop["frame_id"] = json!(id);
            shop["base_url"] = json!(base_url);
            json!({ "shop": shop })
        };
        let render = |view: &Value| views.render("store/404.html", view).unwrap();
        let whole = |view: &Value| {
            let context = tera::Context::from_value(view.clone()).unwrap();
            views.tera.render("store/404.html", &context).unwrap()
        };
        let frames = &views.framing.as_ref().unwrap().frames;
        let count_frames = || {
            frames.run_pending_tasks();
            frames.entry_count()
        };

        let first = shop(7, "Tom & Jerry's", "https://a.example.com", 1);
        assert_eq!(render(&first), whole(&first));
        // Another shopper of the same store and address: the kept frame, their count.
        let other_cart = shop(7, "Tom & Jerry's", "https://a.example.com", 4);
        assert_eq!(render(&other_cart), whole(&other_cart));
        assert_eq!(count_frames(), 1);
        // The same frame on another of the store's addresses is another frame.
        let other_host = shop(7, "Tom & Jerry's", "https://shop.example.org", 1);
        assert_eq!(render(&other_host), whole(&other_host));
        // A changed store comes with a new frame id, and shows the change.
        let renamed = shop(8, "Renamed", "https://a.example.com", 1);
        let page = render(&renamed);
        assert!(
            page.contains("Renamed") && !page.contains("Jerry"),
            "{page}"
        );
        assert_eq!(count_frames(), 3);
        // Under one id the frame stands for the settings: what the id promises is what
        // is shown, however the nested values compare.
        let same_id = shop(8, "Not looked at", "https://a.example.com", 2);
        let page = render(&same_id);
        assert!(
            page.contains("Renamed") && page.contains(">2</span>"),
            "{page}"
        );
        assert_eq!(count_frames(), 3);
    }

    #[test]
    fn escapes_markup_characters_and_leaves_the_rest() {
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("Linen Shirt · €20"), "Linen Shirt · €20");
        assert_eq!(
            escape_html("/products/a?b=1&c=<x>"),
            "/products/a?b=1&amp;c=&lt;x&gt;"
        );
        assert_eq!(escape_html("é\"'<script>"), "é&quot;&#x27;&lt;script&gt;");
    }
}
