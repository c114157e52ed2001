//! The merchant's own account: email verification (sent at signup, resendable from the
//! admin, confirmed on the platform host).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, Redirect};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::extract::CurrentMerchant;
use crate::mail::{EmailTemplate as _, VerifyEmail};
use crate::tokens::{self, Purpose};
use crate::{mail_outbox, rate_limit};

/// How long a verification link stays valid.
pub const VERIFY_TTL: Duration = Duration::from_secs(48 * 3600);

/// Queues the verification email for `user_id` in the caller's transaction. The link goes to
/// the platform host, where accounts live.
pub async fn queue_verification_email(
    app: &AppState,
    conn: &mut PgConnection,
    user_id: Uuid,
    email: &str,
    store_name: &str,
    headers: &HeaderMap,
) -> Result<(), AppError> {
    let token = tokens::issue(conn, Purpose::VerifyEmail, user_id, None, VERIFY_TTL).await?;
    let base = crate::platform_site::platform_base_url(app, headers);
    let mail = VerifyEmail {
        store_name: store_name.to_owned(),
        link: format!("{base}/account/verify/{token}"),
        expires_in_hours: (VERIFY_TTL.as_secs() / 3600) as u32,
    }
    .render(&app.views, email, &app.settings.mail_from())?;
    mail_outbox::enqueue(conn, &mail).await?;
    Ok(())
}

/// `POST /admin/account/verification`: sends the verification email again.
pub async fn resend_verification(
    State(app): State<AppState>,
    merchant: CurrentMerchant,
    tenant: crate::extract::CurrentTenant,
    headers: HeaderMap,
) -> Result<Redirect, AppError> {
    app.limits
        .hit(rate_limit::MAIL_PER_ACCOUNT, &merchant.email)
        .await?;
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    queue_verification_email(
        &app,
        &mut tx,
        merchant.user_id,
        &merchant.email,
        &tenant.name,
        &headers,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin?verification=sent"))
}

#[derive(Serialize)]
struct MessageView<'a> {
    title: &'a str,
    message: &'a str,
}

/// `GET /account/verify/{token}` on the platform host: confirms the address, once.
pub async fn verify_email(
    State(app): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, AppError> {
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    let Some(user_id) = tokens::redeem(&mut tx, Purpose::VerifyEmail, &token, None).await? else {
        return Err(AppError::BadRequest(
            "This verification link has expired or was already used. Sign in to your store's admin to get a new one."
                .into(),
        ));
    };
    sqlx::query(
        "UPDATE platform.users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let view = MessageView {
        title: "Email address verified",
        message: "Thank you: your email address is verified.",
    };
    Ok(Html(app.views.render("platform/message.html", &view)?))
}
