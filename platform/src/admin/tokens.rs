//! Admin API tokens: owners and admins create them with a name and scopes (the token is
//! shown once, on the page that answers the creation), list them and revoke them.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Serialize;
use uuid::Uuid;

use super::chrome::Chrome;
use crate::api_tokens::{self, ApiToken, Scope};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// Where the screen lives.
const PAGE: &str = "/admin/settings/api-tokens";

/// A scope as the form offers it.
#[derive(Serialize)]
struct ScopeChoice {
    name: &'static str,
    checked: bool,
}

/// A token just made: its only appearance.
#[derive(Serialize)]
struct Created {
    name: String,
    secret: String,
}

#[derive(Serialize)]
struct TokensView {
    chrome: Chrome,
    tokens: Vec<ApiToken>,
    scopes: Vec<ScopeChoice>,
    name: String,
    created: Option<Created>,
    errors: BTreeMap<String, String>,
}

/// The creation form. Scopes arrive as repeated `scopes` fields, which `serde_urlencoded`
/// cannot gather into a list, so the body is read by hand.
#[derive(Default)]
pub struct TokenForm {
    name: String,
    scopes: Vec<String>,
}

impl TokenForm {
    fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(body) {
            match &*key {
                "name" => form.name = value.into_owned(),
                "scopes" => form.scopes.push(value.into_owned()),
                _ => {}
            }
        }
        form
    }
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    form: &TokenForm,
    created: Option<Created>,
    errors: BTreeMap<String, String>,
) -> Result<Response, AppError> {
    let mut conn = app.db.acquire().await?;
    let view = TokensView {
        chrome: Chrome::new(tenant, merchant).await?,
        tokens: api_tokens::list(&mut conn, tenant.id).await?,
        scopes: Scope::ALL
            .iter()
            .map(|s| ScopeChoice {
                name: s.as_str(),
                checked: form.scopes.iter().any(|c| c == s.as_str()),
            })
            .collect(),
        name: form.name.clone(),
        created,
        errors,
    };
    let mut res = Html(app.views.render("admin/tokens.html", &view)?).into_response();
    // The page may carry a token: never keep a copy in a cache.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /admin/settings/api-tokens`.
pub async fn list_tokens(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Response, AppError> {
    merchant.require_manager()?;
    render(
        &app,
        &tenant,
        &merchant,
        &TokenForm::default(),
        None,
        BTreeMap::new(),
    )
    .await
}

/// `POST /admin/settings/api-tokens`: creates a token and shows it, once.
pub async fn create_token(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    merchant.require_manager()?;
    let form = TokenForm::parse(&body);
    let scopes: Vec<Scope> = form.scopes.iter().filter_map(|s| Scope::parse(s)).collect();
    let mut conn = app.db.acquire().await?;
    match api_tokens::issue(
        &mut conn,
        tenant.id,
        &form.name,
        &scopes,
        Some(merchant.user_id),
    )
    .await
    {
        Ok(issued) => {
            drop(conn);
            tracing::info!(token.id = %issued.token.id, "API token created");
            let created = Created {
                name: issued.token.name,
                secret: issued.secret,
            };
            render(
                &app,
                &tenant,
                &merchant,
                &TokenForm::default(),
                Some(created),
                BTreeMap::new(),
            )
            .await
        }
        Err(api_tokens::IssueError::Invalid(fields)) => {
            drop(conn);
            let errors = fields
                .into_iter()
                .map(|(f, m)| {
                    let sentence = match f.as_str() {
                        "name" => format!("Name {m}."),
                        _ => format!("{}.", capitalized(&m)),
                    };
                    (f, sentence)
                })
                .collect();
            let mut res = render(&app, &tenant, &merchant, &form, None, errors).await?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `POST /admin/settings/api-tokens/{id}/revoke`: the token stops working at once.
pub async fn revoke_token(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Redirect, AppError> {
    merchant.require_manager()?;
    let mut conn = app.db.acquire().await?;
    if api_tokens::revoke(&mut conn, tenant.id, id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(PAGE))
}
