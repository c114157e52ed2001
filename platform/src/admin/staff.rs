//! Staff: the owner (or an admin) invites people by email with a role and permissions,
//! revokes invitations and removes members. Invitations are single-use and expire.

use std::time::Duration;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

use crate::accounts::{self, Email};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{ClientIp, CurrentMerchant, CurrentTenant, PERMISSIONS, request_base_url};
use crate::mail::{EmailTemplate as _, StaffInvite};
use crate::sign_in_throttle::{self, ThrottleKey};
use crate::tokens;
use crate::{csrf, mail_outbox, rate_limit};

/// How long an invitation stays open.
pub const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Serialize, sqlx::FromRow)]
struct Member {
    user_id: Uuid,
    email: String,
    role: String,
    permissions: Vec<String>,
}

#[derive(Serialize, sqlx::FromRow)]
struct Invitation {
    id: Uuid,
    email: String,
    role: String,
    permissions: Vec<String>,
    expires_at: DateTime<Utc>,
}

/// What the inviter typed (kept when the form comes back).
#[derive(Default, Deserialize, Serialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    products: Option<String>,
    #[serde(default)]
    orders: Option<String>,
    #[serde(default)]
    customers: Option<String>,
    #[serde(default)]
    settings: Option<String>,
    #[serde(default)]
    reports: Option<String>,
}

impl InviteForm {
    fn permissions(&self) -> Vec<String> {
        let chosen = [
            &self.products,
            &self.orders,
            &self.customers,
            &self.settings,
            &self.reports,
        ];
        PERMISSIONS
            .iter()
            .zip(chosen)
            .filter(|(_, on)| on.is_some())
            .map(|(p, _)| (*p).to_owned())
            .collect()
    }
}

#[derive(Serialize)]
struct StaffView<'a> {
    store_name: &'a str,
    merchant_email: &'a str,
    csrf: String,
    members: Vec<Member>,
    invitations: Vec<Invitation>,
    all_permissions: &'static [&'static str],
    form: &'a InviteForm,
    errors: std::collections::BTreeMap<&'static str, String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    form: &InviteForm,
    errors: std::collections::BTreeMap<&'static str, String>,
) -> Result<Html<String>, AppError> {
    let members: Vec<Member> = sqlx::query_as(
        "SELECT u.id AS user_id, u.email, m.role, m.permissions FROM platform.memberships m \
         JOIN platform.users u ON u.id = m.user_id WHERE m.tenant_id = $1 \
         ORDER BY m.role = 'owner' DESC, u.email",
    )
    .bind(tenant.id)
    .fetch_all(&app.db)
    .await?;
    let invitations: Vec<Invitation> = sqlx::query_as(
        "SELECT id, email, role, permissions, expires_at FROM platform.invitations \
         WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now() \
         ORDER BY created_at",
    )
    .bind(tenant.id)
    .fetch_all(&app.db)
    .await?;
    let view = StaffView {
        store_name: &tenant.name,
        merchant_email: &merchant.email,
        csrf: csrf::token(&merchant.session).await?,
        members,
        invitations,
        all_permissions: &PERMISSIONS,
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/staff.html", &view)?))
}

/// `GET /admin/staff`.
pub async fn list_staff(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require_manager()?;
    render(
        &app,
        &tenant,
        &merchant,
        &InviteForm::default(),
        Default::default(),
    )
    .await
}

/// `POST /admin/staff/invitations`: invites an address (replacing an open invitation to it).
pub async fn create_invitation(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Result<Response, AppError> {
    merchant.require_manager()?;
    let mut errors = std::collections::BTreeMap::new();
    let email = Email::parse(&form.email)
        .map_err(|m| errors.insert("email", format!("Email {m}.")))
        .ok();
    if !matches!(form.role.as_str(), "admin" | "staff") {
        errors.insert("role", "Choose admin or staff.".into());
    }
    if let Some(email) = &email {
        let member: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM platform.memberships m JOIN platform.users u ON u.id = m.user_id \
             WHERE m.tenant_id = $1 AND u.email = $2)",
        )
        .bind(tenant.id)
        .bind(email.as_str())
        .fetch_one(&app.db)
        .await?;
        if member {
            errors.insert("email", "This person already works in this store.".into());
        }
    }
    let (Some(email), true) = (email, errors.is_empty()) else {
        let page = render(&app, &tenant, &merchant, &form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let permissions = if form.role == "admin" {
        Vec::new()
    } else {
        form.permissions()
    };
    let token = tokens::random_token();
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    sqlx::query(
        "UPDATE platform.invitations SET revoked_at = now() \
         WHERE tenant_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(tenant.id)
    .bind(email.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO platform.invitations (id, tenant_id, email, role, permissions, token_hash, invited_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
    )
    .bind(Uuid::now_v7())
    .bind(tenant.id)
    .bind(email.as_str())
    .bind(&form.role)
    .bind(&permissions)
    .bind(tokens::token_hash(&token))
    .bind(merchant.user_id)
    .bind(INVITE_TTL.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    let mail = StaffInvite {
        store_name: tenant.name.clone(),
        inviter: merchant.email.clone(),
        role: form.role.clone(),
        link: format!(
            "{}/admin/invitations/{token}",
            request_base_url(&app, &headers)
        ),
        expires_in_days: (INVITE_TTL.as_secs() / 86_400) as u32,
    }
    .render(&app.views, email.as_str(), &app.settings.mail_from())?;
    mail_outbox::enqueue(&mut tx, &mail).await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/staff").into_response())
}

/// `POST /admin/staff/invitations/{id}/revoke`.
pub async fn revoke_invitation(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Redirect, AppError> {
    merchant.require_manager()?;
    let done = sqlx::query(
        "UPDATE platform.invitations SET revoked_at = now() \
         WHERE id = $1 AND tenant_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(tenant.id)
    .execute(&app.db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/admin/staff"))
}

/// `POST /admin/staff/members/{user_id}/remove`: the member loses access at their next request.
pub async fn remove_member(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(user_id): Path<Uuid>,
) -> Result<Redirect, AppError> {
    merchant.require_manager()?;
    if user_id == merchant.user_id {
        return Err(AppError::BadRequest("You cannot remove yourself.".into()));
    }
    let done = sqlx::query(
        "DELETE FROM platform.memberships WHERE tenant_id = $1 AND user_id = $2 AND role <> 'owner'",
    )
    .bind(tenant.id)
    .bind(user_id)
    .execute(&app.db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/admin/staff"))
}

#[derive(Serialize)]
struct AcceptView<'a> {
    store_name: &'a str,
    csrf: String,
    email: &'a str,
    role: &'a str,
    has_account: bool,
    error: Option<String>,
}

/// An open invitation found by its token: (id, email, role, permissions).
async fn open_invitation(
    conn: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    token: &str,
    lock: bool,
) -> Result<(Uuid, String, String, Vec<String>), AppError> {
    let sql = format!(
        "SELECT id, email, role, permissions FROM platform.invitations \
         WHERE token_hash = $1 AND tenant_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL \
           AND expires_at > now(){}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let found: Option<(Uuid, String, String, Vec<String>)> = sqlx::query_as(&sql)
        .bind(tokens::token_hash(token))
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    found.ok_or_else(|| {
        AppError::BadRequest(
            "This invitation has expired, was revoked, or was already used. Ask for a new one."
                .into(),
        )
    })
}

async fn account_hash(app: &AppState, email: &str) -> Result<Option<(Uuid, String)>, AppError> {
    Ok(
        sqlx::query_as("SELECT id, password_hash FROM platform.users WHERE email = $1")
            .bind(email)
            .fetch_optional(&app.db)
            .await?,
    )
}

async fn render_accept(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    email: &str,
    role: &str,
    error: Option<String>,
) -> Result<Html<String>, AppError> {
    let view = AcceptView {
        store_name: &tenant.name,
        csrf: csrf::token(session).await?,
        email,
        role,
        has_account: account_hash(app, email).await?.is_some(),
        error,
    };
    Ok(Html(app.views.render("admin/invitation.html", &view)?))
}

/// `GET /admin/invitations/{token}`: the invitee sets a password (or confirms theirs).
pub async fn show_invitation(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    Path(token): Path<String>,
) -> Result<Html<String>, AppError> {
    let mut conn = app.db.acquire().await?;
    let (_, email, role, _) = open_invitation(&mut conn, tenant.id, &token, false).await?;
    render_accept(&app, &tenant, &session, &email, &role, None).await
}

/// Who accepts an invitation: an existing account, or a new one with its password hash.
enum Joiner {
    Existing(Uuid),
    New(String),
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    password: String,
}

/// `POST /admin/invitations/{token}`: joins the store and signs in. The cheap checks come
/// first (rate limit, the invitation, the password's length, the sign-in throttle); only
/// then is a password hashed or checked.
pub async fn accept_invitation(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    Form(form): Form<AcceptForm>,
) -> Result<Response, AppError> {
    app.limits.hit_ip(rate_limit::LINK_FORMS_PER_IP, ip).await?;
    let mut conn = app.db.acquire().await?;
    let (_, email, role, _) = open_invitation(&mut conn, tenant.id, &token, false).await?;
    drop(conn);
    let refuse = |error: String| {
        let (app, tenant, session, email, role) = (&app, &tenant, &session, &email, &role);
        async move {
            let page = render_accept(app, tenant, session, email, role, Some(error)).await?;
            Ok::<_, AppError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    };
    // An existing account proves it is theirs with its password (a sign-in to this store,
    // slowed like one); a new one chooses one.
    let joiner = match account_hash(&app, &email).await? {
        Some((id, hash)) => {
            let key = ThrottleKey::store_admin(tenant.id, &email, ip);
            let standing = sign_in_throttle::check(&app.db, &key).await?;
            if let Some(retry_after_secs) = standing.retry_after_secs() {
                return Err(AppError::TooManyRequests { retry_after_secs });
            }
            if !app.passwords.verify(&form.password, &hash).await? {
                sign_in_throttle::record_failure(&app.db, &key).await?;
                return refuse("That is not the password of this account.".into()).await;
            }
            if standing.failures > 0 {
                sign_in_throttle::clear(&app.db, &key).await?;
            }
            Joiner::Existing(id)
        }
        None => {
            if let Err(m) = accounts::check_new_password(&form.password) {
                return refuse(format!("Password {m}.")).await;
            }
            Joiner::New(app.passwords.hash(&form.password).await?)
        }
    };

    let mut tx = tenant_store::begin_platform(&app.db).await?;
    // Locked and checked again: two clicks on the same link create one membership.
    let (invitation_id, email, role, permissions) =
        open_invitation(&mut tx, tenant.id, &token, true).await?;
    let user_id = match joiner {
        Joiner::Existing(id) => id,
        Joiner::New(hash) => {
            let id = Uuid::now_v7();
            // The invitation reached this inbox: the address is verified.
            sqlx::query(
                "INSERT INTO platform.users (id, email, password_hash, email_verified_at) \
                 VALUES ($1, $2, $3, now())",
            )
            .bind(id)
            .bind(&email)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    sqlx::query(
        "INSERT INTO platform.memberships (user_id, tenant_id, role, permissions) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(tenant.id)
    .bind(&role)
    .bind(&permissions)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE platform.invitations SET accepted_at = now() WHERE id = $1")
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    super::session::sign_in(&session, user_id, tenant.id).await?;
    Ok(Redirect::to("/admin").into_response())
}
