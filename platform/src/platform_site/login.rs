//! `/login` on the platform host: finds a merchant's stores by email and sends them to the
//! store's admin sign-in (stores live on their own hosts, so their sessions do too).

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::accounts::Email;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::ClientIp;
use crate::{csrf, rate_limit};

#[derive(Deserialize)]
pub struct FindForm {
    #[serde(default)]
    email: String,
}

#[derive(Serialize, sqlx::FromRow)]
struct StoreLink {
    name: String,
    subdomain: String,
}

#[derive(Serialize)]
struct FindView<'a> {
    csrf: String,
    email: &'a str,
    error: Option<String>,
    stores: Vec<(String, String)>,
}

async fn render(
    app: &AppState,
    session: &Session,
    email: &str,
    error: Option<String>,
    stores: Vec<(String, String)>,
) -> Result<Html<String>, AppError> {
    let view = FindView {
        csrf: csrf::token(session).await?,
        email,
        error,
        stores,
    };
    Ok(Html(app.views.render("platform/login.html", &view)?))
}

/// `GET /login`.
pub async fn show_login(
    State(app): State<AppState>,
    session: Session,
) -> Result<Html<String>, AppError> {
    render(&app, &session, "", None, Vec::new()).await
}

/// `POST /login`: one store sends the merchant straight to its sign-in; several are listed.
pub async fn find_stores(
    State(app): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<FindForm>,
) -> Result<Response, AppError> {
    // Limits how fast anyone can probe which addresses have stores.
    app.limits.hit_ip(rate_limit::LOGIN_PER_IP, ip).await?;
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(m) => {
            let page = render(
                &app,
                &session,
                &form.email,
                Some(format!("Email {m}.")),
                Vec::new(),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let stores: Vec<StoreLink> = sqlx::query_as(
        "SELECT t.name, t.subdomain FROM platform.users u \
         JOIN platform.memberships m ON m.user_id = u.id \
         JOIN platform.tenants t ON t.id = m.tenant_id \
         WHERE u.email = $1 ORDER BY t.name",
    )
    .bind(email.as_str())
    .fetch_all(&app.db)
    .await?;
    let base = crate::platform_site::store_base_url(&app, &headers);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email.as_str())
        .finish();
    let links: Vec<(String, String)> = stores
        .into_iter()
        .map(|s| {
            (
                s.name,
                format!("{}/admin/login?{query}", base(&s.subdomain)),
            )
        })
        .collect();
    match links.as_slice() {
        [] => {
            let page = render(
                &app,
                &session,
                email.as_str(),
                Some("No store uses this email address. Check it, or open a store.".into()),
                Vec::new(),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        [(_, only)] => Ok(Redirect::to(only).into_response()),
        _ => Ok(render(&app, &session, email.as_str(), None, links)
            .await?
            .into_response()),
    }
}
