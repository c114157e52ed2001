//! The middleware stack, in one ordered function, and the host dispatch at its centre.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse as _, Response};
use tower::util::MapRequestLayer;
use tower::{ServiceBuilder, ServiceExt as _};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::AppState;
use crate::body_encoding;
use crate::config::Environment;
use crate::error::{AppError, ErrorMarker, render_error};
use crate::extract::CurrentTenant;
use crate::tenancy::Tenant;
use crate::tenancy::hosts::Site;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the routes in the middleware every request passes, outermost first: request id,
/// tracing span (with request id and tenant), security headers, compression (brotli or
/// gzip, as the client accepts; images and tiny bodies are left alone), error rendering,
/// panic catching, compressed request bodies decoded (gzip, deflate, br; bounded, see
/// [`crate::body_encoding`]), and the input guard (refused characters in the path, query
/// string or form body: a 422 naming the field, see [`crate::input`]).
pub fn stack(state: AppState, routes: Router) -> Router {
    routes.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        let request_id = req
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!(
                            "request",
                            method = %req.method(),
                            path = %req.uri().path(),
                            request_id,
                            tenant = tracing::field::Empty,
                        )
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO))
                    // Failures are logged once, with their cause, by `render_errors`.
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(from_fn_with_state(state.clone(), security_headers))
            .layer(CompressionLayer::new())
            .layer(from_fn_with_state(state, render_errors))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(from_fn(body_encoding::accept_encodings))
            .layer(RequestDecompressionLayer::new())
            .layer(MapRequestLayer::new(body_encoding::limit_decoded))
            .layer(from_fn(crate::input::guard)),
    )
}

/// Who reads a response, for the headers that protect them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Audience {
    /// A store's shoppers (its pages may be a merchant's own templates).
    Shoppers,
    /// A store's merchant (`/admin`), or the platform's operators (`/operator`).
    Staff,
    /// Programs calling the Admin API.
    Api,
    /// Visitors of the platform site (signup, sign-in that leads to a store's host).
    Visitors,
}

impl Audience {
    fn of(state: &AppState, req: &Request) -> Self {
        let path = req.uri().path();
        let under = |prefix: &str| {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if under("/admin/api") {
            return Self::Api;
        }
        if under("/admin") || under("/operator") {
            return Self::Staff;
        }
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        if name.eq_ignore_ascii_case(state.hosts.platform_domain()) {
            Self::Visitors
        } else {
            Self::Shoppers
        }
    }

    /// The Content Security Policy. Staff pages may not be framed at all (clickjacking)
    /// and load nothing from elsewhere. A store's pages may be framed only by the store's
    /// own host (its admin), and otherwise leave the merchant's own templates free (their
    /// scripts, fonts, images and forms from anywhere) but for plugins and `<base>`.
    fn policy(self) -> &'static str {
        match self {
            Self::Staff => {
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                 script-src 'self' 'unsafe-inline'; connect-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
            }
            // Signup and sign-in send the browser on to a store's host, which a
            // `form-action 'self'` would stop.
            Self::Visitors => {
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                 script-src 'self' 'unsafe-inline'; connect-src 'self'; \
                 frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
            }
            Self::Api => "default-src 'none'; frame-ancestors 'none'",
            Self::Shoppers => "frame-ancestors 'self'; base-uri 'self'; object-src 'none'",
        }
    }
}

/// Headers every response carries (a handler's own take precedence): the Content Security
/// Policy and `X-Frame-Options` of its audience, `nosniff`, a referrer policy that keeps
/// addresses on this host, and in production `Strict-Transport-Security` (without
/// subdomains: a merchant's own domain may have others that are not ours).
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let audience = Audience::of(&state, &req);
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(audience.policy()));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static(match audience {
            Audience::Shoppers => "SAMEORIGIN",
            _ => "DENY",
        }));
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("strict-origin-when-cross-origin"));
    if state.settings.environment == Environment::Production {
        h.entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    res
}

/// Gives an error response its body: JSON for the Admin API, an HTML page otherwise.
async fn render_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/admin/api/");
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let res = next.run(req).await;
    match res.extensions().get::<ErrorMarker>().cloned() {
        Some(ErrorMarker(err)) => {
            let mut rendered = render_error(&state, &err, is_api, &request_id);
            if let Some(v) = res.headers().get(header::WWW_AUTHENTICATE) {
                rendered
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, v.clone());
            }
            rendered
        }
        None => res,
    }
}

/// A panic becomes an ordinary internal error: logged with the request id, opaque to users.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    AppError::Internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// The routers a Host header can lead to.
#[derive(Clone)]
pub struct Sites {
    /// The bare platform domain.
    pub platform: Router,
    /// Every tenant's store (storefront, admin, admin API).
    pub store: Router,
}

/// Sends a request to the platform site or to the tenant its Host header names.
pub async fn dispatch_by_host(state: AppState, sites: Arc<Sites>, mut req: Request) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or("")
        .to_owned();
    let site = match state.hosts.resolve(&host).await {
        Ok(site) => site,
        Err(e) => {
            return AppError::Internal(e.context("resolving the host")).into_response();
        }
    };
    let router = match site {
        Site::Platform => {
            tracing::Span::current().record("tenant", "platform");
            sites.platform.clone()
        }
        Site::Store(tenant) => {
            tracing::Span::current().record("tenant", tenant.subdomain.as_str());
            if let Some(redirect) = redirect_to_primary(&state, &tenant, &host, &req) {
                return redirect;
            }
            req.extensions_mut().insert(CurrentTenant(tenant));
            sites.store.clone()
        }
        Site::Unknown => return AppError::UnknownHost.into_response(),
    };
    match router.oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}

/// A store with a primary custom domain is served there: a shopper who arrives on another
/// of its hostnames gets a 301 to the same path on the primary. Not redirected: the admin
/// (the merchant must always reach it on the subdomain), health and internal endpoints, and
/// unsafe methods (a redirect would drop the form they carry).
fn redirect_to_primary(
    state: &AppState,
    tenant: &Tenant,
    host: &str,
    req: &Request,
) -> Option<Response> {
    let primary = tenant.primary_host.as_deref()?;
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let path = req.uri().path();
    let exempt = ["/admin", "/healthz", "/readyz", "/internal"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')));
    if exempt {
        return None;
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name, Some(port))
        }
        _ => (host, None),
    };
    if name.trim_end_matches('.').eq_ignore_ascii_case(primary) {
        return None;
    }
    // Production sits behind the TLS proxy on the standard port; development keeps the
    // port the visitor used so the redirect lands on this server.
    let origin = match (state.settings.environment, port) {
        (Environment::Production, _) => format!("https://{primary}"),
        (Environment::Development, Some(port)) => format!("http://{primary}:{port}"),
        (Environment::Development, None) => format!("http://{primary}"),
    };
    let path_and_query = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let location = HeaderValue::from_str(&format!("{origin}{path_and_query}")).ok()?;
    let mut res = StatusCode::MOVED_PERMANENTLY.into_response();
    res.headers_mut().insert(header::LOCATION, location);
    Some(res)
}
