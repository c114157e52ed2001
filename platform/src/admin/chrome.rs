//! What every admin page shows around its content: store name, signed-in member, CSRF token.

use serde::Serialize;

use crate::csrf;
use crate::error::AppError;
use crate::extract::{CurrentMerchant, CurrentTenant};

/// The admin layout's variables (`templates/admin/layout.html`).
#[derive(Serialize)]
pub struct Chrome {
    /// The store's name.
    pub store_name: String,
    /// The signed-in member's address.
    pub merchant_email: String,
    /// Their role.
    pub role: String,
    /// The session's CSRF token for the page's forms.
    pub csrf: String,
}

impl Chrome {
    /// The chrome for a member of a store.
    pub async fn new(tenant: &CurrentTenant, merchant: &CurrentMerchant) -> Result<Self, AppError> {
        Ok(Self {
            store_name: tenant.name.clone(),
            merchant_email: merchant.email.clone(),
            role: merchant.role.clone(),
            csrf: csrf::token(&merchant.session).await?,
        })
    }
}
