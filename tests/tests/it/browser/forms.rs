//! Every HTML form the product has is submitted by the browser suite: a form that only
//! reqwest ever posted could be broken by what only a browser sends.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// The value of `attr="..."` in an HTML tag.
fn attribute<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let start = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// Every `<form>` in the templates, by its `data-form` name, with where it is.
fn template_forms() -> BTreeMap<String, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let mut templates = Vec::new();
    files(&root, "html", &mut templates);
    let mut forms = BTreeMap::new();
    let mut unnamed = Vec::new();
    for path in templates {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        for (at, _) in text.match_indices("<form") {
            let tag = &text[at..at + text[at..].find('>').unwrap()];
            let line = text[..at].lines().count() + 1;
            match attribute(tag, "data-form") {
                Some(form) => {
                    let before = forms.insert(form.to_owned(), format!("{name}:{line}"));
                    assert!(before.is_none(), "two forms are named {form}");
                }
                None => unnamed.push(format!("{name}:{line}")),
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "every <form> needs a data-form name for the browser suite: {unnamed:?}"
    );
    forms
}

/// Names of forms the browser tests submit: the string after each `submit(` or
/// `submit_button(` in `tests/it/browser/`.
fn submitted_forms() -> BTreeSet<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/browser");
    let mut sources = Vec::new();
    files(&root, "rs", &mut sources);
    let mut names = BTreeSet::new();
    for path in sources {
        if path.ends_with("forms.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for call in [".submit(", ".submit_button("] {
            for (at, _) in text.match_indices(call) {
                let rest = text[at + call.len()..].trim_start();
                if let Some(literal) = rest.strip_prefix('"') {
                    names.insert(literal[..literal.find('"').unwrap()].to_owned());
                }
            }
        }
    }
    names
}

#[test]
fn every_form_in_the_templates_is_submitted_by_a_browser_test() {
    let forms = template_forms();
    assert!(forms.len() > 80, "the templates' forms were not found");
    let submitted = submitted_forms();
    let missing: Vec<String> = forms
        .iter()
        .filter(|(name, _)| !submitted.contains(*name))
        .map(|(name, at)| format!("{name} ({at})"))
        .collect();
    let unknown: Vec<&String> = submitted
        .iter()
        .filter(|name| !forms.contains_key(*name))
        .collect();
    assert!(
        unknown.is_empty(),
        "browser tests submit forms no template has: {unknown:?}"
    );
    assert!(
        missing.is_empty(),
        "{} of {} forms have no browser test that submits them:\n  {}",
        missing.len(),
        forms.len(),
        missing.join("\n  ")
    );
}
