//! Operator sign-in and sign-out.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::accounts::{self, Email, SignInScope};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{ClientIp, CurrentOperator, OPERATOR_ID};
use crate::sign_in_throttle::{self, ThrottleKey};
use crate::{csrf, rate_limit};

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct LoginView<'a> {
    csrf: String,
    email: &'a str,
    error: Option<&'a str>,
}

async fn render(
    session: &Session,
    app: &AppState,
    email: &str,
    error: Option<&str>,
) -> Result<Html<String>, AppError> {
    let view = LoginView {
        csrf: csrf::token(session).await?,
        email,
        error,
    };
    Ok(Html(app.views.render("operator/login.html", &view)?))
}

/// `GET /operator/login`.
pub async fn show_login(
    State(app): State<AppState>,
    session: Session,
) -> Result<Html<String>, AppError> {
    render(&session, &app, "", None).await
}

/// `POST /operator/login`: the cheap checks first (rate limit, the address, this address's
/// failures on the account), then the password.
pub async fn create_session(
    State(app): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    app.limits.hit_ip(rate_limit::LOGIN_PER_IP, ip).await?;
    let incorrect = || async {
        let page = render(
            &session,
            &app,
            &form.email,
            Some("Email or password is incorrect."),
        )
        .await?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let Ok(email) = Email::parse(&form.email) else {
        return incorrect().await;
    };
    let key = ThrottleKey::operator(email.as_str(), ip);
    let standing = sign_in_throttle::check(&app.db, &key).await?;
    if let Some(retry_after_secs) = standing.retry_after_secs() {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let user = accounts::check_credentials(
        &app.db,
        &app.passwords,
        &email,
        &form.password,
        SignInScope::Operator,
    )
    .await?;
    let Some(user_id) = user else {
        sign_in_throttle::record_failure(&app.db, &key).await?;
        return incorrect().await;
    };
    if standing.failures > 0 {
        sign_in_throttle::clear(&app.db, &key).await?;
    }
    let fail = |e: tower_sessions::session::Error| AppError::Internal(e.into());
    session.cycle_id().await.map_err(fail)?;
    session.insert(OPERATOR_ID, user_id).await.map_err(fail)?;
    Ok(Redirect::to("/operator").into_response())
}

/// `POST /operator/logout`.
pub async fn destroy_session(operator: CurrentOperator) -> Result<Redirect, AppError> {
    operator
        .session
        .flush()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Redirect::to("/operator/login"))
}
