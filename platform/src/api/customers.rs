//! `/admin/api/v1/customers`: customers in Shopify's shape (`{"customer": {...}}`), with
//! their order count, total spent and store credit as decimal strings in the store's
//! currency; the count and a search by email or name.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use billing::{Currency, Money};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use tenant_store::content::IdCursor;
use tenant_store::customers::{self, CustomerSummary};
use tenant_store::settings;
use uuid::Uuid;

use super::paging::{Paging, json_with_next};
use super::{ApiClient, ApiError, path_id};
use crate::api_tokens::Scope;
use crate::app::AppState;
use crate::error::AppError;
use crate::routing::{Routes, get};

/// Reading customers.
const CUSTOMERS_READ: Scope = Scope::CustomersRead;

/// Routes of this part of the API.
pub fn router() -> Routes {
    Routes::new()
        .route("/admin/api/v1/customers", get(list_customers))
        .route("/admin/api/v1/customers.json", get(list_customers))
        .route("/admin/api/v1/customers/count", get(count_customers))
        .route("/admin/api/v1/customers/count.json", get(count_customers))
        .route("/admin/api/v1/customers/search", get(search_customers))
        .route("/admin/api/v1/customers/search.json", get(search_customers))
        .route("/admin/api/v1/customers/{id}", get(show_customer))
}

/// A customer as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerJson {
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    phone: String,
    orders_count: i64,
    /// Σ totals of paid (and since refunded) orders.
    total_spent: String,
    /// `enabled` with an account, `disabled` for a guest from checkout.
    #[schema(value_type = String, example = "enabled")]
    state: &'static str,
    store_credit: String,
    currency: String,
    created_at: DateTime<Utc>,
}

fn customer_json(c: &CustomerSummary, currency: Currency) -> CustomerJson {
    CustomerJson {
        id: c.id,
        email: c.email.clone(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        phone: c.phone.clone(),
        orders_count: c.orders_count,
        total_spent: Money::new(c.total_spent_minor, currency).to_decimal_string(),
        state: if c.has_account { "enabled" } else { "disabled" },
        store_credit: Money::new(c.credit_minor, currency).to_decimal_string(),
        currency: currency.as_str().to_owned(),
        created_at: c.created_at,
    }
}

async fn store_currency(conn: &mut PgConnection) -> Result<Currency, ApiError> {
    let code = settings::load(conn).await?.currency;
    Currency::parse(&code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("store currency: {e}")).into())
}

/// `{"customers": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerList {
    customers: Vec<CustomerJson>,
}

/// `{"customer": {...}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerEnvelope {
    customer: CustomerJson,
}

/// `{"count": N}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerCount {
    count: i64,
}

/// A page of customers matching `query` (all without one), newest first.
async fn page(
    app: &AppState,
    client: &ApiClient,
    query: Option<&str>,
    paging: &Paging,
) -> Result<(CustomerList, Option<IdCursor>), ApiError> {
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let after = paging.page_info.map(|c| c.0);
    let page = customers::list_summaries(&mut tx, query, after, paging.limit).await?;
    tx.commit().await?;
    let list = CustomerList {
        customers: page
            .customers
            .iter()
            .map(|c| customer_json(c, currency))
            .collect(),
    };
    Ok((list, page.next.map(IdCursor)))
}

/// `GET /admin/api/v1/customers.json`: newest first; `limit`, `page_info`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/customers",
    tag = "customers",
    params(
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 250 (default 50)"),
        ("page_info" = Option<String>, Query, description = "Cursor from the previous page's `Link` header"),
    ),
    responses(
        (status = 200, description = "A page of customers, newest first; a `Link: <...>; rel=\"next\"` header points at the next one", body = CustomerList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks customers:read"),
        (status = 422, description = "A bad `limit` or `page_info`"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn list_customers(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(CUSTOMERS_READ)?;
    let paging = Paging::parse(uri.query())?;
    let (list, next) = page(&app, &client, None, &paging).await?;
    Ok(paging.respond(&app, &headers, &uri, next, list))
}

/// The search text of Shopify's `query` (`email:ada@example.com` or free text): field
/// prefixes are dropped, the rest matched against email and name.
fn search_text(query: &str) -> String {
    query
        .split_whitespace()
        .map(|term| {
            ["email:", "first_name:", "last_name:", "name:"]
                .iter()
                .find_map(|p| term.strip_prefix(p))
                .unwrap_or(term)
        })
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GET /admin/api/v1/customers/search.json?query=...`: customers whose email or name
/// contains the text, newest first; `limit`, `page_info`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/customers/search",
    tag = "customers",
    params(
        ("query" = Option<String>, Query, description = "Text matched against email and name; Shopify's `email:`, `first_name:`, `last_name:` and `name:` prefixes are accepted"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 250 (default 50)"),
        ("page_info" = Option<String>, Query, description = "Cursor from the previous page's `Link` header"),
    ),
    responses(
        (status = 200, description = "A page of matching customers, newest first; a `Link: <...>; rel=\"next\"` header points at the next one", body = CustomerList),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks customers:read"),
        (status = 422, description = "A bad `limit` or `page_info`"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn search_customers(
    State(app): State<AppState>,
    client: ApiClient,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    client.require(CUSTOMERS_READ)?;
    let paging = Paging::parse(uri.query())?;
    let raw = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let text = search_text(&raw);
    let (list, next) = page(&app, &client, Some(&text), &paging).await?;
    let limit = paging.limit.to_string();
    let cursor = next.map(|n| n.encode());
    let params = cursor.as_deref().map(|c| {
        [
            ("query", raw.as_str()),
            ("limit", limit.as_str()),
            ("page_info", c),
        ]
    });
    Ok(json_with_next(
        &app,
        &headers,
        &uri,
        params.as_ref().map(|p| &p[..]),
        list,
    ))
}

/// `GET /admin/api/v1/customers/count.json`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/customers/count",
    tag = "customers",
    responses(
        (status = 200, description = "How many customers the store has", body = CustomerCount),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks customers:read"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn count_customers(
    State(app): State<AppState>,
    client: ApiClient,
) -> Result<axum::Json<CustomerCount>, ApiError> {
    client.require(CUSTOMERS_READ)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let count = customers::count_customers(&mut tx, None).await?;
    tx.commit().await?;
    Ok(axum::Json(CustomerCount { count }))
}

/// `GET /admin/api/v1/customers/{id}.json`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/customers/{id}",
    tag = "customers",
    params(("id" = Uuid, Path, description = "The customer's id (a `.json` suffix is accepted)")),
    responses(
        (status = 200, description = "The customer with their order count, total spent and store credit", body = CustomerEnvelope),
        (status = 401, description = "No valid token"),
        (status = 403, description = "The token lacks customers:read"),
        (status = 404, description = "No such customer in this store"),
    ),
    security(("bearer" = []), ("shopify_access_token" = []))
)]
pub async fn show_customer(
    State(app): State<AppState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<axum::Json<CustomerEnvelope>, ApiError> {
    client.require(CUSTOMERS_READ)?;
    let id = path_id(&id)?;
    let mut tx = tenant_store::begin(&app.db, &client.tenant.schema).await?;
    let currency = store_currency(&mut tx).await?;
    let customer = customers::summary(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(CustomerEnvelope {
        customer: customer_json(&customer, currency),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_prefixes_are_dropped() {
        assert_eq!(search_text("email:ada@example.com"), "ada@example.com");
        assert_eq!(search_text("  Ada  "), "Ada");
        assert_eq!(search_text("name:Ada Lovelace"), "Ada Lovelace");
    }
}
