//! Stripe: a hosted Checkout Session per payment, signed webhooks, refunds by PaymentIntent.
//!
//! The shopper types card details on Stripe's page only. Every write carries the caller's
//! idempotency key, so a retried start or refund cannot charge or refund twice.

mod amount;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData, RetrieveCheckoutSession,
};
use stripe_core::refund::CreateRefund;
use stripe_shared::{
    CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus,
};
use stripe_webhook::{EventObject, Webhook, WebhookError};
use uuid::Uuid;

use crate::{
    BillingError, Capabilities, GatewayEvent, GatewayEventKind, Money, PaymentGateway,
    PaymentRequest, PaymentStart, PaymentStatus, RefundRef,
};

/// Stripe's live API, used when [`StripeConfig::api_base`] is `None`.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com/";
/// The metadata key under which sessions and payments carry the platform's order id.
pub const ORDER_ID_METADATA_KEY: &str = "order_id";
const SIGNATURE_HEADER: &str = "stripe-signature";
/// How long one call to Stripe may take before checkout gives up (and may retry with the
/// same idempotency key).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One tenant's Stripe settings, as the merchant entered them in the admin.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// The secret API key (`sk_live_…`, `sk_test_…` or a restricted `rk_…`).
    pub secret_key: SecretString,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: SecretString,
    /// Where Stripe's API lives; `None` for the real one. Tests point it at a stand-in.
    pub api_base: Option<String>,
}

/// The Stripe gateway of one tenant.
#[derive(Clone)]
pub struct StripeGateway {
    client: stripe::Client,
    webhook_secret: SecretString,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway").finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// A gateway talking to Stripe (or the configured stand-in) with these credentials.
    pub fn new(config: StripeConfig) -> Result<Self, BillingError> {
        let secret_key = config.secret_key.expose_secret();
        if secret_key.is_empty() {
            return Err(BillingError::invalid("secret_key", "is required"));
        }
        if config.webhook_secret.expose_secret().is_empty() {
            return Err(BillingError::invalid("webhook_secret", "is required"));
        }
        let mut api_base = config
            .api_base
            .unwrap_or_else(|| STRIPE_API_BASE.to_owned());
        if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
            return Err(BillingError::invalid("api_base", "must be an http(s) URL"));
        }
        // The client appends `v1/...` directly to the base.
        if !api_base.ends_with('/') {
            api_base.push('/');
        }
        let client = stripe::ClientBuilder::new(secret_key)
            .url(api_base)
            .timeout(REQUEST_TIMEOUT)
            .app_info(
                "storefront",
                Some(env!("CARGO_PKG_VERSION").to_owned()),
                None,
            )
            .build()
            .map_err(|e| BillingError::invalid("secret_key", e.to_string()))?;
        Ok(Self {
            client,
            webhook_secret: config.webhook_secret,
        })
    }

    async fn retrieve_session(&self, payment_ref: &str) -> Result<CheckoutSession, BillingError> {
        check_session_id(payment_ref)?;
        RetrieveCheckoutSession::new(payment_ref)
            .send(&self.client)
            .await
            .map_err(gateway_error)
    }
}

/// Refuses anything but a Checkout Session id before it becomes part of a URL path.
fn check_session_id(payment_ref: &str) -> Result<(), BillingError> {
    let ok = payment_ref.strip_prefix("cs_").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if ok && payment_ref.len() <= 255 {
        Ok(())
    } else {
        Err(BillingError::invalid(
            "payment_ref",
            "not a Stripe Checkout Session id",
        ))
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, BillingError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|_| BillingError::invalid("idempotency_key", "must be 1 to 255 characters"))
}

fn check_positive(field: &'static str, amount: Money) -> Result<(), BillingError> {
    if amount.minor > 0 {
        Ok(())
    } else {
        Err(BillingError::invalid(field, "must be more than zero"))
    }
}

fn stripe_currency(money: Money) -> stripe_types::Currency {
    let code = money.currency.as_str().to_ascii_lowercase();
    match stripe_types::Currency::from_str(&code) {
        Ok(currency) => currency,
        Err(never) => match never {},
    }
}

/// Stripe's answer as a [`BillingError`]: its own message for a refused request (it names
/// the parameter at fault), a generic one for transport trouble.
fn gateway_error(err: StripeError) -> BillingError {
    match err {
        StripeError::Stripe(api, status) => {
            let message = api.message.unwrap_or_else(|| "no message".to_owned());
            BillingError::Gateway(format!("Stripe refused the request ({status}): {message}"))
        }
        StripeError::JSONDeserialize(e) => {
            BillingError::Gateway(format!("unexpected answer from Stripe: {e}"))
        }
        StripeError::ClientError(e) | StripeError::ConfigError(e) => {
            BillingError::Gateway(format!("could not reach Stripe: {e}"))
        }
        StripeError::Timeout => BillingError::Gateway("Stripe did not answer in time".to_owned()),
    }
}

fn order_id_of(session: &CheckoutSession) -> Option<Uuid> {
    session
        .metadata
        .as_ref()
        .and_then(|m| m.get(ORDER_ID_METADATA_KEY))
        .and_then(|id| Uuid::try_parse(id).ok())
}

fn session_total(session: &CheckoutSession) -> Option<Money> {
    let total = session.amount_total?;
    let currency = session.currency.as_ref()?;
    amount::from_stripe(total, &currency.to_string()).ok()
}

/// The event types [`StripeGateway::parse_webhook`] turns into a [`GatewayEvent`].
const ACTED_ON: [&str; 4] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
];

/// Whether a verified payload's `type` is one the gateway acts on (unreadable counts as yes,
/// so nothing that might matter is silently dropped).
fn is_acted_on(payload: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, rename = "type")]
        type_: std::borrow::Cow<'a, str>,
    }
    serde_json::from_str::<Envelope<'_>>(payload)
        .map_or(true, |envelope| ACTED_ON.contains(&envelope.type_.as_ref()))
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn capabilities(&self) -> Capabilities {
        // Sessions capture automatically; authorize-now-capture-later is not offered yet.
        Capabilities {
            refunds: true,
            partial_refunds: true,
            partial_capture: false,
            webhooks: true,
            manual_capture: false,
        }
    }

    async fn start_payment(&self, req: &PaymentRequest) -> Result<PaymentStart, BillingError> {
        check_positive("amount", req.amount)?;
        let strategy = idempotent(&req.idempotency_key)?;
        let unit_amount = amount::to_stripe(req.amount)?;
        let order_id = req.order_id.to_string();
        let metadata = HashMap::from([(ORDER_ID_METADATA_KEY.to_owned(), order_id.clone())]);

        let mut price = CreateCheckoutSessionLineItemsPriceData::new(stripe_currency(req.amount));
        price.unit_amount = Some(unit_amount);
        price.product_data = Some(ProductData::new(req.description.clone()));
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price_data = Some(price);
        line.quantity = Some(1);
        // Metadata on the PaymentIntent too, so the payment is traceable in Stripe's
        // dashboard and in refunds, not only on the session.
        let mut payment_intent = CreateCheckoutSessionPaymentIntentData::new();
        payment_intent.metadata = Some(metadata.clone());
        payment_intent.description = Some(req.description.clone());

        let mut create = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![line])
            .success_url(req.return_url.clone())
            .cancel_url(req.cancel_url.clone())
            .client_reference_id(order_id)
            .metadata(metadata)
            .payment_intent_data(payment_intent);
        if let Some(email) = &req.customer_email {
            create = create.customer_email(email.clone());
        }
        let session = create
            .customize()
            .request_strategy(strategy)
            .send(&self.client)
            .await
            .map_err(gateway_error)?;
        let url = session.url.ok_or_else(|| {
            BillingError::Gateway("Stripe created a session without a payment page".to_owned())
        })?;
        Ok(PaymentStart::Redirect {
            url,
            payment_ref: session.id.as_str().to_owned(),
        })
    }

    async fn confirm(&self, payment_ref: &str) -> Result<PaymentStatus, BillingError> {
        let session = self.retrieve_session(payment_ref).await?;
        Ok(match (&session.status, &session.payment_status) {
            (_, CheckoutSessionPaymentStatus::Paid)
            | (_, CheckoutSessionPaymentStatus::NoPaymentRequired) => PaymentStatus::Succeeded,
            (Some(CheckoutSessionStatus::Expired), _) => PaymentStatus::Canceled,
            // Open, or complete while a delayed method (a bank debit) is still settling.
            _ => PaymentStatus::Pending,
        })
    }

    async fn parse_webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Option<GatewayEvent>, BillingError> {
        let signature = header(headers, SIGNATURE_HEADER).ok_or(BillingError::InvalidSignature)?;
        // Stripe signs UTF-8 JSON; anything else cannot carry a valid signature.
        let payload = std::str::from_utf8(body).map_err(|_| BillingError::InvalidSignature)?;
        // Checks every `v1=` signature in constant time and a 300-second timestamp tolerance
        // before it parses anything.
        let event =
            match Webhook::construct_event(payload, signature, self.webhook_secret.expose_secret())
            {
                Ok(event) => event,
                // Only reached once the signature and timestamp were good. An event we do not act
                // on may carry an object this SDK cannot read (another API version): that is no
                // reason to make Stripe resend it forever.
                Err(WebhookError::BadParse(e)) => {
                    return if is_acted_on(payload) {
                        Err(BillingError::Gateway(format!(
                            "unreadable Stripe event: {e}"
                        )))
                    } else {
                        Ok(None)
                    };
                }
                Err(
                    WebhookError::BadKey
                    | WebhookError::BadHeader(_)
                    | WebhookError::BadSignature
                    | WebhookError::BadTimestamp(_),
                ) => return Err(BillingError::InvalidSignature),
            };
        let (session, kind) = match event.data.object {
            EventObject::CheckoutSessionCompleted(session) => {
                // A delayed method completes the session unpaid; its outcome comes later as
                // `checkout.session.async_payment_*`.
                match session.payment_status {
                    CheckoutSessionPaymentStatus::Paid
                    | CheckoutSessionPaymentStatus::NoPaymentRequired => {
                        (session, GatewayEventKind::Succeeded)
                    }
                    _ => return Ok(None),
                }
            }
            EventObject::CheckoutSessionAsyncPaymentSucceeded(session) => {
                (session, GatewayEventKind::Succeeded)
            }
            EventObject::CheckoutSessionAsyncPaymentFailed(session) => {
                (session, GatewayEventKind::Failed)
            }
            EventObject::CheckoutSessionExpired(session) => (session, GatewayEventKind::Canceled),
            _ => return Ok(None),
        };
        // Sessions the platform did not create (the merchant's other Stripe uses) carry no
        // order id and concern no order here.
        let Some(order_id) = order_id_of(&session) else {
            return Ok(None);
        };
        Ok(Some(GatewayEvent {
            event_id: event.id.as_str().to_owned(),
            payment_ref: session.id.as_str().to_owned(),
            order_id: Some(order_id),
            amount: session_total(&session),
            kind,
        }))
    }

    async fn capture(
        &self,
        _payment_ref: &str,
        _amount: Option<Money>,
    ) -> Result<(), BillingError> {
        Err(BillingError::Unsupported("manual capture with Stripe"))
    }

    async fn refund(
        &self,
        payment_ref: &str,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<RefundRef, BillingError> {
        check_positive("amount", amount)?;
        let strategy = idempotent(idempotency_key)?;
        let stripe_amount = amount::to_stripe(amount)?;
        let session = self.retrieve_session(payment_ref).await?;
        if let Some(paid) = session_total(&session)
            && paid.currency != amount.currency
        {
            return Err(BillingError::invalid(
                "amount",
                format!(
                    "the payment was in {}, not {}",
                    paid.currency, amount.currency
                ),
            ));
        }
        let payment_intent = session
            .payment_intent
            .as_ref()
            .map(|pi| pi.id().as_str().to_owned())
            .ok_or_else(|| BillingError::invalid("payment_ref", "nothing was paid yet"))?;
        let mut create = CreateRefund::new()
            .payment_intent(payment_intent)
            .amount(stripe_amount);
        if let Some(metadata) = session.metadata.clone() {
            create = create.metadata(metadata);
        }
        let refund = create
            .customize()
            .request_strategy(strategy)
            .send(&self.client)
            .await
            .map_err(gateway_error)?;
        Ok(RefundRef(refund.id.as_str().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_checked_before_use_in_a_path() {
        assert!(check_session_id("cs_test_a1B2c3").is_ok());
        for bad in [
            "",
            "cs_",
            "pi_123",
            "cs_../refunds",
            "cs_a/b",
            "cs_a?b=c",
            "manual_x",
        ] {
            assert!(check_session_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn config_is_validated() {
        let config = |key: &str, whsec: &str, base: Option<&str>| StripeConfig {
            secret_key: key.into(),
            webhook_secret: whsec.into(),
            api_base: base.map(str::to_owned),
        };
        assert!(StripeGateway::new(config("sk_test_1", "whsec_1", None)).is_ok());
        assert!(
            StripeGateway::new(config("sk_test_1", "whsec_1", Some("http://127.0.0.1:9"))).is_ok()
        );
        assert!(StripeGateway::new(config("", "whsec_1", None)).is_err());
        assert!(StripeGateway::new(config("sk_test_1", "", None)).is_err());
        assert!(StripeGateway::new(config("sk_test_1", "whsec_1", Some("ftp://x"))).is_err());
    }

    #[test]
    fn debug_never_shows_keys() {
        let gateway = StripeGateway::new(StripeConfig {
            secret_key: "sk_test_supersecret".into(),
            webhook_secret: "whsec_supersecret".into(),
            api_base: None,
        })
        .expect("valid config");
        assert!(!format!("{gateway:?}").contains("supersecret"));
    }
}
