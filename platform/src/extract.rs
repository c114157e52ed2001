//! Extractors that validate before a handler runs.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::tenancy::Tenant;

/// The tenant the Host header resolved to. Only store routes are reached with one.
#[derive(Clone, Debug)]
pub struct CurrentTenant(pub Arc<Tenant>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<CurrentTenant>()
            .cloned()
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("store route reached without a tenant"))
            })
    }
}

impl std::ops::Deref for CurrentTenant {
    type Target = Tenant;
    fn deref(&self) -> &Tenant {
        &self.0
    }
}

/// The merchant signed in to the current store's admin: a session for this tenant whose
/// user still has a membership here. Anyone else is sent to the admin login.
#[derive(Clone, Debug)]
pub struct CurrentMerchant {
    /// The user's id.
    pub user_id: uuid::Uuid,
    /// The user's email address.
    pub email: String,
    /// `owner`, `admin` or `staff`.
    pub role: String,
    /// For staff: the areas they may work in.
    pub permissions: Vec<String>,
    /// The session, for signing out.
    pub session: tower_sessions::Session,
}

impl FromRequestParts<crate::app::AppState> for CurrentMerchant {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::app::AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::{IntoResponse as _, Redirect};
        let internal = |e: anyhow::Error| AppError::Internal(e).into_response();
        let tenant = CurrentTenant::from_request_parts(parts, state)
            .await
            .map_err(|e| e.into_response())?;
        let session = parts
            .extensions
            .get::<tower_sessions::Session>()
            .cloned()
            .ok_or_else(|| internal(anyhow::anyhow!("admin route without a session layer")))?;
        let to_login = || {
            let next = parts.uri.path();
            Redirect::to(&format!("/admin/login?next={}", urlencode(next))).into_response()
        };
        let user: Option<uuid::Uuid> = session
            .get(crate::sessions::USER_ID)
            .await
            .map_err(|e| internal(e.into()))?;
        let signed_tenant: Option<uuid::Uuid> = session
            .get(crate::sessions::TENANT_ID)
            .await
            .map_err(|e| internal(e.into()))?;
        let (Some(user_id), Some(signed_tenant)) = (user, signed_tenant) else {
            return Err(to_login());
        };
        if signed_tenant != tenant.id {
            return Err(to_login());
        }
        let row: Option<(String, String, Vec<String>)> = sqlx::query_as(
            "SELECT u.email, m.role, m.permissions FROM platform.memberships m \
             JOIN platform.users u ON u.id = m.user_id WHERE m.user_id = $1 AND m.tenant_id = $2",
        )
        .bind(user_id)
        .bind(tenant.id)
        .fetch_optional(&state.db)
        .await
        .map_err(|e| internal(e.into()))?;
        let Some((email, role, permissions)) = row else {
            // Access was revoked since sign-in.
            let _ = session.flush().await;
            return Err(to_login());
        };
        Ok(Self {
            user_id,
            email,
            role,
            permissions,
            session,
        })
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The client's IP address: the TCP peer, or with `--trust-forwarded-for` (behind a reverse
/// proxy) the last address the proxy appended to `X-Forwarded-For`.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<crate::app::AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::app::AppState,
    ) -> Result<Self, AppError> {
        if state.settings.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|ip| ip.trim().parse().ok())
                .next_back();
            if let Some(ip) = forwarded {
                return Ok(Self(ip));
            }
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no peer address on the request")))?;
        Ok(Self(peer))
    }
}

/// Session key holding a signed-in operator's user id (platform host only).
pub const OPERATOR_ID: &str = "operator_id";

/// A signed-in platform operator; anyone else is sent to the operator login.
#[derive(Clone, Debug)]
pub struct CurrentOperator {
    /// The operator's user id.
    pub user_id: uuid::Uuid,
    /// The operator's email address.
    pub email: String,
    /// The session, for signing out.
    pub session: tower_sessions::Session,
}

impl FromRequestParts<crate::app::AppState> for CurrentOperator {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::app::AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::{IntoResponse as _, Redirect};
        let internal = |e: anyhow::Error| AppError::Internal(e).into_response();
        let session = parts
            .extensions
            .get::<tower_sessions::Session>()
            .cloned()
            .ok_or_else(|| internal(anyhow::anyhow!("operator route without a session layer")))?;
        let user: Option<uuid::Uuid> = session
            .get(OPERATOR_ID)
            .await
            .map_err(|e| internal(e.into()))?;
        let to_login = || Redirect::to("/operator/login").into_response();
        let Some(user_id) = user else {
            return Err(to_login());
        };
        let email: Option<String> = sqlx::query_scalar(
            "SELECT u.email FROM platform.operators o JOIN platform.users u ON u.id = o.user_id \
             WHERE o.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&state.db)
        .await
        .map_err(|e| internal(e.into()))?;
        let Some(email) = email else {
            let _ = session.flush().await;
            return Err(to_login());
        };
        Ok(Self {
            user_id,
            email,
            session,
        })
    }
}

/// Areas of the admin a staff member can be given.
pub const PERMISSIONS: [&str; 6] = [
    "products",
    "orders",
    "customers",
    "content",
    "settings",
    "reports",
];

impl CurrentMerchant {
    /// Whether this member may work in `area` (owners and admins may work everywhere).
    pub fn can(&self, area: &str) -> bool {
        matches!(self.role.as_str(), "owner" | "admin")
            || self.permissions.iter().any(|p| p == area)
    }

    /// Refuses with 403 unless this member may work in `area`.
    pub fn require(&self, area: &str) -> Result<(), AppError> {
        if self.can(area) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Refuses with 403 unless this member is the owner or an admin (staff management).
    pub fn require_manager(&self) -> Result<(), AppError> {
        if matches!(self.role.as_str(), "owner" | "admin") {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// `scheme://host` of the current request, for links back to the same host in emails:
/// `https` in production.
pub fn request_base_url(app: &crate::app::AppState, headers: &axum::http::HeaderMap) -> String {
    let scheme = match app.settings.environment {
        crate::config::Environment::Production => "https",
        crate::config::Environment::Development => "http",
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}
