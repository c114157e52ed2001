//! `GET /pricing`: the plans, from the database.

use axum::extract::State;
use axum::response::Html;
use billing::{Currency, Money};
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;

#[derive(Serialize)]
struct PlanView {
    code: String,
    name: String,
    /// "Free", or e.g. "29.00 USD".
    price: String,
    products: String,
    staff: String,
    features: Vec<String>,
}

#[derive(Serialize)]
struct PricingView {
    plans: Vec<PlanView>,
}

type PlanRow = (
    String,
    String,
    i64,
    String,
    Option<i32>,
    Option<i32>,
    serde_json::Value,
);

/// The plans in their display order.
pub async fn show_pricing(State(app): State<AppState>) -> Result<Html<String>, AppError> {
    let rows: Vec<PlanRow> = sqlx::query_as(
        "SELECT code, name, price_minor, currency, product_limit, staff_limit, features \
         FROM platform.plans ORDER BY position, code",
    )
    .fetch_all(&app.db)
    .await?;
    let mut plans = Vec::with_capacity(rows.len());
    for (code, name, price_minor, currency, products, staff, features) in rows {
        let currency = Currency::parse(&currency)
            .map_err(|e| anyhow::anyhow!("plan {code} has a bad currency: {e}"))?;
        let limit = |n: Option<i32>, what: &str| match n {
            Some(n) => format!("Up to {n} {what}"),
            None => format!("Unlimited {what}"),
        };
        plans.push(PlanView {
            price: if price_minor == 0 {
                "Free".into()
            } else {
                format!(
                    "{} {}",
                    Money::new(price_minor, currency).to_decimal_string(),
                    currency.as_str()
                )
            },
            products: limit(products, "products"),
            staff: limit(staff, "staff accounts"),
            features: serde_json::from_value(features).unwrap_or_default(),
            code,
            name,
        });
    }
    Ok(Html(
        app.views
            .render("platform/pricing.html", &PricingView { plans })?,
    ))
}
