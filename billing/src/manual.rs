//! Payment outside the platform (bank transfer, cash on delivery), marked paid by the merchant.

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    BillingError, Capabilities, GatewayEvent, Money, PaymentGateway, PaymentRequest, PaymentStart,
    PaymentStatus, RefundRef,
};

const REF_PREFIX: &str = "manual_";
const REFUND_REF_PREFIX: &str = "manual_refund_";
/// The longest idempotency key accepted, matching what card gateways accept.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// A gateway that only records payments: the shopper pays the merchant directly, following
/// the merchant's instructions, and the merchant marks the order paid in the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualGateway {
    instructions: String,
}

impl ManualGateway {
    /// A manual gateway showing the shopper these instructions (bank details, "pay the courier").
    pub fn new(instructions: impl Into<String>) -> Self {
        Self {
            instructions: instructions.into(),
        }
    }
}

/// The payment reference for an order; deterministic, so restarting checkout reuses it and
/// the shopper can quote it on a bank transfer.
fn payment_ref_for(order_id: Uuid) -> String {
    format!("{REF_PREFIX}{}", order_id.simple())
}

fn check_payment_ref(payment_ref: &str) -> Result<(), BillingError> {
    payment_ref
        .strip_prefix(REF_PREFIX)
        .and_then(|id| Uuid::try_parse(id).ok())
        .map(|_| ())
        .ok_or_else(|| BillingError::invalid("payment_ref", "not a manual payment reference"))
}

fn check_positive(field: &'static str, amount: Money) -> Result<(), BillingError> {
    if amount.minor > 0 {
        Ok(())
    } else {
        Err(BillingError::invalid(field, "must be more than zero"))
    }
}

#[async_trait]
impl PaymentGateway for ManualGateway {
    fn name(&self) -> &'static str {
        "manual"
    }

    fn capabilities(&self) -> Capabilities {
        // Refunds are bookkeeping, so any amount works; there is nothing to authorize or
        // capture, and nobody outside calls back.
        Capabilities {
            refunds: true,
            partial_refunds: true,
            partial_capture: false,
            webhooks: false,
            manual_capture: false,
        }
    }

    async fn start_payment(&self, req: &PaymentRequest) -> Result<PaymentStart, BillingError> {
        check_positive("amount", req.amount)?;
        Ok(PaymentStart::OnSite {
            payment_ref: payment_ref_for(req.order_id),
            instructions: self.instructions.clone(),
        })
    }

    async fn confirm(&self, payment_ref: &str) -> Result<PaymentStatus, BillingError> {
        check_payment_ref(payment_ref)?;
        // Only the merchant knows whether the money arrived; the order records that, not us.
        Ok(PaymentStatus::Pending)
    }

    async fn parse_webhook(
        &self,
        _headers: &[(String, String)],
        _body: &[u8],
    ) -> Result<Option<GatewayEvent>, BillingError> {
        Err(BillingError::Unsupported("webhooks for manual payments"))
    }

    async fn capture(&self, payment_ref: &str, _amount: Option<Money>) -> Result<(), BillingError> {
        // Nothing was authorized, so there is nothing to capture; succeeding keeps the
        // order flow the same for every gateway.
        check_payment_ref(payment_ref)
    }

    async fn refund(
        &self,
        payment_ref: &str,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<RefundRef, BillingError> {
        check_payment_ref(payment_ref)?;
        check_positive("amount", amount)?;
        let key_ok = !idempotency_key.is_empty()
            && idempotency_key.len() <= MAX_IDEMPOTENCY_KEY_LEN
            && idempotency_key.bytes().all(|b| b.is_ascii_graphic());
        if !key_ok {
            return Err(BillingError::invalid(
                "idempotency_key",
                "must be 1 to 255 printable ASCII characters",
            ));
        }
        // The money goes back outside the platform; the reference only has to be stable so a
        // retried refund is recognised as the same one.
        Ok(RefundRef(format!("{REFUND_REF_PREFIX}{idempotency_key}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Currency, Gateways};

    const INSTRUCTIONS: &str = "Transfer to IBAN DE00 0000 0000 0000, quoting your order.";

    fn registry() -> Gateways {
        let mut gateways = Gateways::new();
        let replaced = gateways.register(Arc::new(ManualGateway::new(INSTRUCTIONS)));
        assert!(replaced.is_none());
        gateways
    }

    fn manual() -> Arc<dyn PaymentGateway> {
        registry().get("manual").expect("manual gateway registered")
    }

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::parse("USD").expect("valid code"))
    }

    fn request(order_id: Uuid, amount: Money) -> PaymentRequest {
        PaymentRequest {
            order_id,
            amount,
            idempotency_key: "start-1".to_owned(),
            return_url: "https://acme.example/orders/abc".to_owned(),
            cancel_url: "https://acme.example/checkout".to_owned(),
            customer_email: None,
            description: "Order #1001".to_owned(),
        }
    }

    #[test]
    fn registry_lists_and_finds_gateways_by_name() {
        let gateways = registry();
        assert_eq!(gateways.names().collect::<Vec<_>>(), ["manual"]);
        assert!(gateways.get("stripe").is_none());
        assert_eq!(format!("{gateways:?}"), r#"{"manual"}"#);
    }

    #[tokio::test]
    async fn start_shows_instructions_with_a_reference_from_the_order() {
        let gateway = manual();
        let order_id = Uuid::now_v7();
        let start = gateway
            .start_payment(&request(order_id, usd(1230)))
            .await
            .expect("starts");
        let expected_ref = format!("manual_{}", order_id.simple());
        assert_eq!(
            start,
            PaymentStart::OnSite {
                payment_ref: expected_ref.clone(),
                instructions: INSTRUCTIONS.to_owned(),
            }
        );
        let again = gateway
            .start_payment(&request(order_id, usd(1230)))
            .await
            .expect("starts again");
        assert_eq!(again.payment_ref(), expected_ref);
    }

    #[tokio::test]
    async fn start_refuses_a_non_positive_amount() {
        let result = manual()
            .start_payment(&request(Uuid::now_v7(), usd(0)))
            .await;
        assert_eq!(
            result,
            Err(BillingError::invalid("amount", "must be more than zero"))
        );
    }

    #[tokio::test]
    async fn payment_stays_pending_until_the_merchant_marks_it() {
        let gateway = manual();
        let start = gateway
            .start_payment(&request(Uuid::now_v7(), usd(500)))
            .await
            .expect("starts");
        let status = gateway
            .confirm(start.payment_ref())
            .await
            .expect("confirms");
        assert_eq!(status, PaymentStatus::Pending);
        gateway
            .capture(start.payment_ref(), None)
            .await
            .expect("capture is a no-op");
        assert!(matches!(
            gateway.confirm("pi_123").await,
            Err(BillingError::Invalid {
                field: "payment_ref",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn webhooks_are_unsupported() {
        let gateway = manual();
        assert!(!gateway.capabilities().webhooks);
        let result = gateway.parse_webhook(&[], b"{}").await;
        assert!(matches!(result, Err(BillingError::Unsupported(_))));
    }

    #[tokio::test]
    async fn refunds_are_recorded_with_a_stable_reference() {
        let gateway = manual();
        assert!(gateway.capabilities().refunds);
        let payment_ref = payment_ref_for(Uuid::now_v7());
        let first = gateway
            .refund(&payment_ref, usd(300), "refund-7")
            .await
            .expect("refunds");
        let retry = gateway
            .refund(&payment_ref, usd(300), "refund-7")
            .await
            .expect("refunds again");
        assert_eq!(first, retry);
        assert_eq!(first, RefundRef("manual_refund_refund-7".to_owned()));
        for (amount, key, field) in [
            (usd(0), "refund-8", "amount"),
            (usd(-5), "refund-8", "amount"),
            (usd(100), "", "idempotency_key"),
            (usd(100), "has space", "idempotency_key"),
        ] {
            let result = gateway.refund(&payment_ref, amount, key).await;
            assert!(
                matches!(result, Err(BillingError::Invalid { field: f, .. }) if f == field),
                "{amount} {key:?} accepted"
            );
        }
    }
}
