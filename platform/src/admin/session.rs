//! Signing in to and out of a store's admin.

use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

use crate::accounts::{self, Email, SignInScope};
use crate::app::AppState;
use crate::error::{AppError, wait_in_words};
use crate::extract::{ClientIp, CurrentMerchant, CurrentTenant, request_base_url};
use crate::mail::{EmailTemplate as _, SignInLink};
use crate::sign_in_throttle::{self, Standing, ThrottleKey};
use crate::tokens::{self, Purpose};
use crate::{csrf, mail_outbox, rate_limit, sessions};

/// How long a cross-host login link (from signup) stays valid.
pub const LOGIN_LINK_TTL: Duration = Duration::from_secs(120);
/// How long a mailed sign-in link stays valid.
pub const SIGN_IN_LINK_TTL: Duration = Duration::from_secs(15 * 60);

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
    /// Set while this address waits before its next try at the account (after its free
    /// failures): how long, in words; the page then offers a sign-in link by mail.
    slowed: Option<String>,
    /// The address a sign-in link was asked for.
    link_sent_to: Option<&'a str>,
    /// How long a sign-in link works, in minutes.
    link_minutes: u64,
}

/// What the sign-in page shows besides the form.
#[derive(Default)]
struct LoginNotes<'a> {
    error: Option<&'a str>,
    slowed: Option<Standing>,
    link_sent_to: Option<&'a str>,
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
    notes: LoginNotes<'_>,
) -> Result<Html<String>, AppError> {
    let view = LoginView {
        store_name: &tenant.name,
        csrf: csrf::token(session).await?,
        email,
        next,
        error: notes.error,
        slowed: notes
            .slowed
            .and_then(|s| s.retry_after_secs())
            .map(wait_in_words),
        link_sent_to: notes.link_sent_to,
        link_minutes: SIGN_IN_LINK_TTL.as_secs() / 60,
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
        LoginNotes::default(),
    )
    .await
}

/// `POST /admin/login`: checks the password of a member of this store and signs in.
///
/// The cheap checks come first: the rate limit per address, the email's form, then this
/// address's failures on this account (one read); only then is the password checked.
/// Failures count per account *and* address: after a few, each one makes this address
/// wait twice as long (429 with `Retry-After` while it lasts) and the page offers a sign-in
/// link by mail. The owner signing in from anywhere else is not slowed at all.
pub async fn create_session(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    app.limits.hit_ip(rate_limit::LOGIN_PER_IP, ip).await?;
    let page = |notes: LoginNotes<'static>| {
        render_login(&app, &tenant, &session, &form.email, &next, notes)
    };
    let Ok(email) = Email::parse(&form.email) else {
        let notes = LoginNotes {
            error: Some(INCORRECT),
            ..LoginNotes::default()
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(notes).await?).into_response());
    };
    let key = ThrottleKey::store_admin(tenant.id, email.as_str(), ip);
    let standing = sign_in_throttle::check(&app.db, &key).await?;
    if let Some(secs) = standing.retry_after_secs() {
        let notes = LoginNotes {
            error: Some("Too many failed sign-ins: this try was not checked."),
            slowed: Some(standing),
            ..LoginNotes::default()
        };
        let mut res = (StatusCode::TOO_MANY_REQUESTS, page(notes).await?).into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(res);
    }
    let user = accounts::check_credentials(
        &app.db,
        &app.passwords,
        &email,
        &form.password,
        SignInScope::Store(tenant.id),
    )
    .await?;
    let Some(user_id) = user else {
        let after = sign_in_throttle::record_failure(&app.db, &key).await?;
        let notes = LoginNotes {
            error: Some(INCORRECT),
            slowed: Some(after),
            ..LoginNotes::default()
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(notes).await?).into_response());
    };
    if standing.failures > 0 {
        sign_in_throttle::clear(&app.db, &key).await?;
    }
    sign_in(&session, user_id, tenant.id).await?;
    Ok(Redirect::to(&next).into_response())
}

const INCORRECT: &str = "Email or password is incorrect.";

#[derive(Deserialize)]
pub struct LinkRequestForm {
    #[serde(default)]
    email: String,
}

/// `POST /admin/login/link`: mails a single-use sign-in link to a member of this store.
/// The answer is the same whether or not the address has an account here; the mail is
/// limited per address and per account like the password reset's.
pub async fn send_sign_in_link(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LinkRequestForm>,
) -> Result<Response, AppError> {
    // Not the sign-in limit: an owner sharing an address with whoever spent it still
    // gets a link.
    app.limits.hit_ip(rate_limit::MAIL_PER_IP, ip).await?;
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(m) => {
            let error = format!("Email {m}.");
            let notes = LoginNotes {
                error: Some(&error),
                ..LoginNotes::default()
            };
            let page = render_login(&app, &tenant, &session, &form.email, "/admin", notes).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    app.limits
        .hit(rate_limit::MAIL_PER_ACCOUNT, email.as_str())
        .await?;
    let member = accounts::store_member(&app.db, &email, tenant.id).await?;
    if let Some(user_id) = member {
        let mut tx = tenant_store::begin_platform(&app.db).await?;
        let token = tokens::issue(
            &mut tx,
            Purpose::SignInLink,
            user_id,
            Some(tenant.id),
            SIGN_IN_LINK_TTL,
        )
        .await?;
        let mail = SignInLink {
            store_name: tenant.name.clone(),
            link: format!(
                "{}/admin/login/link/{token}",
                request_base_url(&app, &headers)
            ),
            expires_in_minutes: (SIGN_IN_LINK_TTL.as_secs() / 60) as u32,
        }
        .render(&app.views, email.as_str(), &app.settings.mail_from())?;
        mail_outbox::enqueue(&mut tx, &mail).await?;
        tx.commit().await?;
    }
    let notes = LoginNotes {
        link_sent_to: Some(email.as_str()),
        ..LoginNotes::default()
    };
    let page = render_login(&app, &tenant, &session, email.as_str(), "/admin", notes).await?;
    Ok(page.into_response())
}

#[derive(Serialize)]
struct LinkView<'a> {
    store_name: &'a str,
    csrf: String,
}

fn link_expired() -> AppError {
    AppError::BadRequest(
        "This sign-in link has expired or was already used. Sign in with your password, or ask for a new link."
            .into(),
    )
}

/// `GET /admin/login/link/{token}`: a button that signs in. Opening the link uses nothing
/// up (mail scanners open links too); the button's POST does.
pub async fn show_sign_in_link(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    Path(token): Path<String>,
) -> Result<Html<String>, AppError> {
    let mut conn = app.db.acquire().await?;
    if tokens::peek(&mut conn, Purpose::SignInLink, &token, Some(tenant.id))
        .await?
        .is_none()
    {
        return Err(link_expired());
    }
    drop(conn);
    let view = LinkView {
        store_name: &tenant.name,
        csrf: csrf::token(&session).await?,
    };
    Ok(Html(app.views.render("admin/login_link.html", &view)?))
}

/// `POST /admin/login/link/{token}`: uses the link up and signs in; this address's failed
/// passwords on the account are forgotten.
pub async fn use_sign_in_link(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Result<Redirect, AppError> {
    app.limits.hit_ip(rate_limit::LINK_FORMS_PER_IP, ip).await?;
    let mut conn = app.db.acquire().await?;
    let user = tokens::redeem(&mut conn, Purpose::SignInLink, &token, Some(tenant.id)).await?;
    let Some(user_id) = user else {
        return Err(link_expired());
    };
    let email: String = sqlx::query_scalar("SELECT email FROM platform.users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    sign_in_throttle::clear(&app.db, &ThrottleKey::store_admin(tenant.id, &email, ip)).await?;
    sign_in(&session, user_id, tenant.id).await?;
    Ok(Redirect::to("/admin"))
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
