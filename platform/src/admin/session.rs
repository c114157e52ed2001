//! Signing in to and out of a store's admin.

use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

use crate::accounts::{self, Email, SignInScope};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{ClientIp, CurrentMerchant, CurrentTenant};
use crate::tokens::{self, Purpose};
use crate::{csrf, rate_limit, sessions};

/// How long a cross-host login link (from signup) stays valid.
pub const LOGIN_LINK_TTL: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

#[derive(Serialize)]
struct LoginView<'a> {
    store_name: &'a str,
    csrf: String,
    email: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

/// Only paths inside this store's admin: never an open redirect.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/admin",
    }
}

async fn render_login(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    email: &str,
    next: &str,
    error: Option<&str>,
) -> Result<Html<String>, AppError> {
    let view = LoginView {
        store_name: &tenant.name,
        csrf: csrf::token(session).await?,
        email,
        next,
        error,
    };
    Ok(Html(app.views.render("admin/login.html", &view)?))
}

/// `GET /admin/login`.
pub async fn show_login(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    Query(q): Query<NextQuery>,
) -> Result<Html<String>, AppError> {
    let email = q.email.as_deref().unwrap_or("");
    render_login(
        &app,
        &tenant,
        &session,
        email,
        safe_next(q.next.as_deref()),
        None,
    )
    .await
}

/// `POST /admin/login`: checks the password of a member of this store and signs in. What
/// is no email address is refused without checking a password.
pub async fn create_session(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    app.limits.hit_ip(rate_limit::LOGIN_PER_IP, ip).await?;
    let user = match Email::parse(&form.email) {
        Ok(email) => {
            app.limits
                .hit(rate_limit::LOGIN_PER_ACCOUNT, email.as_str())
                .await?;
            accounts::check_credentials(
                &app.db,
                &app.passwords,
                &email,
                &form.password,
                SignInScope::Store(tenant.id),
            )
            .await?
        }
        Err(_) => None,
    };
    match user {
        Some(user_id) => {
            sign_in(&session, user_id, tenant.id).await?;
            Ok(Redirect::to(&next).into_response())
        }
        _ => {
            let page = render_login(
                &app,
                &tenant,
                &session,
                &form.email,
                &next,
                Some("Email or password is incorrect."),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// Starts a signed-in session under a new id (so a session id planted before sign-in is
/// worthless after it).
pub async fn sign_in(session: &Session, user_id: Uuid, tenant_id: Uuid) -> Result<(), AppError> {
    let fail = |e: tower_sessions::session::Error| AppError::Internal(e.into());
    session.cycle_id().await.map_err(fail)?;
    session
        .insert(sessions::USER_ID, user_id)
        .await
        .map_err(fail)?;
    session
        .insert(sessions::TENANT_ID, tenant_id)
        .await
        .map_err(fail)?;
    Ok(())
}

/// `POST /admin/logout`.
pub async fn destroy_session(merchant: CurrentMerchant) -> Result<Redirect, AppError> {
    merchant
        .session
        .flush()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Redirect::to("/admin/login"))
}

/// `POST /admin/logout/everywhere`: ends every session of this user, on every store and node.
pub async fn destroy_all_sessions(
    State(app): State<AppState>,
    merchant: CurrentMerchant,
) -> Result<Redirect, AppError> {
    sessions::end_all_for_user(&app.db, merchant.user_id).await?;
    // This browser's session record is gone; drop its cookie too.
    let _ = merchant.session.flush().await;
    Ok(Redirect::to("/admin/login"))
}

/// `GET /admin/session/{token}`: the one-time link signup sends the new owner to.
pub async fn redeem_login_link(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    Path(token): Path<String>,
) -> Result<Redirect, AppError> {
    let mut conn = app.db.acquire().await?;
    let user = tokens::redeem(&mut conn, Purpose::Login, &token, Some(tenant.id)).await?;
    let Some(user_id) = user else {
        return Err(AppError::BadRequest(
            "This sign-in link has expired or was already used. Sign in with your email and password."
                .into(),
        ));
    };
    sign_in(&session, user_id, tenant.id).await?;
    Ok(Redirect::to("/admin"))
}
