//! The operator console on the platform host: every tenant, suspension, plans, audit log.

mod session;
mod tenants;

use crate::routing::{Routes, get, post};

/// Operator routes.
pub fn router() -> Routes {
    Routes::new()
        .route("/operator", get(tenants::list_tenants))
        .route(
            "/operator/login",
            get(session::show_login).post(session::create_session),
        )
        .route("/operator/logout", post(session::destroy_session))
        .route(
            "/operator/tenants/{id}/status",
            post(tenants::update_status),
        )
        .route("/operator/tenants/{id}/plan", post(tenants::update_plan))
        .route("/operator/audit", get(tenants::show_audit))
}

/// Creates (or promotes) a platform operator account; returns whether the user is new.
pub async fn create_operator(
    pool: &sqlx::PgPool,
    email: &crate::accounts::Email,
    password_hash: &str,
) -> anyhow::Result<bool> {
    let mut tx = tenant_store::begin_platform(pool).await?;
    let created: Option<(uuid::Uuid,)> = sqlx::query_as(
        "INSERT INTO platform.users (id, email, password_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(email.as_str())
    .bind(password_hash)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO platform.operators (user_id) \
         SELECT id FROM platform.users WHERE email = $1 ON CONFLICT DO NOTHING",
    )
    .bind(email.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(created.is_some())
}
