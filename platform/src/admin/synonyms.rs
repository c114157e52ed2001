//! `/admin/search/synonyms`: the merchant's search synonyms. Each group is a set of words or
//! phrases that find each other ("sofa, couch, settee"). Needs the `products` permission.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tenant_store::catalog::search_feed::{self, SynonymGroup};
use tenant_store::{StoreError, audit};

use super::chrome::Chrome;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// Longest group, in characters (the form's one line).
const MAX_GROUP_CHARS: usize = 500;

#[derive(Serialize)]
struct SynonymsView {
    chrome: Chrome,
    groups: Vec<SynonymGroup>,
    terms: String,
    errors: BTreeMap<String, String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    terms: String,
    errors: BTreeMap<String, String>,
) -> Result<Response, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let groups = search_feed::list_synonym_groups(&mut tx).await?;
    tx.commit().await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = SynonymsView {
        chrome: Chrome::new(tenant, merchant).await?,
        groups,
        terms,
        errors,
    };
    Ok((
        status,
        Html(app.views.render("admin/synonyms.html", &view)?),
    )
        .into_response())
}

/// `GET /admin/search/synonyms`.
pub async fn show_synonyms(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    render(&app, &tenant, &merchant, String::new(), BTreeMap::new()).await
}

/// The new group: terms separated by commas.
#[derive(Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    terms: String,
}

/// `POST /admin/search/synonyms`: adds a group; searches use it at once.
pub async fn add_synonyms(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(form): Form<GroupForm>,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    let mut errors = BTreeMap::new();
    if form.terms.chars().count() > MAX_GROUP_CHARS {
        errors.insert(
            "terms".to_owned(),
            format!("must be at most {MAX_GROUP_CHARS} characters"),
        );
    } else {
        let terms: Vec<String> = form
            .terms
            .split(',')
            .map(|t| t.trim().to_lowercase())
            .collect();
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        match search_feed::add_synonym_group(&mut tx, &terms).await {
            Ok(()) => {
                audit::record(
                    &mut tx,
                    &merchant.email,
                    "search.synonyms.add",
                    &form.terms,
                    serde_json::json!({ "terms": terms }),
                )
                .await?;
                tx.commit().await?;
                return Ok(Redirect::to("/admin/search/synonyms").into_response());
            }
            Err(StoreError::Invalid { field, message }) => {
                errors.insert(field.to_owned(), message);
            }
            Err(e) => return Err(e.into()),
        }
    }
    render(&app, &tenant, &merchant, form.terms, errors).await
}

/// `POST /admin/search/synonyms/{id}/delete`.
pub async fn delete_synonyms(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<i64>,
) -> Result<Redirect, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    search_feed::delete_synonym_group(&mut tx, id).await?;
    audit::record(
        &mut tx,
        &merchant.email,
        "search.synonyms.delete",
        &id.to_string(),
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/search/synonyms"))
}
