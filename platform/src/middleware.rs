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
/// tracing span (with request id and tenant), compression (brotli or gzip, as the client
/// accepts; images and tiny bodies are left alone), error rendering, panic catching,
/// compressed request bodies decoded (gzip, deflate, br; bounded, see
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
            .layer(CompressionLayer::new())
            .layer(from_fn_with_state(state, render_errors))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(from_fn(body_encoding::accept_encodings))
            .layer(RequestDecompressionLayer::new())
            .layer(MapRequestLayer::new(body_encoding::limit_decoded))
            .layer(from_fn(crate::input::guard)),
    )
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
