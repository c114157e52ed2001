//! `/contact`: a message to the merchant, stored as an enquiry (shown in the admin) and
//! mailed to the store's contact address through the mail outbox. A honeypot field and a
//! per-IP rate limit keep spam out.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tenant_store::StoreError;
use tenant_store::enquiries::{self, EnquiryInput};
use tower_sessions::Session;

use super::layout::{self, Shop};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{ClientIp, CurrentTenant, request_base_url};
use crate::mail::{EmailTemplate, render_email};
use crate::{accounts, mail_outbox, rate_limit};

/// The form as typed (kept when something is wrong).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ContactForm {
    name: String,
    email: String,
    phone: String,
    body: String,
    /// Hidden from people, filled in by bots.
    #[serde(rename = "website")]
    website: String,
}

#[derive(Serialize)]
struct ContactView {
    shop: Shop,
    form: ContactForm,
    errors: BTreeMap<String, String>,
    sent: bool,
}

/// `?sent=1` after a message went out.
#[derive(Deserialize)]
pub struct SentQuery {
    #[serde(default)]
    sent: Option<String>,
}

/// `email/enquiry`: a shopper's message, to the merchant.
#[derive(Serialize)]
struct EnquiryMail {
    store_name: String,
    name: String,
    email: String,
    phone: String,
    body: String,
    admin_link: String,
}

impl EmailTemplate for EnquiryMail {
    const NAME: &'static str = "enquiry";
}

async fn render(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    headers: &HeaderMap,
    form: ContactForm,
    errors: BTreeMap<String, String>,
    sent: bool,
) -> Result<Response, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let shop = Shop::load(app, &mut tx, session, request_base_url(app, headers)).await?;
    tx.commit().await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = ContactView {
        shop,
        form,
        errors,
        sent,
    };
    layout::page_with_status(app, tenant, status, "store/contact.html", &view).await
}

/// `GET /contact`.
pub async fn show_contact(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<SentQuery>,
) -> Result<Response, AppError> {
    render(
        &app,
        &tenant,
        &session,
        &headers,
        ContactForm::default(),
        BTreeMap::new(),
        q.sent.is_some(),
    )
    .await
}

/// `POST /contact`: stores the message and queues the mail in one transaction.
pub async fn send_contact(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    ip: ClientIp,
    Form(form): Form<ContactForm>,
) -> Result<Response, AppError> {
    // A bot filled in the field people never see: act as if it worked, keep nothing.
    if !form.website.trim().is_empty() {
        tracing::info!(tenant.id = %tenant.id, "contact form honeypot filled; message dropped");
        return Ok(Redirect::to("/contact?sent=1").into_response());
    }
    let limited = format!("{}:{}", tenant.id, rate_limit::ip_subject(ip.0));
    app.limits
        .refuse_if_spent(rate_limit::CONTACT_PER_IP, &limited)?;
    let mut errors = BTreeMap::new();
    let email = match accounts::Email::parse(&form.email) {
        Ok(e) => Some(e),
        Err(m) => {
            errors.insert("email".to_owned(), m);
            None
        }
    };
    let input = EnquiryInput {
        name: form.name.clone(),
        email: email
            .as_ref()
            .map_or_else(String::new, |e| e.as_str().to_owned()),
        phone: form.phone.clone(),
        body: form.body.clone(),
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let saved = enquiries::create(&mut tx, &input).await;
    let enquiry = match saved {
        Ok(e) if errors.is_empty() => e,
        Ok(_) => {
            drop(tx);
            return render(&app, &tenant, &session, &headers, form, errors, false).await;
        }
        Err(StoreError::Fields(fields)) => {
            drop(tx);
            for (f, m) in fields {
                errors.entry(f).or_insert(m);
            }
            return render(&app, &tenant, &session, &headers, form, errors, false).await;
        }
        Err(e) => return Err(e.into()),
    };
    // Counted only for messages that would be sent: a typo doesn't use up the allowance.
    app.limits.hit(rate_limit::CONTACT_PER_IP, &limited).await?;
    let store = tenant_store::settings::load(&mut tx).await?;
    let base = request_base_url(&app, &headers);
    let mail = EnquiryMail {
        store_name: store.name.clone(),
        name: enquiry.name.clone(),
        email: enquiry.email.clone(),
        phone: enquiry.phone.clone(),
        body: enquiry.body.clone(),
        admin_link: format!("{base}/admin/enquiries"),
    };
    let mut outgoing = render_email(
        &app.views,
        EnquiryMail::NAME,
        &mail,
        &store.contact_email,
        &app.settings.mail_from(),
    )?;
    outgoing.reply_to = Some(enquiry.email.clone());
    mail_outbox::enqueue(&mut tx, &outgoing).await?;
    tx.commit().await?;
    tracing::info!(tenant.id = %tenant.id, enquiry.id = %enquiry.id, "enquiry received");
    Ok(Redirect::to("/contact?sent=1").into_response())
}
