//! Payment gateways behind one trait, and the money they move.
//!
//! Checkout and the admin talk to every gateway through [`PaymentGateway`], found by name in
//! [`Gateways`]; amounts are always exact [`Money`] in minor units. The gateways:
//! [`StripeGateway`] (hosted Checkout, signed webhooks), [`ManualGateway`] (bank transfer,
//! cash on delivery) and [`TestCardGateway`] (a fake card form, never in production).
//! Their secrets are stored sealed by [`SecretsCipher`] and shown only through [`mask_secret`].
//!
//! How the platform uses it, for one tenant:
//!
//! ```no_run
//! # async fn checkout(
//! #     settings_json: &str,
//! #     cipher: &billing::SecretsCipher,
//! #     order_id: uuid::Uuid,
//! #     webhook_headers: &[(String, String)],
//! #     webhook_body: &[u8],
//! # ) -> Result<(), billing::BillingError> {
//! use billing::{BuildContext, GatewaySettings, Money, Currency, PaymentRequest, PaymentStart};
//!
//! // The admin stored `GatewaySettings::stripe(cipher, "tenant:<id>", &key, &whsec)` as JSON.
//! let settings: GatewaySettings = serde_json::from_str(settings_json).expect("stored by us");
//! let ctx = BuildContext {
//!     cipher,
//!     tenant: "tenant:0192c3a4",
//!     production: true,
//!     stripe_api_base: None,
//! };
//! let gateway = settings.build(ctx)?;
//!
//! // Checkout: start the payment, store `payment_ref` on the order, then follow the answer.
//! let start = gateway
//!     .start_payment(&PaymentRequest {
//!         order_id,
//!         amount: Money::new(1999, Currency::parse("EUR").expect("valid")),
//!         idempotency_key: format!("order-{order_id}-payment-1"),
//!         return_url: "https://acme.example/orders/tok".to_owned(),
//!         cancel_url: "https://acme.example/checkout".to_owned(),
//!         customer_email: None,
//!         description: "Acme order #1001".to_owned(),
//!     })
//!     .await?;
//! match start {
//!     PaymentStart::Redirect { url, .. } => { /* 303 to `url` (Stripe's hosted page) */ }
//!     PaymentStart::OnSite { instructions, .. } => { /* "payment pending" + instructions */ }
//!     PaymentStart::CardForm { .. } => { /* render the test card form; post it to
//!                                           `gateway.submit_card_form(ref, number)` */ }
//!     PaymentStart::Completed { .. } => { /* mark paid */ }
//! }
//!
//! // Webhook endpoint: a bad signature is a 400 and changes nothing.
//! match gateway.parse_webhook(webhook_headers, webhook_body).await {
//!     Err(billing::BillingError::InvalidSignature) => { /* 400 */ }
//!     Err(_) => { /* 500: the gateway will resend */ }
//!     Ok(None) => { /* 200: nothing to do */ }
//!     Ok(Some(event)) => {
//!         // Skip `event.event_id` if already in the inbox; find the order by
//!         // `event.payment_ref`; flag it if `event.amount` differs from its total.
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Store credit is not here yet: it needs the tenant's ledger, so it belongs with the
//! platform, which can implement [`PaymentGateway`] over a `tenant-store` transaction
//! (`start_payment` debits the balance and answers [`PaymentStart::Completed`]; `refund`
//! credits it back) and register it in the tenant's [`Gateways`] like any other.

mod error;
mod gateway;
mod manual;
mod money;
mod registry;
mod secrets;
mod settings;
mod store_credit;
mod stripe_gateway;
mod test_card;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::BillingError;
pub use gateway::{
    Capabilities, GatewayEvent, GatewayEventKind, PaymentGateway, PaymentRequest, PaymentStart,
    PaymentStatus, RefundRef,
};
pub use manual::ManualGateway;
pub use money::{Currency, Money, MoneyError};
pub use registry::Gateways;
pub use secrets::{SecretsCipher, mask_secret};
pub use settings::{BuildContext, GatewaySettings};
pub use store_credit::{StoreCreditGateway, store_credit_ref};
pub use stripe_gateway::{ORDER_ID_METADATA_KEY, STRIPE_API_BASE, StripeConfig, StripeGateway};
pub use test_card::{TEST_CARD_DECLINED, TEST_CARD_NOTICE, TEST_CARD_SUCCEEDS, TestCardGateway};
