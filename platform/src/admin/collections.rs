//! Collections in the admin: list and editor (manual product order, or automatic rules).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, Response};
use serde::Serialize;
use tenant_store::catalog::collections::{self, CollectionInput, Kind, Rule};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::{self, Submitted};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// Rule rows offered in the editor.
const RULE_ROWS: usize = 5;

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    collections: Vec<collections::CollectionSummary>,
}

/// `GET /admin/collections`.
pub async fn list_collections(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let list = collections::list_collections(&mut tx).await?;
    tx.commit().await?;
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        collections: list,
    };
    Ok(Html(app.views.render("admin/collections.html", &view)?))
}

#[derive(Clone, Debug, Default, Serialize)]
struct RuleRow {
    field: String,
    relation: String,
    value: String,
}

#[derive(Clone, Debug, Default, Serialize)]
struct CollectionForm {
    title: String,
    handle: String,
    body_html: String,
    kind: String,
    sort_order: String,
    published: bool,
    disjunctive: bool,
    rules: Vec<RuleRow>,
    products: String,
}

impl CollectionForm {
    fn blank() -> Self {
        Self {
            kind: "manual".into(),
            sort_order: "manual".into(),
            published: true,
            rules: vec![RuleRow::default(); RULE_ROWS],
            ..Default::default()
        }
    }

    fn from_collection(c: &collections::Collection) -> Self {
        let mut rules: Vec<RuleRow> = c
            .rules
            .iter()
            .map(|r| RuleRow {
                field: r.field.clone(),
                relation: r.relation.clone(),
                value: r.value.clone(),
            })
            .collect();
        rules.resize(rules.len().max(RULE_ROWS), RuleRow::default());
        Self {
            title: c.title.clone(),
            handle: c.handle.clone(),
            body_html: c.body_html.clone(),
            kind: if c.kind == Kind::Automatic {
                "automatic".into()
            } else {
                "manual".into()
            },
            sort_order: c.sort_order.clone(),
            published: c.published,
            disjunctive: c.disjunctive,
            rules,
            products: if c.kind == Kind::Manual {
                c.product_handles.join("\n")
            } else {
                String::new()
            },
        }
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let form = Submitted::new(fields);
        let get = |k: &str| form.get(k);
        Self {
            title: get("title"),
            handle: get("handle"),
            body_html: get("body_html"),
            kind: get("kind"),
            sort_order: get("sort_order"),
            published: form.checked("published"),
            disjunctive: get("disjunctive") == "any",
            rules: (0..RULE_ROWS)
                .map(|i| RuleRow {
                    field: get(&format!("r{i}_field")),
                    relation: get(&format!("r{i}_relation")),
                    value: get(&format!("r{i}_value")),
                })
                .collect(),
            products: get("products"),
        }
    }

    /// The domain input, and for each rule the editor row it came from.
    fn to_input(&self) -> (CollectionInput, Vec<usize>) {
        let mut origin = Vec::new();
        let rules = self
            .rules
            .iter()
            .enumerate()
            // A row counts once anything beyond the default selects is typed in it.
            .filter(|(_, r)| !r.value.trim().is_empty())
            .map(|(i, r)| {
                origin.push(i);
                Rule {
                    field: r.field.clone(),
                    relation: r.relation.clone(),
                    value: r.value.clone(),
                }
            })
            .collect();
        let input = CollectionInput {
            title: self.title.clone(),
            handle: Some(self.handle.clone()),
            body_html: self.body_html.clone(),
            kind: if self.kind == "automatic" {
                Kind::Automatic
            } else {
                Kind::Manual
            },
            sort_order: self.sort_order.clone(),
            published: self.published,
            disjunctive: self.disjunctive,
            rules,
            product_handles: self.products.lines().map(str::to_owned).collect(),
        };
        (input, origin)
    }
}

#[derive(Serialize)]
struct EditorView {
    chrome: Chrome,
    collection_id: Option<Uuid>,
    form: CollectionForm,
    errors: BTreeMap<String, String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    collection_id: Option<Uuid>,
    form: CollectionForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let view = EditorView {
        chrome: Chrome::new(tenant, merchant).await?,
        collection_id,
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/collection.html", &view)?))
}

/// `GET /admin/collections/new`.
pub async fn new_collection(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require("products")?;
    render(
        &app,
        &tenant,
        &merchant,
        None,
        CollectionForm::blank(),
        BTreeMap::new(),
    )
    .await
}

/// `GET /admin/collections/{id}`.
pub async fn edit_collection(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let c = collections::get_collection(&mut tx, id).await?;
    tx.commit().await?;
    render(
        &app,
        &tenant,
        &merchant,
        Some(id),
        CollectionForm::from_collection(&c),
        BTreeMap::new(),
    )
    .await
}

async fn save(
    app: AppState,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    id: Option<Uuid>,
    fields: Vec<(String, String)>,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    let form = CollectionForm::from_fields(&fields);
    let (input, origin) = form.to_input();
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let saved = match id {
        None => collections::create_collection(&mut tx, input).await,
        Some(id) => collections::update_collection(&mut tx, id, input).await,
    };
    let errors = match saved {
        Ok(c) => {
            let action = form::save_action("collection", id.is_some());
            let to = format!("/admin/collections/{}", c.id);
            return form::done(tx, &merchant.email, &action, &c.handle, c.id, &to).await;
        }
        Err(e) => form::field_errors(e)?,
    };
    drop(tx);
    let errors = form::editor_errors(errors, |f| match form::indexed(f, "rules") {
        Some((i, name)) => format!("r{}_{name}", form::origin_row(&origin, i)),
        None if f.starts_with("products[") => "products".to_owned(),
        None => f.to_owned(),
    });
    let page = render(&app, &tenant, &merchant, id, form, errors).await?;
    Ok(form::unprocessable(page))
}

/// `POST /admin/collections`.
pub async fn create_collection(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, None, fields).await
}

/// `POST /admin/collections/{id}`.
pub async fn update_collection(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, Some(id), fields).await
}

/// `POST /admin/collections/{id}/delete`.
pub async fn delete_collection(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    merchant.require("products")?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let c = collections::get_collection(&mut tx, id).await?;
    collections::delete_collection(&mut tx, id).await?;
    let to = "/admin/collections";
    form::done(tx, &merchant.email, "collection.delete", &c.handle, id, to).await
}
