//! The tenant list and the actions an operator takes on a tenant, each written to the audit log.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::AppState;
use crate::csrf;
use crate::error::AppError;
use crate::extract::CurrentOperator;
use crate::tenancy::{self, Tenant};

/// Tenants shown per page.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u32>,
}

#[derive(Serialize, sqlx::FromRow)]
struct Row {
    id: Uuid,
    subdomain: String,
    name: String,
    plan_code: String,
    status: String,
    created_at: DateTime<Utc>,
    schema_name: String,
    #[sqlx(skip)]
    products: Option<i64>,
    #[sqlx(skip)]
    orders: Option<i64>,
}

#[derive(Serialize, sqlx::FromRow)]
struct Plan {
    code: String,
    name: String,
}

#[derive(Serialize)]
struct ListView<'a> {
    operator_email: &'a str,
    csrf: String,
    q: &'a str,
    tenants: Vec<Row>,
    plans: Vec<Plan>,
    page: u32,
    has_next: bool,
    total: i64,
}

/// `GET /operator?q=&page=`: tenants, newest first, searchable by subdomain or name.
pub async fn list_tenants(
    State(app): State<AppState>,
    operator: CurrentOperator,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, AppError> {
    let page = query.page.unwrap_or(1).max(1);
    let pattern = format!("%{}%", escape_like(query.q.trim()));
    let mut tenants: Vec<Row> = sqlx::query_as(
        "SELECT id, subdomain, name, plan_code, status, created_at, schema_name FROM platform.tenants \
         WHERE subdomain ILIKE $1 OR name ILIKE $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(&pattern)
    .bind(PAGE_SIZE + 1)
    .bind((i64::from(page) - 1) * PAGE_SIZE)
    .fetch_all(&app.db)
    .await?;
    let has_next = tenants.len() as i64 > PAGE_SIZE;
    tenants.truncate(PAGE_SIZE as usize);
    // One short tenant transaction per row of this page (each store counts in its own
    // schema); a store whose count fails still lists, without it.
    for t in &mut tenants {
        if let Ok(schema) = tenant_store::TenantSchema::from_registry(t.schema_name.clone())
            && let Ok(mut tx) = tenant_store::begin(&app.db, &schema).await
        {
            t.products = tenant_store::catalog::count_products(&mut tx).await.ok();
            t.orders = tenant_store::orders::count_orders(&mut tx).await.ok();
        }
    }
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM platform.tenants WHERE subdomain ILIKE $1 OR name ILIKE $1",
    )
    .bind(&pattern)
    .fetch_one(&app.db)
    .await?;
    let plans: Vec<Plan> =
        sqlx::query_as("SELECT code, name FROM platform.plans ORDER BY position, code")
            .fetch_all(&app.db)
            .await?;
    let view = ListView {
        operator_email: &operator.email,
        csrf: csrf::token(&operator.session).await?,
        q: query.q.trim(),
        tenants,
        plans,
        page,
        has_next,
        total,
    };
    Ok(Html(app.views.render("operator/tenants.html", &view)?))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

/// `POST /operator/tenants/{id}/status`: suspend or resume a store.
pub async fn update_status(
    State(app): State<AppState>,
    operator: CurrentOperator,
    Path(id): Path<Uuid>,
    Form(form): Form<StatusForm>,
) -> Result<Redirect, AppError> {
    if !matches!(form.status.as_str(), "active" | "suspended") {
        return Err(AppError::invalid("status", "must be active or suspended"));
    }
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    let tenant = tenancy::set_status(&mut tx, id, &form.status)
        .await?
        .ok_or(AppError::NotFound)?;
    let action = if form.status == "suspended" {
        "tenant.suspend"
    } else {
        "tenant.resume"
    };
    audit(&mut tx, &operator, action, &tenant, serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(Redirect::to("/operator"))
}

#[derive(Deserialize)]
pub struct PlanForm {
    plan_code: String,
}

/// `POST /operator/tenants/{id}/plan`: move a store to another plan.
pub async fn update_plan(
    State(app): State<AppState>,
    operator: CurrentOperator,
    Path(id): Path<Uuid>,
    Form(form): Form<PlanForm>,
) -> Result<Redirect, AppError> {
    let mut tx = tenant_store::begin_platform(&app.db).await?;
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM platform.plans WHERE code = $1)")
            .bind(&form.plan_code)
            .fetch_one(&mut *tx)
            .await?;
    if !known {
        return Err(AppError::invalid("plan_code", "is not a plan"));
    }
    let before: Option<String> =
        sqlx::query_scalar("SELECT plan_code FROM platform.tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let before = before.ok_or(AppError::NotFound)?;
    let tenant = tenancy::set_plan(&mut tx, id, &form.plan_code)
        .await?
        .ok_or(AppError::NotFound)?;
    let details = serde_json::json!({ "from": before, "to": form.plan_code });
    audit(&mut tx, &operator, "tenant.change_plan", &tenant, details).await?;
    tx.commit().await?;
    Ok(Redirect::to("/operator"))
}

/// Records an operator action in the same transaction as the action.
async fn audit(
    conn: &mut PgConnection,
    operator: &CurrentOperator,
    action: &str,
    tenant: &Tenant,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO platform.operator_audit (operator_id, action, tenant_id, subdomain, details) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(operator.user_id)
    .bind(action)
    .bind(tenant.id)
    .bind(&tenant.subdomain)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Serialize, sqlx::FromRow)]
struct AuditRow {
    created_at: DateTime<Utc>,
    operator_email: Option<String>,
    action: String,
    subdomain: Option<String>,
    details: serde_json::Value,
}

#[derive(Serialize)]
struct AuditView<'a> {
    operator_email: &'a str,
    csrf: String,
    entries: Vec<AuditRow>,
}

/// `GET /operator/audit`: the latest operator actions.
pub async fn show_audit(
    State(app): State<AppState>,
    operator: CurrentOperator,
) -> Result<Html<String>, AppError> {
    let entries: Vec<AuditRow> = sqlx::query_as(
        "SELECT a.created_at, u.email AS operator_email, a.action, a.subdomain, a.details \
         FROM platform.operator_audit a LEFT JOIN platform.users u ON u.id = a.operator_id \
         ORDER BY a.created_at DESC, a.id DESC LIMIT 200",
    )
    .fetch_all(&app.db)
    .await?;
    let view = AuditView {
        operator_email: &operator.email,
        csrf: csrf::token(&operator.session).await?,
        entries,
    };
    Ok(Html(app.views.render("operator/audit.html", &view)?))
}
