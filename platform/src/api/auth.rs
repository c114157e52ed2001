//! Who is calling the API: the bearer token (`Authorization: Bearer sf_...`, or Shopify's
//! `X-Shopify-Access-Token`), checked against the store the Host header names, and its scopes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::ErrorDetail;
use crate::api_tokens::{self, Scope, Verified};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::CurrentTenant;

/// A caller holding a live token of the current store.
#[derive(Clone, Debug)]
pub struct ApiClient {
    /// The store the token belongs to (and the Host header names).
    pub tenant: CurrentTenant,
    token: Verified,
}

impl ApiClient {
    /// How the store's audit log names this caller: `api:<token name>`.
    pub fn actor(&self) -> String {
        format!("api:{}", self.token.name)
    }

    /// Refuses with 403, naming the scope, unless the token has it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.token.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::MissingScope(scope))
        }
    }
}

/// The token presented, if any: malformed headers count as none.
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty());
    }
    headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for ApiClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let tenant = CurrentTenant::from_request_parts(parts, app).await?;
        let Some(token) = presented(&parts.headers) else {
            return Err(ApiError::Unauthenticated);
        };
        // Scoped to this store: another store's token is as unknown here as a made-up one.
        match api_tokens::verify(&app.db, tenant.id, token).await? {
            Some(token) => Ok(Self { tenant, token }),
            None => Err(ApiError::Unauthenticated),
        }
    }
}

/// A failed API request.
#[derive(Debug)]
pub enum ApiError {
    /// Any error the platform knows (404, 422, 500, ...).
    App(AppError),
    /// 401: no token, or one that is unknown, revoked or another store's.
    Unauthenticated,
    /// 403: the token lacks this scope.
    MissingScope(Scope),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::App(e) => e.into_response(),
            Self::Unauthenticated => {
                let mut res = AppError::Unauthorized.into_response();
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"admin-api\""),
                );
                res.extensions_mut().insert(ErrorDetail {
                    message: "A valid API token is required: send it as \
                              `Authorization: Bearer <token>` or `X-Shopify-Access-Token: <token>`."
                        .into(),
                    required_scope: None,
                });
                res
            }
            Self::MissingScope(scope) => {
                let mut res = AppError::Forbidden.into_response();
                res.extensions_mut().insert(ErrorDetail {
                    message: format!("This token lacks the {scope} scope."),
                    required_scope: Some(scope.as_str()),
                });
                res
            }
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl From<tenant_store::StoreError> for ApiError {
    fn from(e: tenant_store::StoreError) -> Self {
        Self::App(e.into())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::App(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::App(AppError::Internal(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert("x-shopify-access-token", HeaderValue::from_static("sf_b"));
        assert_eq!(presented(&h), Some("sf_b"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer sf_a"),
        );
        assert_eq!(presented(&h), Some("sf_a"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented(&h), None);
    }
}
