//! Merchant signup: from the form on the platform host to a signed-in admin on the new
//! store's host, via a one-time login link.

use std::collections::BTreeMap;

use axum::Form;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::accounts;
use crate::admin::LOGIN_LINK_TTL;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::ClientIp;
use crate::tenancy::{self, NewTenant, ProvisionError, Subdomain};
use crate::tokens::{self, Purpose};
use crate::{csrf, rate_limit};

/// What the merchant typed (kept when the form comes back with errors).
#[derive(Default, Deserialize, Serialize)]
pub struct SignupForm {
    #[serde(default)]
    store_name: String,
    #[serde(default)]
    subdomain: String,
    #[serde(default)]
    email: String,
    #[serde(default, skip_serializing)]
    password: String,
}

#[derive(Serialize)]
struct SignupView<'a> {
    csrf: String,
    platform_domain: &'a str,
    form: &'a SignupForm,
    errors: BTreeMap<&'static str, String>,
}

async fn render(
    app: &AppState,
    session: &Session,
    form: &SignupForm,
    errors: BTreeMap<&'static str, String>,
) -> Result<Html<String>, AppError> {
    let view = SignupView {
        csrf: csrf::token(session).await?,
        platform_domain: app.hosts.platform_domain(),
        form,
        errors,
    };
    Ok(Html(app.views.render("platform/signup.html", &view)?))
}

/// `GET /signup`.
pub async fn show_signup(
    State(app): State<AppState>,
    session: Session,
) -> Result<Html<String>, AppError> {
    render(&app, &session, &SignupForm::default(), BTreeMap::new()).await
}

/// `POST /signup`: creates the store and its owner, then sends the owner to the new
/// store's admin, signed in. The cheap checks come first (rate limit, the fields, whether
/// the subdomain and address are free); only then is the password hashed.
pub async fn create_store(
    State(app): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<SignupForm>,
) -> Result<Response, AppError> {
    app.limits.hit_ip(rate_limit::SIGNUP_PER_IP, ip).await?;
    let mut errors = BTreeMap::new();
    if let Err(m) = accounts::check_new_password(&form.password) {
        errors.insert("password", format!("Password {m}."));
    }
    let parsed = NewTenant::parse(
        &form.subdomain,
        &form.store_name,
        &form.email,
        String::new(),
    );
    let mut new = match parsed {
        Ok(new) if errors.is_empty() => new,
        Ok(_) => return refuse(&app, &session, &form, errors).await,
        Err(ProvisionError::Invalid(fields)) => {
            for (field, message) in fields {
                errors.insert(form_field(field), sentence(&message));
            }
            return refuse(&app, &session, &form, errors).await;
        }
        Err(other) => return Err(AppError::Internal(other.into())),
    };
    // Provisioning checks both again, under its constraints: this only spares the hashing.
    let (subdomain_taken, email_taken): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM platform.tenants WHERE subdomain = $1), \
                EXISTS (SELECT 1 FROM platform.users WHERE email = $2)",
    )
    .bind(new.subdomain.as_str())
    .bind(new.owner_email.as_str())
    .fetch_one(&app.db)
    .await?;
    let taken = if subdomain_taken {
        Some(ProvisionError::SubdomainTaken(new.subdomain.to_string()))
    } else if email_taken {
        Some(ProvisionError::EmailTaken)
    } else {
        None
    };
    new.owner_password_hash = match taken {
        Some(taken) => return refuse_taken(&app, &session, &form, taken).await,
        None => app.passwords.hash(&form.password).await?,
    };
    new.owner_must_be_new = true;

    let done = match tenancy::provision(&app.db, &new).await {
        Ok(done) => done,
        Err(e) => return refuse_taken(&app, &session, &form, e).await,
    };
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    let token = tokens::issue(
        &mut tx,
        Purpose::Login,
        done.owner_id,
        Some(done.tenant.id),
        LOGIN_LINK_TTL,
    )
    .await?;
    crate::admin::queue_verification_email(
        &app,
        &mut tx,
        done.owner_id,
        new.owner_email.as_str(),
        &done.tenant.name,
        &headers,
    )
    .await?;
    tx.commit().await?;
    let base = super::store_base_url(&app, &headers);
    let link = format!("{}/admin/session/{token}", base(&done.tenant.subdomain));
    Ok(Redirect::to(&link).into_response())
}

/// The form again when the subdomain or the address is taken; any other refusal from
/// provisioning is an error (validation already ran, so a second refusal would be a bug).
async fn refuse_taken(
    app: &AppState,
    session: &Session,
    form: &SignupForm,
    refusal: ProvisionError,
) -> Result<Response, AppError> {
    let mut errors = BTreeMap::new();
    match refusal {
        ProvisionError::SubdomainTaken(s) => {
            errors.insert(
                "subdomain",
                format!("“{s}” is already taken; choose another."),
            );
        }
        ProvisionError::EmailTaken => {
            errors.insert(
                "email",
                "An account with this email already exists. Sign in to add a store.".into(),
            );
        }
        ProvisionError::Invalid(_) => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "provisioning refused input that passed validation"
            )));
        }
        ProvisionError::Internal(e) => return Err(AppError::Internal(e)),
    }
    refuse(app, session, form, errors).await
}

async fn refuse(
    app: &AppState,
    session: &Session,
    form: &SignupForm,
    errors: BTreeMap<&'static str, String>,
) -> Result<Response, AppError> {
    let page = render(app, session, form, errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// Form field names differ from the provisioning input's in one place.
fn form_field(field: &str) -> &'static str {
    match field {
        "subdomain" => "subdomain",
        "name" => "store_name",
        _ => "email",
    }
}

fn sentence(message: &str) -> String {
    let mut s = message.to_owned();
    if let Some(first) = s.get(0..1) {
        s.replace_range(0..1, &first.to_uppercase());
    }
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

#[derive(Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    subdomain: String,
}

#[derive(Serialize)]
pub struct CheckAnswer {
    subdomain: String,
    available: bool,
    message: String,
}

/// `GET /signup/check?subdomain=`: availability as the merchant types.
pub async fn check_subdomain(
    State(app): State<AppState>,
    Query(q): Query<CheckQuery>,
) -> Result<Json<CheckAnswer>, AppError> {
    let answer = match Subdomain::parse(&q.subdomain) {
        Err(message) => CheckAnswer {
            subdomain: q.subdomain.trim().to_lowercase(),
            available: false,
            message: sentence(&message),
        },
        Ok(sub) => {
            let taken = tenancy::find_by_subdomain(&app.db, sub.as_str())
                .await?
                .is_some();
            CheckAnswer {
                message: if taken {
                    format!("“{sub}” is already taken.")
                } else {
                    format!("{sub}.{} is available.", app.hosts.platform_domain())
                },
                subdomain: sub.to_string(),
                available: !taken,
            }
        }
    };
    Ok(Json(answer))
}
