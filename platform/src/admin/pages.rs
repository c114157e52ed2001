//! Pages in the admin: the list and the editor (HTML or Markdown, published or hidden, SEO).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, Response};
use serde::Serialize;
use tenant_store::catalog::BodyFormat;
use tenant_store::content::pages::{self, Page, PageInput, PageSummary};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::{self, Submitted};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// The permission area for pages, blog posts and menus.
pub const AREA: &str = "content";

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    pages: Vec<PageSummary>,
}

/// `GET /admin/pages`.
pub async fn list_pages(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let list = pages::list_page_summaries(&mut tx).await?;
    tx.commit().await?;
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        pages: list,
    };
    Ok(Html(app.views.render("admin/pages.html", &view)?))
}

/// The editor's fields, as text (what was typed is kept on errors).
#[derive(Clone, Debug, Default, Serialize)]
struct PageForm {
    title: String,
    handle: String,
    body: String,
    body_format: String,
    published: bool,
    seo_title: String,
    seo_description: String,
}

impl PageForm {
    fn blank() -> Self {
        Self {
            body_format: "markdown".into(),
            ..Self::default()
        }
    }

    fn from_page(p: &Page) -> Self {
        Self {
            title: p.title.clone(),
            handle: p.handle.clone(),
            body: p.body_source.clone(),
            body_format: format_name(p.body_format).into(),
            published: p.published,
            seo_title: p.seo_title.clone(),
            seo_description: p.seo_description.clone(),
        }
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let form = Submitted::new(fields);
        Self {
            title: form.get("title"),
            handle: form.get("handle"),
            body: form.get("body"),
            body_format: form.get("body_format"),
            published: form.checked("published"),
            seo_title: form.get("seo_title"),
            seo_description: form.get("seo_description"),
        }
    }

    fn to_input(&self) -> PageInput {
        PageInput {
            title: self.title.clone(),
            handle: Some(self.handle.clone()),
            body: self.body.clone(),
            body_format: parse_format(&self.body_format),
            published: self.published,
            published_at: None,
            seo_title: self.seo_title.clone(),
            seo_description: self.seo_description.clone(),
        }
    }
}

/// `markdown` or `html`, as the editors' select names them.
pub fn format_name(f: BodyFormat) -> &'static str {
    match f {
        BodyFormat::Markdown => "markdown",
        BodyFormat::Html => "html",
    }
}

/// The editors' body format select (anything but `markdown` is HTML, sanitized).
pub fn parse_format(name: &str) -> BodyFormat {
    if name == "markdown" {
        BodyFormat::Markdown
    } else {
        BodyFormat::Html
    }
}

#[derive(Serialize)]
struct EditorView {
    chrome: Chrome,
    page_id: Option<Uuid>,
    /// Where the page is on the storefront, once saved.
    handle: Option<String>,
    form: PageForm,
    errors: BTreeMap<String, String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    page: Option<&Page>,
    form: PageForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let view = EditorView {
        chrome: Chrome::new(tenant, merchant).await?,
        page_id: page.map(|p| p.id),
        handle: page.map(|p| p.handle.clone()),
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/page.html", &view)?))
}

/// `GET /admin/pages/new`.
pub async fn new_page(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    render(
        &app,
        &tenant,
        &merchant,
        None,
        PageForm::blank(),
        BTreeMap::new(),
    )
    .await
}

/// `GET /admin/pages/{id}`.
pub async fn edit_page(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let page = pages::get_page(&mut tx, id).await?;
    tx.commit().await?;
    let form = PageForm::from_page(&page);
    render(&app, &tenant, &merchant, Some(&page), form, BTreeMap::new()).await
}

async fn save(
    app: AppState,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    id: Option<Uuid>,
    fields: Vec<(String, String)>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let form = PageForm::from_fields(&fields);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let saved = match id {
        None => pages::create_page(&mut tx, form.to_input()).await,
        Some(id) => pages::update_page(&mut tx, id, form.to_input()).await,
    };
    let errors = match saved {
        Ok(page) => {
            let action = form::save_action("page", id.is_some());
            let to = format!("/admin/pages/{}", page.id);
            return form::done(tx, &merchant.email, &action, &page.handle, page.id, &to).await;
        }
        Err(e) => form::field_errors(e)?,
    };
    // The failed write may have spoilt the transaction: read what is shown afresh.
    drop(tx);
    let page = match id {
        Some(id) => {
            let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
            Some(pages::get_page(&mut tx, id).await?)
        }
        None => None,
    };
    let errors = form::editor_errors(errors, str::to_owned);
    let html = render(&app, &tenant, &merchant, page.as_ref(), form, errors).await?;
    Ok(form::unprocessable(html))
}

/// `POST /admin/pages`.
pub async fn create_page(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, None, fields).await
}

/// `POST /admin/pages/{id}`.
pub async fn update_page(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, Some(id), fields).await
}

/// `POST /admin/pages/{id}/delete`.
pub async fn delete_page(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let page = pages::get_page(&mut tx, id).await?;
    pages::delete_page(&mut tx, id).await?;
    let actor = &merchant.email;
    form::done(tx, actor, "page.delete", &page.handle, id, "/admin/pages").await
}
