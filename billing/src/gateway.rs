//! The one trait every payment gateway implements, and the values that cross it.

use async_trait::async_trait;
use uuid::Uuid;

use crate::{BillingError, Money};

/// What a gateway can do, so the admin and checkout only offer what will work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Payments can be refunded.
    pub refunds: bool,
    /// Refunds may be for less than the payment, and more than one per payment.
    pub partial_refunds: bool,
    /// An authorization may be captured for less than its amount.
    pub partial_capture: bool,
    /// The gateway reports outcomes by webhook, so `parse_webhook` does something.
    pub webhooks: bool,
    /// Payments can be authorized now and captured later (on shipping).
    pub manual_capture: bool,
}

/// Everything a gateway needs to start taking payment for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// The order being paid.
    pub order_id: Uuid,
    /// How much to take.
    pub amount: Money,
    /// Sent to the gateway so a retried start cannot charge twice.
    pub idempotency_key: String,
    /// Where the gateway sends the shopper after paying.
    pub return_url: String,
    /// Where the gateway sends the shopper who gives up.
    pub cancel_url: String,
    /// The shopper's email, for gateways that send their own receipts.
    pub customer_email: Option<String>,
    /// What the shopper sees on the gateway's page and statement.
    pub description: String,
}

/// How checkout continues after a payment was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStart {
    /// Send the shopper to the gateway's hosted page.
    Redirect {
        /// The hosted page.
        url: String,
        /// The gateway's reference for this payment.
        payment_ref: String,
    },
    /// Stay on the store and show the shopper what to do next (pay by transfer, on delivery).
    OnSite {
        /// The gateway's reference for this payment.
        payment_ref: String,
        /// What the shopper must do to pay, as the merchant wrote it.
        instructions: String,
    },
    /// Show the platform's own card form (only the test gateway: real card numbers never
    /// reach the platform); its submission goes to [`PaymentGateway::submit_card_form`].
    CardForm {
        /// The gateway's reference for this payment.
        payment_ref: String,
        /// A line to show above the form (which test cards do what).
        notice: String,
    },
    /// Already paid, nothing for the shopper to do (store credit, a zero total).
    Completed {
        /// The gateway's reference for this payment.
        payment_ref: String,
    },
}

impl PaymentStart {
    /// The gateway's reference for this payment, whichever way checkout continues.
    pub fn payment_ref(&self) -> &str {
        match self {
            Self::Redirect { payment_ref, .. }
            | Self::OnSite { payment_ref, .. }
            | Self::CardForm { payment_ref, .. }
            | Self::Completed { payment_ref } => payment_ref,
        }
    }
}

/// Where a payment stands according to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Nothing decided yet; the shopper or the merchant still has to act.
    Pending,
    /// The money is reserved and waits to be captured.
    Authorized,
    /// The money was taken.
    Succeeded,
    /// The payment will not happen.
    Failed {
        /// Why, in words safe to show the shopper.
        reason: String,
    },
    /// The shopper or merchant called it off.
    Canceled,
}

/// What a verified webhook says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEventKind {
    /// The payment succeeded.
    Succeeded,
    /// The payment failed.
    Failed,
    /// Part or all of the payment was refunded.
    Refunded {
        /// How much this refund returned.
        amount: Money,
    },
    /// The payment was canceled before money moved.
    Canceled,
}

/// A verified webhook from a gateway, ready to apply to an order.
///
/// The caller records `event_id` in its inbox of handled events (skipping redeliveries),
/// finds the order by `payment_ref` (cross-checked with `order_id` when given), and compares
/// `amount` with the order total: a mismatch in amount or currency is flagged for the
/// merchant, never taken as paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEvent {
    /// The gateway's id for the event; handled ids are recorded so redeliveries are skipped.
    pub event_id: String,
    /// The payment the event is about (as returned by `start_payment`).
    pub payment_ref: String,
    /// The order the gateway was told about when the payment started, when it echoes it.
    pub order_id: Option<Uuid>,
    /// What happened.
    pub kind: GatewayEventKind,
    /// The amount the event concerns, as the gateway reports it, when the gateway says.
    pub amount: Option<Money>,
}

impl GatewayEvent {
    /// Whether the gateway reported exactly `expected` (same currency, same minor units).
    ///
    /// `false` when the gateway gave no amount: a payment is only taken as the order's when
    /// the amounts agree; anything else is flagged for the merchant.
    pub fn amount_matches(&self, expected: Money) -> bool {
        self.amount == Some(expected)
    }
}

/// The gateway's reference for a refund it accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefundRef(pub String);

/// A way to take payment, used by checkout and the admin as `Arc<dyn PaymentGateway>`.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// The stable name a tenant's settings use to choose this gateway (`"manual"`).
    fn name(&self) -> &'static str;

    /// What this gateway supports.
    fn capabilities(&self) -> Capabilities;

    /// Starts taking payment for an order and says how checkout continues.
    async fn start_payment(&self, req: &PaymentRequest) -> Result<PaymentStart, BillingError>;

    /// Asks the gateway where a payment stands, e.g. when the shopper returns from it.
    async fn confirm(&self, payment_ref: &str) -> Result<PaymentStatus, BillingError>;

    /// Completes a [`PaymentStart::CardForm`] with the card number the shopper typed.
    ///
    /// Only the test gateway has a card form; every other gateway answers
    /// [`BillingError::Unsupported`].
    async fn submit_card_form(
        &self,
        payment_ref: &str,
        card_number: &str,
    ) -> Result<PaymentStatus, BillingError> {
        let _ = (payment_ref, card_number);
        Err(BillingError::Unsupported("card forms"))
    }

    /// Verifies a webhook's signature and reads the event it carries.
    ///
    /// `Err(BillingError::InvalidSignature)` means the request must be refused (400) and
    /// nothing changed; `Ok(None)` means a genuine event that concerns no order (answer 200
    /// so the gateway stops resending it).
    async fn parse_webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Option<GatewayEvent>, BillingError>;

    /// Takes an authorized payment, in full when `amount` is `None`.
    async fn capture(&self, payment_ref: &str, amount: Option<Money>) -> Result<(), BillingError>;

    /// Returns `amount` of a payment to the shopper; the key makes retries safe.
    async fn refund(
        &self,
        payment_ref: &str,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<RefundRef, BillingError>;
}
