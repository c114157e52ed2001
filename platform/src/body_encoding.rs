//! Compressed request bodies. An API client may send its body with `Content-Encoding:
//! gzip`, `deflate` or `br`: it is decoded before anything reads it, and a decoded body
//! larger than [`MAX_DECODED_BYTES`] is a 413 however small it came (a zip bomb costs a
//! bounded read, never memory). Any other encoding is a 415 naming the ones accepted.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{self as http, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use http_body_util::Limited;
use tower_http::decompression::DecompressionBody;

use crate::error::AppError;

/// Largest decoded body: what every form and JSON endpoint reads (uploads are never sent
/// compressed by browsers, and compressing images or CSV files gains little).
pub const MAX_DECODED_BYTES: usize = crate::input::MAX_FORM_BYTES;

/// The encodings decoded, as `Content-Encoding` names them.
const ACCEPTED: [&str; 3] = ["gzip", "deflate", "br"];

/// Marks a request whose body is decoded (for [`limit_decoded`]).
#[derive(Clone, Copy)]
struct Decoded;

/// Before the decoder: a body in an encoding it does not know is refused with a 415
/// (the decoder's own 415 has no body), and the accepted names are written as the decoder
/// matches them (`GZIP`, ` gzip `, `x-gzip`).
pub async fn accept_encodings(mut req: Request, next: Next) -> Response {
    let Some(value) = req.headers().get(header::CONTENT_ENCODING) else {
        return next.run(req).await;
    };
    let name = value
        .to_str()
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let name = match name.as_str() {
        "x-gzip" => "gzip",
        other => other,
    };
    if name == "identity" || name.is_empty() {
        req.headers_mut().remove(header::CONTENT_ENCODING);
        return next.run(req).await;
    }
    let Some(&accepted) = ACCEPTED.iter().find(|a| **a == name) else {
        return AppError::UnsupportedMediaType(format!(
            "The request body's Content-Encoding is not one this server decodes: send it \
             uncompressed, or as {}.",
            ACCEPTED.join(", ")
        ))
        .into_response();
    };
    req.headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static(accepted));
    req.extensions_mut().insert(Decoded);
    next.run(req).await
}

/// After the decoder: every body back in axum's type, and a decoded one ends with an error
/// once it passes [`MAX_DECODED_BYTES`], which whoever reads it answers with a 413.
pub fn limit_decoded(req: http::Request<DecompressionBody<Body>>) -> Request {
    let decoded = req.extensions().get::<Decoded>().is_some();
    req.map(|body| {
        if decoded {
            Body::new(Limited::new(body, MAX_DECODED_BYTES))
        } else {
            Body::new(body)
        }
    })
}
