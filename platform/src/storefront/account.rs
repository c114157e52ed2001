//! `/account/...`: optional customer accounts (the merchant switches them on in the
//! settings): register, sign in and out, profile and password, addresses, order history.
//! Guests can always shop; with accounts off every page here is a 404.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tenant_store::StoreError;
use tenant_store::customers::{self, Address, Customer};
use tower_sessions::Session;
use uuid::Uuid;

use super::layout::{self, Shop, display_money};
use crate::accounts::{self, Email};
use crate::app::AppState;
use crate::csrf;
use crate::error::AppError;
use crate::extract::{ClientIp, CurrentTenant, request_base_url};
use crate::rate_limit;
use crate::sign_in_throttle::{self, ThrottleKey};

/// Session key of the signed-in customer.
const CUSTOMER_KEY: &str = "customer_id";
/// Session key of the store the customer signed in to.
const CUSTOMER_TENANT_KEY: &str = "customer_tenant";

const REGISTER: &str = "store/account/register.html";
const LOGIN: &str = "store/account/login.html";
const ACCOUNT: &str = "store/account/account.html";
const ADDRESSES: &str = "store/account/addresses.html";

fn session_error(e: tower_sessions::session::Error) -> AppError {
    AppError::Internal(e.into())
}

/// Moves a domain validation error into the page's field errors; anything else is an error.
fn into_fields(e: StoreError, errors: &mut BTreeMap<String, String>) -> Result<(), AppError> {
    match e {
        StoreError::Invalid { field, message } => {
            errors.insert(field.to_owned(), message);
            Ok(())
        }
        StoreError::Fields(fields) => {
            errors.extend(fields);
            Ok(())
        }
        e => Err(e.into()),
    }
}

/// What an account page shows besides the frame: the form as typed, errors, a notice.
struct AccountPage<'a> {
    template: &'a str,
    status: StatusCode,
    form: BTreeMap<&'a str, String>,
    errors: BTreeMap<String, String>,
    notice: Option<&'a str>,
}

impl<'a> AccountPage<'a> {
    fn new(template: &'a str) -> Self {
        Self {
            template,
            status: StatusCode::OK,
            form: BTreeMap::new(),
            errors: BTreeMap::new(),
            notice: None,
        }
    }

    fn notice(mut self, notice: &'a str) -> Self {
        self.notice = Some(notice);
        self
    }

    fn refused(
        mut self,
        form: BTreeMap<&'a str, String>,
        errors: BTreeMap<String, String>,
    ) -> Self {
        self.status = StatusCode::UNPROCESSABLE_ENTITY;
        self.form = form;
        self.errors = errors;
        self
    }
}

#[derive(Serialize)]
struct AccountView<'a> {
    shop: Shop,
    csrf: String,
    form: BTreeMap<&'a str, String>,
    errors: BTreeMap<String, String>,
    customer: Option<Customer>,
    addresses: Vec<Address>,
    orders: Vec<OrderRow>,
    store_credit: Option<String>,
    notice: Option<&'a str>,
}

/// A past order in the account's history.
#[derive(Serialize)]
struct OrderRow {
    number: i64,
    url: String,
    placed_at: String,
    total: String,
    status: String,
    financial_status: String,
    fulfillment_status: String,
}

/// The customer signed in to this store in this session, if any (checkout uses it whether
/// or not accounts are switched on now).
pub async fn signed_in_customer(
    session: &Session,
    tenant_id: Uuid,
) -> Result<Option<Uuid>, AppError> {
    let store: Option<Uuid> = session
        .get(CUSTOMER_TENANT_KEY)
        .await
        .map_err(session_error)?;
    if store != Some(tenant_id) {
        return Ok(None);
    }
    session.get(CUSTOMER_KEY).await.map_err(session_error)
}

/// A shopper's request on a store with accounts switched on (a 404 otherwise).
pub struct Shopper {
    app: AppState,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
}

impl FromRequestParts<AppState> for Shopper {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        let tenant = CurrentTenant::from_request_parts(parts, app).await?;
        let session = Session::from_request_parts(parts, app)
            .await
            .map_err(|(_, m)| AppError::Internal(anyhow::anyhow!("session: {m}")))?;
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        let on = tenant_store::settings::load(&mut tx)
            .await?
            .customer_accounts_enabled();
        tx.commit().await?;
        if !on {
            return Err(AppError::NotFound);
        }
        Ok(Self {
            app: app.clone(),
            tenant,
            session,
            headers: parts.headers.clone(),
        })
    }
}

impl Shopper {
    /// The signed-in customer's id, if the session signed in to this store.
    async fn customer_id(&self) -> Result<Option<Uuid>, AppError> {
        signed_in_customer(&self.session, self.tenant.id).await
    }

    async fn sign_in(&self, customer: Uuid) -> Result<(), AppError> {
        // A new session id on sign-in (the cart and everything else in the session stay).
        self.session.cycle_id().await.map_err(session_error)?;
        self.session
            .insert(CUSTOMER_KEY, customer)
            .await
            .map_err(session_error)?;
        self.session
            .insert(CUSTOMER_TENANT_KEY, self.tenant.id)
            .await
            .map_err(session_error)
    }

    /// Renders an account template; for pages of a signed-in customer, with `customer`.
    async fn render(
        &self,
        page: AccountPage<'_>,
        customer: Option<Uuid>,
    ) -> Result<Response, AppError> {
        let mut tx = tenant_store::begin(&self.app.db, &self.tenant.schema).await?;
        let shop = Shop::load(
            &self.app,
            &mut tx,
            &self.session,
            request_base_url(&self.app, &self.headers),
        )
        .await?;
        let (customer, addresses) = match customer {
            Some(id) => match customers::get(&mut tx, id).await {
                Ok(c) => (Some(c), customers::addresses(&mut tx, id).await?),
                // The account was deleted: sign the session out of it.
                Err(StoreError::NotFound) => {
                    drop(tx);
                    let _ = self.session.remove::<Uuid>(CUSTOMER_KEY).await;
                    return Ok(Redirect::to("/account/login").into_response());
                }
                Err(e) => return Err(e.into()),
            },
            None => (None, Vec::new()),
        };
        let (orders, store_credit) = match (&customer, page.template) {
            (Some(c), ACCOUNT) => {
                let currency = shop.currency()?;
                let list = tenant_store::orders::list_for_customer(&mut tx, c.id, 50).await?;
                let balance = tenant_store::credit::balance(&mut tx, c.id).await?;
                let rows = list
                    .into_iter()
                    .map(|o| OrderRow {
                        number: o.number,
                        url: format!("/orders/{}", o.token),
                        placed_at: o.placed_at.format("%Y-%m-%d").to_string(),
                        total: display_money(o.total_minor, currency),
                        status: o.status,
                        financial_status: o.financial_status,
                        fulfillment_status: o.fulfillment_status,
                    })
                    .collect();
                (
                    rows,
                    (balance > 0).then(|| display_money(balance, currency)),
                )
            }
            _ => (Vec::new(), None),
        };
        tx.commit().await?;
        let view = AccountView {
            shop,
            csrf: csrf::token(&self.session).await?,
            form: page.form,
            errors: page.errors,
            customer,
            addresses,
            orders,
            store_credit,
            notice: page.notice,
        };
        layout::page_with_status(&self.app, &self.tenant, page.status, page.template, &view).await
    }

    /// A page of the signed-in customer; the sign-in page for anyone else.
    async fn account_page(&self, page: AccountPage<'_>) -> Result<Response, AppError> {
        match self.customer_id().await? {
            Some(id) => self.render(page, Some(id)).await,
            None => Ok(Redirect::to("/account/login").into_response()),
        }
    }
}

/// `GET /account/register`.
pub async fn show_register(shopper: Shopper) -> Result<Response, AppError> {
    shopper.render(AccountPage::new(REGISTER), None).await
}

/// The registration form.
#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /account/register`: creates the account and signs the shopper in. The rate limit
/// and the fields are checked before the password is hashed.
pub async fn register(
    shopper: Shopper,
    ClientIp(ip): ClientIp,
    Form(f): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let app = &shopper.app;
    app.limits
        .hit(
            rate_limit::SIGNUP_PER_IP,
            &format!("{}:{}", shopper.tenant.id, rate_limit::ip_subject(ip)),
        )
        .await?;
    let mut errors = BTreeMap::new();
    let email = Email::parse(&f.email)
        .map_err(|m| errors.insert("email".to_owned(), m))
        .ok();
    if let Err(m) = accounts::check_new_password(&f.password) {
        errors.insert("password".to_owned(), m);
    }
    if let (Some(email), true) = (email, errors.is_empty()) {
        let hash = app.passwords.hash(&f.password).await?;
        let mut tx = tenant_store::begin(&app.db, &shopper.tenant.schema).await?;
        match customers::register(&mut tx, email.as_str(), &hash, &f.first_name, &f.last_name).await
        {
            Ok(c) => {
                tx.commit().await?;
                shopper.sign_in(c.id).await?;
                return Ok(Redirect::to("/account").into_response());
            }
            Err(e) => into_fields(e, &mut errors)?,
        }
    }
    let kept = BTreeMap::from([
        ("first_name", f.first_name),
        ("last_name", f.last_name),
        ("email", f.email),
    ]);
    shopper
        .render(AccountPage::new(REGISTER).refused(kept, errors), None)
        .await
}

/// `GET /account/login`.
pub async fn show_login(shopper: Shopper) -> Result<Response, AppError> {
    shopper.render(AccountPage::new(LOGIN), None).await
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /account/login`: a wrong address or password gets one message, never which. The
/// cheap checks come first (rate limit, the address, this address's failures on the
/// account); failures count per account and client address, and after a few each one
/// makes that address wait twice as long (429), while the customer elsewhere signs in.
pub async fn login(
    shopper: Shopper,
    ClientIp(ip): ClientIp,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let app = &shopper.app;
    app.limits.hit_ip(rate_limit::LOGIN_PER_IP, ip).await?;
    let refuse = || async {
        let errors = BTreeMap::from([(
            "email".to_owned(),
            "The email address or password is not right.".to_owned(),
        )]);
        let kept = BTreeMap::from([("email", f.email.clone())]);
        shopper
            .render(AccountPage::new(LOGIN).refused(kept, errors), None)
            .await
    };
    let Ok(email) = Email::parse(&f.email) else {
        return refuse().await;
    };
    let key = ThrottleKey::customer(shopper.tenant.id, email.as_str(), ip);
    let standing = sign_in_throttle::check(&app.db, &key).await?;
    if let Some(retry_after_secs) = standing.retry_after_secs() {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let mut tx = tenant_store::begin(&app.db, &shopper.tenant.schema).await?;
    let found = customers::credentials(&mut tx, email.as_str()).await?;
    tx.commit().await?;
    let ok = match &found {
        Some((_, hash)) => app.passwords.verify(&f.password, hash).await?,
        // The same work as a real check, so timing doesn't reveal which addresses exist.
        None => app.passwords.spend_a_verification(&f.password).await?,
    };
    let (true, Some((id, _))) = (ok, found) else {
        sign_in_throttle::record_failure(&app.db, &key).await?;
        return refuse().await;
    };
    if standing.failures > 0 {
        sign_in_throttle::clear(&app.db, &key).await?;
    }
    shopper.sign_in(id).await?;
    Ok(Redirect::to("/account").into_response())
}

/// `POST /account/logout`: forgets the customer (the cart stays).
pub async fn logout(session: Session) -> Result<Redirect, AppError> {
    session
        .remove::<Uuid>(CUSTOMER_KEY)
        .await
        .map_err(session_error)?;
    session
        .remove::<Uuid>(CUSTOMER_TENANT_KEY)
        .await
        .map_err(session_error)?;
    session.cycle_id().await.map_err(session_error)?;
    Ok(Redirect::to("/"))
}

/// `GET /account`: profile, password, order history.
pub async fn show_account(shopper: Shopper) -> Result<Response, AppError> {
    shopper.account_page(AccountPage::new(ACCOUNT)).await
}

/// The profile form.
#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    phone: String,
}

/// `POST /account`: saves name and phone.
pub async fn update_profile(
    shopper: Shopper,
    Form(f): Form<ProfileForm>,
) -> Result<Response, AppError> {
    let Some(id) = shopper.customer_id().await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    let mut tx = tenant_store::begin(&shopper.app.db, &shopper.tenant.schema).await?;
    let mut errors = BTreeMap::new();
    match customers::update_profile(&mut tx, id, &f.first_name, &f.last_name, &f.phone).await {
        Ok(_) => {
            tx.commit().await?;
            let page = AccountPage::new(ACCOUNT).notice("Your details were saved.");
            return shopper.render(page, Some(id)).await;
        }
        Err(e) => into_fields(e, &mut errors)?,
    }
    drop(tx);
    let kept = BTreeMap::from([
        ("first_name", f.first_name),
        ("last_name", f.last_name),
        ("phone", f.phone),
    ]);
    shopper
        .render(AccountPage::new(ACCOUNT).refused(kept, errors), Some(id))
        .await
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// `POST /account/password`: needs the current password. The new password's length and a
/// limit per customer are checked before the current one is (argon2).
pub async fn change_password(
    shopper: Shopper,
    Form(f): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let Some(id) = shopper.customer_id().await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    let refuse = |field: &str, message: String| {
        let errors = BTreeMap::from([(field.to_owned(), message)]);
        let page = AccountPage::new(ACCOUNT).refused(BTreeMap::new(), errors);
        shopper.render(page, Some(id))
    };
    if let Err(m) = accounts::check_new_password(&f.new_password) {
        return refuse("new_password", m).await;
    }
    let app = &shopper.app;
    app.limits
        .hit(
            rate_limit::PASSWORD_CHECK_PER_ACCOUNT,
            &format!("{}:{id}", shopper.tenant.id),
        )
        .await?;
    let (db, schema) = (&app.db, &shopper.tenant.schema);
    let mut tx = tenant_store::begin(db, schema).await?;
    let hash = customers::password_hash(&mut tx, id).await?;
    tx.commit().await?;
    if !app.passwords.verify(&f.current_password, &hash).await? {
        return refuse(
            "current_password",
            "is not your current password".to_owned(),
        )
        .await;
    }
    let new_hash = app.passwords.hash(&f.new_password).await?;
    let mut tx = tenant_store::begin(db, schema).await?;
    customers::set_password_hash(&mut tx, id, &new_hash).await?;
    tx.commit().await?;
    shopper.session.cycle_id().await.map_err(session_error)?;
    let page = AccountPage::new(ACCOUNT).notice("Your password was changed.");
    shopper.render(page, Some(id)).await
}

/// `GET /account/addresses`.
pub async fn show_addresses(shopper: Shopper) -> Result<Response, AppError> {
    shopper.account_page(AccountPage::new(ADDRESSES)).await
}

/// Adds an address (`id` None) or replaces one of the customer's.
async fn save_address(
    shopper: Shopper,
    id: Option<Uuid>,
    address: Address,
) -> Result<Response, AppError> {
    let Some(customer) = shopper.customer_id().await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    let mut tx = tenant_store::begin(&shopper.app.db, &shopper.tenant.schema).await?;
    let mut errors = BTreeMap::new();
    match customers::save_address(&mut tx, customer, id, &address).await {
        Ok(_) => {
            tx.commit().await?;
            return Ok(Redirect::to("/account/addresses").into_response());
        }
        Err(e) => into_fields(e, &mut errors)?,
    }
    drop(tx);
    let kept = BTreeMap::from([
        ("first_name", address.first_name),
        ("last_name", address.last_name),
        ("company", address.company),
        ("address1", address.address1),
        ("address2", address.address2),
        ("city", address.city),
        ("province", address.province),
        ("zip", address.zip),
        ("country", address.country),
        ("phone", address.phone),
    ]);
    shopper
        .render(
            AccountPage::new(ADDRESSES).refused(kept, errors),
            Some(customer),
        )
        .await
}

/// `POST /account/addresses`.
pub async fn create_address(
    shopper: Shopper,
    Form(a): Form<Address>,
) -> Result<Response, AppError> {
    save_address(shopper, None, a).await
}

/// `POST /account/addresses/{id}`.
pub async fn update_address(
    shopper: Shopper,
    Path(id): Path<Uuid>,
    Form(a): Form<Address>,
) -> Result<Response, AppError> {
    save_address(shopper, Some(id), a).await
}

/// `POST /account/addresses/{id}/delete`.
pub async fn delete_address(
    State(app): State<AppState>,
    shopper: Shopper,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let Some(customer) = shopper.customer_id().await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    let mut tx = tenant_store::begin(&app.db, &shopper.tenant.schema).await?;
    customers::delete_address(&mut tx, customer, id).await?;
    tx.commit().await?;
    Ok(Redirect::to("/account/addresses").into_response())
}
