//! The Tera templates, embedded in the binary (read from disk in debug builds).

use rust_embed::RustEmbed;
use serde::Serialize;

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
        tera.add_raw_templates(files)
            .map_err(|e| anyhow::anyhow!("{}", tera_error_chain(&e)))?;
        tera.autoescape_on(vec![".html", ".xml"]);
        tera.set_escape_fn(escape_html);
        Ok(Self { tera })
    }

    /// Whether a template by this name was loaded (for optional parts such as an email's
    /// `body.html`).
    pub fn has(&self, template: &str) -> bool {
        self.tera.get_template_names().any(|name| name == template)
    }

    /// Renders `template` with a typed view.
    pub fn render<V: Serialize>(&self, template: &str, view: &V) -> Result<String, AppError> {
        let context = tera::Context::from_serialize(view)
            .map_err(|e| anyhow::anyhow!("view for {template}: {e}"))?;
        self.tera
            .render(template, &context)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{}", tera_error_chain(&e))))
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
    use super::escape_html;

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
