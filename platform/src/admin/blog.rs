//! Blog posts in the admin: a blog's articles (`/admin/blogs/news/articles`) and the editor.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use tenant_store::content::blog::{self, Article, ArticleInput, ArticleSummary, Blog};
use uuid::Uuid;

use super::chrome::Chrome;
use super::form::{self, Submitted};
use super::pages::{AREA, format_name, parse_format};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// How the editor shows and reads a publication time (UTC).
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M";

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    blog: Blog,
    articles: Vec<ArticleSummary>,
}

/// `GET /admin/blogs/{blog}/articles`.
pub async fn list_articles(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(blog_handle): Path<String>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let blog = blog::get_blog(&mut tx, &blog_handle).await?;
    let articles = blog::list_articles(&mut tx, blog.id).await?;
    tx.commit().await?;
    let view = ListView {
        chrome: Chrome::new(&tenant, &merchant).await?,
        blog,
        articles,
    };
    Ok(Html(app.views.render("admin/articles.html", &view)?))
}

/// The editor's fields, as text (what was typed is kept on errors).
#[derive(Clone, Debug, Default, Serialize)]
struct ArticleForm {
    title: String,
    handle: String,
    author: String,
    body: String,
    body_format: String,
    summary: String,
    tags: String,
    image_url: String,
    published: bool,
    published_at: String,
    seo_title: String,
    seo_description: String,
}

impl ArticleForm {
    fn blank(author: &str) -> Self {
        Self {
            author: author.to_owned(),
            body_format: "markdown".into(),
            ..Self::default()
        }
    }

    fn from_article(a: &Article) -> Self {
        Self {
            title: a.title.clone(),
            handle: a.handle.clone(),
            author: a.author.clone(),
            body: a.body_source.clone(),
            body_format: format_name(a.body_format).into(),
            summary: a.summary_html.clone(),
            tags: a.tags.join(", "),
            image_url: a.image_url.clone().unwrap_or_default(),
            published: a.published,
            published_at: a
                .published_at
                .map(|t| t.format(TIME_FORMAT).to_string())
                .unwrap_or_default(),
            seo_title: a.seo_title.clone(),
            seo_description: a.seo_description.clone(),
        }
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let form = Submitted::new(fields);
        Self {
            title: form.get("title"),
            handle: form.get("handle"),
            author: form.get("author"),
            body: form.get("body"),
            body_format: form.get("body_format"),
            summary: form.get("summary"),
            tags: form.get("tags"),
            image_url: form.get("image_url"),
            published: form.checked("published"),
            published_at: form.get("published_at"),
            seo_title: form.get("seo_title"),
            seo_description: form.get("seo_description"),
        }
    }

    /// The domain input; a publication time that is not one is the editor's own error.
    fn to_input(&self) -> Result<ArticleInput, Vec<(String, String)>> {
        let published_at = match self.published_at.trim() {
            "" => None,
            t => Some(parse_time(t).ok_or_else(|| {
                vec![(
                    "published_at".to_owned(),
                    format!("“{t}” is not a date and time such as 2026-05-01T09:30"),
                )]
            })?),
        };
        Ok(ArticleInput {
            title: self.title.clone(),
            handle: Some(self.handle.clone()),
            author: self.author.clone(),
            body: self.body.clone(),
            body_format: parse_format(&self.body_format),
            summary: self.summary.clone(),
            tags: self.tags.split(',').map(str::to_owned).collect(),
            image_url: self.image_url.clone(),
            published: self.published,
            published_at,
            seo_title: self.seo_title.clone(),
            seo_description: self.seo_description.clone(),
        })
    }
}

/// A `datetime-local` value (with or without seconds), read as UTC.
fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(t, TIME_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .map(|n| n.and_utc())
}

#[derive(Serialize)]
struct EditorView {
    chrome: Chrome,
    blog: Blog,
    article_id: Option<Uuid>,
    /// Where the article is on the storefront, once saved.
    handle: Option<String>,
    form: ArticleForm,
    errors: BTreeMap<String, String>,
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    merchant: &CurrentMerchant,
    blog: Blog,
    article: Option<&Article>,
    form: ArticleForm,
    errors: BTreeMap<String, String>,
) -> Result<Html<String>, AppError> {
    let view = EditorView {
        chrome: Chrome::new(tenant, merchant).await?,
        blog,
        article_id: article.map(|a| a.id),
        handle: article.map(|a| a.handle.clone()),
        form,
        errors,
    };
    Ok(Html(app.views.render("admin/article.html", &view)?))
}

/// The article `id` of the blog `blog_handle`: an article of another blog is not found here.
async fn article_of(
    conn: &mut sqlx::PgConnection,
    blog_handle: &str,
    id: Uuid,
) -> Result<(Blog, Article), AppError> {
    let blog = blog::get_blog(conn, blog_handle).await?;
    let article = blog::get_article(conn, id).await?;
    if article.blog_id != blog.id {
        return Err(AppError::NotFound);
    }
    Ok((blog, article))
}

/// `GET /admin/blogs/{blog}/articles/new`.
pub async fn new_article(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(blog_handle): Path<String>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let blog = blog::get_blog(&mut tx, &blog_handle).await?;
    tx.commit().await?;
    let form = ArticleForm::blank(&tenant.name);
    render(&app, &tenant, &merchant, blog, None, form, BTreeMap::new()).await
}

/// `GET /admin/blogs/{blog}/articles/{id}`.
pub async fn edit_article(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path((blog_handle, id)): Path<(String, Uuid)>,
) -> Result<Html<String>, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let (blog, article) = article_of(&mut tx, &blog_handle, id).await?;
    tx.commit().await?;
    let form = ArticleForm::from_article(&article);
    render(
        &app,
        &tenant,
        &merchant,
        blog,
        Some(&article),
        form,
        BTreeMap::new(),
    )
    .await
}

async fn save(
    app: AppState,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    blog_handle: String,
    id: Option<Uuid>,
    fields: Vec<(String, String)>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let form = ArticleForm::from_fields(&fields);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let blog = match id {
        None => blog::get_blog(&mut tx, &blog_handle).await?,
        Some(id) => article_of(&mut tx, &blog_handle, id).await?.0,
    };
    let errors = match form.to_input() {
        Err(errors) => errors,
        Ok(input) => {
            let saved = match id {
                None => blog::create_article(&mut tx, blog.id, input).await,
                Some(id) => blog::update_article(&mut tx, id, input).await,
            };
            match saved {
                Ok(article) => {
                    let action = form::save_action("article", id.is_some());
                    let subject = format!("{}/{}", blog.handle, article.handle);
                    let to = format!("/admin/blogs/{}/articles/{}", blog.handle, article.id);
                    let actor = &merchant.email;
                    return form::done(tx, actor, &action, &subject, article.id, &to).await;
                }
                Err(e) => form::field_errors(e)?,
            }
        }
    };
    // The failed write may have spoilt the transaction: read what is shown afresh.
    drop(tx);
    let article = match id {
        Some(id) => {
            let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
            Some(article_of(&mut tx, &blog_handle, id).await?.1)
        }
        None => None,
    };
    let errors = form::editor_errors(errors, str::to_owned);
    let html = render(
        &app,
        &tenant,
        &merchant,
        blog,
        article.as_ref(),
        form,
        errors,
    )
    .await?;
    Ok(form::unprocessable(html))
}

/// `POST /admin/blogs/{blog}/articles`.
pub async fn create_article(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path(blog_handle): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, blog_handle, None, fields).await
}

/// `POST /admin/blogs/{blog}/articles/{id}`.
pub async fn update_article(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path((blog_handle, id)): Path<(String, Uuid)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    save(app, tenant, merchant, blog_handle, Some(id), fields).await
}

/// `POST /admin/blogs/{blog}/articles/{id}/delete`.
pub async fn delete_article(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    merchant: CurrentMerchant,
    Path((blog_handle, id)): Path<(String, Uuid)>,
) -> Result<Response, AppError> {
    merchant.require(AREA)?;
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let (blog, article) = article_of(&mut tx, &blog_handle, id).await?;
    blog::delete_article(&mut tx, id).await?;
    let subject = format!("{}/{}", blog.handle, article.handle);
    let to = format!("/admin/blogs/{}/articles", blog.handle);
    form::done(tx, &merchant.email, "article.delete", &subject, id, &to).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publication_times_are_read_as_utc() {
        let t = parse_time("2026-05-01T09:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-05-01T09:30:00+00:00");
        assert!(parse_time("2026-05-01T09:30:15").is_some());
        assert!(parse_time("tomorrow").is_none());
    }
}
