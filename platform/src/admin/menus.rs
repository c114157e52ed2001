//! Navigation menus in the admin: the list and the editor (ordered links, nested one level).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, Response};
use serde::Serialize;
use tenant_store::content::menus::{self, KINDS, MAX_ITEMS, Menu, MenuInput, MenuItemInput};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::{self, Submitted};
use super::pages::AREA;
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// Blank rows offered for adding links.
const BLANK_ROWS: usize = 5;

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    menus: Vec<menus::MenuSummary>,
}

/// `GET /admin/menus`.
pub async fn list_menus(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let list = menus::list_menus(&mut tx).await?;
    tx.commit().await?;
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        menus: list,
    };
    Ok(Html(app.views.render("admin/menus.html", &view)?))
}

/// One link row of the editor.
#[derive(Clone, Debug, Default, Serialize)]
struct ItemRow {
    title: String,
    kind: String,
    target: String,
    nested: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
struct MenuForm {
    title: String,
    handle: String,
    rows: Vec<ItemRow>,
}

fn blank_rows() -> impl Iterator<Item = ItemRow> {
    (0..BLANK_ROWS).map(|_| ItemRow {
        kind: "collection".into(),
        ..ItemRow::default()
    })
}

impl MenuForm {
    fn blank() -> Self {
        Self {
            rows: blank_rows().collect(),
            ..Self::default()
        }
    }

    fn from_menu(m: &Menu) -> Self {
        Self {
            title: m.title.clone(),
            handle: m.handle.clone(),
            rows: m
                .items
                .iter()
                .map(|i| ItemRow {
                    title: i.title.clone(),
                    kind: i.kind.clone(),
                    target: i.target.clone(),
                    nested: i.nested(),
                })
                .chain(blank_rows())
                .collect(),
        }
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let form = Submitted::new(fields);
        let rows = form
            .names()
            .filter_map(|k| {
                k.strip_prefix('i')?
                    .split_once('_')?
                    .0
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map_or(0, |m| (m + 1).min(MAX_ITEMS + BLANK_ROWS));
        Self {
            title: form.get("title"),
            handle: form.get("handle"),
            rows: (0..rows)
                .map(|n| ItemRow {
                    title: form.get(&format!("i{n}_title")),
                    kind: form.get(&format!("i{n}_kind")),
                    target: form.get(&format!("i{n}_target")),
                    nested: form.checked(&format!("i{n}_nested")),
                })
                .collect(),
        }
    }

    /// The domain input, and for each item the editor row it came from (rows with neither
    /// a title nor a target are left out).
    fn to_input(&self) -> (MenuInput, Vec<usize>) {
        let mut origin = Vec::new();
        let items = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !(r.title.trim().is_empty() && r.target.trim().is_empty()))
            .map(|(n, r)| {
                origin.push(n);
                MenuItemInput {
                    title: r.title.clone(),
                    kind: r.kind.clone(),
                    target: r.target.clone(),
                    nested: r.nested,
                }
            })
            .collect();
        let input = MenuInput {
            title: self.title.clone(),
            handle: Some(self.handle.clone()),
            items,
        };
        (input, origin)
    }
}

#[derive(Serialize)]
struct EditorView {
    chrome: Chrome,
    menu_id: Option<Uuid>,
    kinds: &'static [&'static str],
    form: MenuForm,
    errors: BTreeMap<String, String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    menu_id: Option<Uuid>,
    form: MenuForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let view = EditorView {
        chrome: Chrome::new(tenant, merchant).await?,
        menu_id,
        kinds: &KINDS,
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/menu.html", &view)?))
}

/// `GET /admin/menus/new`.
pub async fn new_menu(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let form = MenuForm::blank();
    render(&app, &tenant, &merchant, None, form, BTreeMap::new()).await
}

/// `GET /admin/menus/{id}`.
pub async fn edit_menu(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let menu = menus::get_menu(&mut tx, id).await?;
    tx.commit().await?;
    let form = MenuForm::from_menu(&menu);
    render(&app, &tenant, &merchant, Some(id), form, BTreeMap::new()).await
}

async fn save(
    app: AppState,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    id: Option<Uuid>,
    fields: Vec<(String, String)>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let form = MenuForm::from_fields(&fields);
    let (input, origin) = form.to_input();
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let saved = match id {
        None => menus::create_menu(&mut tx, input).await,
        Some(id) => menus::update_menu(&mut tx, id, input).await,
    };
    let errors = match saved {
        Ok(menu) => {
            let action = form::save_action("menu", id.is_some());
            let to = format!("/admin/menus/{}", menu.id);
            return form::done(tx, &merchant.email, &action, &menu.handle, menu.id, &to).await;
        }
        Err(e) => form::field_errors(e)?,
    };
    drop(tx);
    let errors = form::editor_errors(errors, |f| match form::indexed(f, "items") {
        Some((i, name)) => format!("i{}_{name}", form::origin_row(&origin, i)),
        None => f.to_owned(),
    });
    let html = render(&app, &tenant, &merchant, id, form, errors).await?;
    Ok(form::unprocessable(html))
}

/// `POST /admin/menus`.
pub async fn create_menu(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, None, fields).await
}

/// `POST /admin/menus/{id}`.
pub async fn update_menu(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, Some(id), fields).await
}

/// `POST /admin/menus/{id}/delete`: the theme's own menus (`main-menu`, `footer`) are
/// refused with 422.
pub async fn delete_menu(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let menu = menus::get_menu(&mut tx, id).await?;
    menus::delete_menu(&mut tx, id).await?;
    let actor = &merchant.email;
    form::done(tx, actor, "menu.delete", &menu.handle, id, "/admin/menus").await
}
