//! The input guard: text PostgreSQL cannot store is refused where it enters, with a 422
//! naming the field, before any handler (or SQL) sees it. In a UTF-8 database that is NUL
//! (U+0000), which neither `text` nor `jsonb` can hold, and a lone UTF-16 surrogate, which
//! only a JSON escape (`"\ud800"`) can express. Everything else passes untouched: control
//! characters, right-to-left marks, combining accents and emoji are stored as sent.
//!
//! [`guard`] checks every request's decoded path, its query string and URL-encoded form
//! bodies; the Admin API's JSON bodies are checked by its `JsonBody` extractor with
//! [`check_json`] (which knows the field names the API reports), multipart text fields by
//! their handlers with [`check`], and CSV cells by the importer with [`refusal`].

use std::borrow::Cow;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use crate::error::AppError;

/// Largest URL-encoded form body read (bigger uploads are multipart).
pub const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// Whether `c` is refused in text input: NUL, which PostgreSQL cannot store.
pub fn is_refused(c: char) -> bool {
    c == '\0'
}

/// Why `text` cannot be taken as input (for a field error: "contains ..."), or `None`.
pub fn refusal(text: &str) -> Option<&'static str> {
    text.contains(is_refused)
        .then_some("contains a NUL character (U+0000), which cannot be stored")
}

/// Refuses `text` as the value of `field` when it holds a refused character.
pub fn check(field: &str, text: &str) -> Result<(), AppError> {
    match refusal(text) {
        Some(message) => Err(AppError::invalid(field, message)),
        None => Ok(()),
    }
}

/// Refuses a pair of a form or query string: a bad value names its field, a bad name the
/// whole `part` (`query`, `form`).
fn check_pair(part: &str, name: &str, value: &str) -> Result<(), AppError> {
    if let Some(message) = refusal(name) {
        return Err(AppError::invalid(part, format!("a field name {message}")));
    }
    check(name, value)
}

/// Checks every pair of URL-encoded `pairs` (a query string or a form body).
fn check_urlencoded(part: &str, pairs: &[u8]) -> Result<(), AppError> {
    for (name, value) in form_urlencoded::parse(pairs) {
        check_pair(part, &name, &value)?;
    }
    Ok(())
}

/// Percent-decodes a path (invalid UTF-8 becomes U+FFFD: the router refuses it anyway).
fn decode_path(path: &str) -> Cow<'_, str> {
    if !path.contains('%') {
        return Cow::Borrowed(path);
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Refuses a request whose decoded path or query string holds a refused character.
pub fn check_uri(uri: &axum::http::Uri) -> Result<(), AppError> {
    if let Some(message) = refusal(&decode_path(uri.path())) {
        return Err(AppError::invalid("path", message));
    }
    match uri.query() {
        Some(query) => check_urlencoded("query", query.as_bytes()),
        None => Ok(()),
    }
}

fn is_urlencoded(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.get(..33)
                .is_some_and(|t| t.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        })
}

/// The middleware: every request's path and query string, and URL-encoded form bodies
/// (read up to [`MAX_FORM_BYTES`]; more is a 413), are checked before routing.
pub async fn guard(req: Request, next: Next) -> Response {
    if let Err(e) = check_uri(req.uri()) {
        return e.into_response();
    }
    if !is_urlencoded(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => return body_error(&e).into_response(),
    };
    if let Err(e) = check_urlencoded("form", &bytes) {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// What a body that could not be read is answered with: 413 over the limit (a decoded
/// body included), 400 otherwise (a broken upload or compressed stream).
pub fn body_error(e: &axum::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return AppError::PayloadTooLarge(format!(
                "The request body is larger than {} MB.",
                MAX_FORM_BYTES / (1024 * 1024)
            ));
        }
        source = err.source();
    }
    AppError::BadRequest(format!("The request body could not be read: {e}"))
}

/// The first refused character in a JSON document's strings or keys, as the field it is in
/// (`variants[0].sku`, the path serde_path_to_error reports) and the message. `wrapper` (the
/// `product` of `{"product": {...}}`) is left off the name; a key names its object.
pub fn check_json(value: &serde_json::Value, wrapper: Option<&str>) -> Result<(), AppError> {
    let mut path = Vec::new();
    match find_in_json(value, &mut path) {
        Some((at, message)) => Err(AppError::invalid(json_field(&at, wrapper), message)),
        None => Ok(()),
    }
}

/// A step into a JSON document.
#[derive(Clone, Debug)]
pub enum Step {
    /// A key of an object.
    Key(String),
    /// An index of an array.
    Index(usize),
}

fn find_in_json(value: &serde_json::Value, path: &mut Vec<Step>) -> Option<(Vec<Step>, String)> {
    use serde_json::Value;
    match value {
        Value::String(s) => refusal(s).map(|m| (path.clone(), m.to_owned())),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            path.push(Step::Index(i));
            let found = find_in_json(item, path);
            path.pop();
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if let Some(m) = refusal(k) {
                return Some((path.clone(), format!("a key {m}")));
            }
            path.push(Step::Key(k.clone()));
            let found = find_in_json(v, path);
            path.pop();
            found
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// A path in the API's notation (`variants[0].sku`), `wrapper` dropped from its front, and
/// `body` for the document itself.
pub fn json_field(path: &[Step], wrapper: Option<&str>) -> String {
    let steps = match (path.first(), wrapper) {
        (Some(Step::Key(k)), Some(w)) if k == w && path.len() > 1 => &path[1..],
        _ => path,
    };
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        "body".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_refused_and_everything_else_is_not() {
        assert!(refusal("a\0b").unwrap().contains("U+0000"));
        for ok in [
            "",
            "\u{1b}[31m\u{7}\u{1}",
            "line\r\n\tnext",
            "\u{200f}שלום\u{202e}",
            "cafe\u{301}",
            "👩\u{200d}💻",
            "\u{7f}\u{85}\u{feff}\u{fffd}",
        ] {
            assert_eq!(refusal(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn paths_are_checked_decoded() {
        assert_eq!(decode_path("/products/a%00b"), "/products/a\0b");
        assert_eq!(decode_path("/a%2"), "/a%2");
        assert_eq!(decode_path("/a%zz%41"), "/a%zzA");
        let uri: axum::http::Uri = "/products/%00".parse().unwrap();
        assert!(check_uri(&uri).is_err());
        let uri: axum::http::Uri = "/search?q=%E2%80%8F%D7%A9".parse().unwrap();
        assert!(check_uri(&uri).is_ok());
        let uri: axum::http::Uri = "/search?q=a%00".parse().unwrap();
        match check_uri(&uri) {
            Err(AppError::Invalid(f)) => assert_eq!(f[0].0, "q"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_fields_are_named_as_the_api_names_them() {
        let doc = serde_json::json!({"product": {"title": "ok", "variants": [{"sku": "a"}, {"sku": "\u{0}"}]}});
        match check_json(&doc, Some("product")) {
            Err(AppError::Invalid(f)) => assert_eq!(f[0].0, "variants[1].sku"),
            other => panic!("{other:?}"),
        }
        let doc = serde_json::json!({"product": {"ti\u{0}tle": "ok"}});
        match check_json(&doc, Some("product")) {
            Err(AppError::Invalid(f)) => assert_eq!(f[0].0, "product"),
            other => panic!("{other:?}"),
        }
        assert!(check_json(&serde_json::json!({"a": ["\u{200f}\u{1}"]}), None).is_ok());
        assert_eq!(json_field(&[], None), "body");
        assert_eq!(
            json_field(&[Step::Key("page".into()), Step::Key("title".into())], None),
            "page.title"
        );
    }
}
