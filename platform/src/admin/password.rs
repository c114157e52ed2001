//! Forgotten passwords: a single-use, 30-minute link by mail, then a new password. The
//! answer to "send me a link" is the same whether or not the address has an account here.

use std::time::Duration;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::accounts::{self, Email};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{ClientIp, CurrentTenant, request_base_url};
use crate::mail::{EmailTemplate as _, PasswordReset};
use crate::tokens::{self, Purpose};
use crate::{csrf, mail_outbox, rate_limit, sessions};

/// How long a reset link stays valid.
pub const RESET_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Serialize)]
struct PasswordView<'a> {
    store_name: &'a str,
    csrf: String,
    /// `request`, `sent`, `choose` or `done`.
    step: &'a str,
    email: &'a str,
    error: Option<String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    step: &str,
    email: &str,
    error: Option<String>,
) -> Result<Html<String>, AppError> {
    let view = PasswordView {
        store_name: &tenant.name,
        csrf: csrf::token(session).await?,
        step,
        email,
        error,
    };
    Ok(Html(app.views.render("admin/password.html", &view)?))
}

/// `GET /admin/password/forgot`.
pub async fn show_forgot(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
) -> Result<Html<String>, AppError> {
    render(&app, &tenant, &session, "request", "", None).await
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// `POST /admin/password/forgot`: mails a reset link to a member of this store.
pub async fn send_reset_link(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ForgotForm>,
) -> Result<Response, AppError> {
    app.limits.hit_ip(rate_limit::LOGIN_PER_IP, ip).await?;
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(m) => {
            let page = render(
                &app,
                &tenant,
                &session,
                "request",
                &form.email,
                Some(format!("Email {m}.")),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    app.limits.hit_ip(rate_limit::MAIL_PER_IP, ip).await?;
    app.limits
        .hit(rate_limit::MAIL_PER_ACCOUNT, email.as_str())
        .await?;
    let member = accounts::store_member(&app.db, &email, tenant.id).await?;
    if let Some(user_id) = member {
        let mut tx = tenant_store::begin_platform(&app.db).await?;
        let token = tokens::issue(
            &mut tx,
            Purpose::PasswordReset,
            user_id,
            Some(tenant.id),
            RESET_TTL,
        )
        .await?;
        let mail = PasswordReset {
            store_name: tenant.name.clone(),
            link: format!(
                "{}/admin/password/reset/{token}",
                request_base_url(&app, &headers)
            ),
            expires_in_minutes: (RESET_TTL.as_secs() / 60) as u32,
        }
        .render(&app.views, email.as_str(), &app.settings.mail_from())?;
        mail_outbox::enqueue(&mut tx, &mail).await?;
        tx.commit().await?;
    }
    Ok(
        render(&app, &tenant, &session, "sent", email.as_str(), None)
            .await?
            .into_response(),
    )
}

fn expired() -> AppError {
    AppError::BadRequest(
        "This password reset link has expired or was already used. Ask for a new one.".into(),
    )
}

/// `GET /admin/password/reset/{token}`: the form for the new password.
pub async fn show_reset(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    Path(token): Path<String>,
) -> Result<Html<String>, AppError> {
    let mut conn = app.db.acquire().await?;
    if tokens::peek(&mut conn, Purpose::PasswordReset, &token, Some(tenant.id))
        .await?
        .is_none()
    {
        return Err(expired());
    }
    render(&app, &tenant, &session, "choose", "", None).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
}

/// `POST /admin/password/reset/{token}`: sets the password, uses the link up, and signs the
/// account out everywhere (whoever knew the old password is out too). The cheap checks come
/// first (rate limit, the link, the password's length); only then is the password hashed.
pub async fn reset_password(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    app.limits.hit_ip(rate_limit::LINK_FORMS_PER_IP, ip).await?;
    let mut conn = app.db.acquire().await?;
    let valid = tokens::peek(&mut conn, Purpose::PasswordReset, &token, Some(tenant.id)).await?;
    drop(conn);
    if valid.is_none() {
        return Err(expired());
    }
    if let Err(m) = accounts::check_new_password(&form.password) {
        // The link stays usable: the merchant just picks a better password.
        let page = render(
            &app,
            &tenant,
            &session,
            "choose",
            "",
            Some(format!("Password {m}.")),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let hash = app.passwords.hash(&form.password).await?;
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    // Redeemed now, in the transaction that sets the password: a second click that raced
    // this one finds it used.
    let Some(user_id) =
        tokens::redeem(&mut tx, Purpose::PasswordReset, &token, Some(tenant.id)).await?
    else {
        return Err(expired());
    };
    sqlx::query("UPDATE platform.users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    sessions::end_all_for_user(&app.db, user_id).await?;
    Ok(render(&app, &tenant, &session, "done", "", None)
        .await?
        .into_response())
}
