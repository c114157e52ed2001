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

/// `POST /operator/login`.
pub async fn create_session(
    State(app): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
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
                SignInScope::Operator,
            )
            .await?
        }
        // No email address: refused without checking a password.
        Err(_) => None,
    };
    let Some(user_id) = user else {
        let page = render(
            &session,
            &app,
            &form.email,
            Some("Email or password is incorrect."),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
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
