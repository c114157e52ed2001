//! A built-in card form for demos and development: no money moves, ever.
//!
//! Refused in production mode, so a live store can never "sell" with a fake card.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    BillingError, Capabilities, GatewayEvent, Money, PaymentGateway, PaymentRequest, PaymentStart,
    PaymentStatus, RefundRef,
};

/// The card number that always succeeds.
pub const TEST_CARD_SUCCEEDS: &str = "4242424242424242";
/// The card number that is always declined.
pub const TEST_CARD_DECLINED: &str = "4000000000000002";

const REF_PREFIX: &str = "test_";
/// What the card form says about the test cards.
pub const TEST_CARD_NOTICE: &str = "Test mode: no money moves. Card 4242 4242 4242 4242 succeeds, \
                      4000 0000 0000 0002 is declined.";

/// A gateway whose on-site step is the platform's own card form, accepting only the
/// well-known test card numbers.
///
/// Payment states live in memory: enough for a demo or a test run, lost on restart.
#[derive(Debug, Default)]
pub struct TestCardGateway {
    payments: Mutex<HashMap<String, PaymentStatus>>,
}

impl TestCardGateway {
    /// The test gateway, refused when the server runs in production mode.
    pub fn new(production: bool) -> Result<Self, BillingError> {
        if production {
            return Err(BillingError::invalid(
                "gateway",
                "the test gateway is not available in production mode",
            ));
        }
        Ok(Self::default())
    }

    /// Where a payment stands. A reference this process never saw (the server restarted, or
    /// another node started the payment) counts as pending: no money moves in test mode, and
    /// the order in the database is what says whether it was paid.
    fn status(&self, payment_ref: &str) -> Result<PaymentStatus, BillingError> {
        if !payment_ref.starts_with(REF_PREFIX) || payment_ref.len() > 64 {
            return Err(BillingError::invalid("payment_ref", "no such test payment"));
        }
        Ok(self
            .payments
            .lock()
            .expect("no panics while holding the lock")
            .get(payment_ref)
            .cloned()
            .unwrap_or(PaymentStatus::Pending))
    }

    fn set_status(&self, payment_ref: &str, status: PaymentStatus) {
        self.payments
            .lock()
            .expect("no panics while holding the lock")
            .insert(payment_ref.to_owned(), status);
    }
}

/// The digits of a typed card number, with the spaces and dashes people type removed.
fn normalize_card_number(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

#[async_trait]
impl PaymentGateway for TestCardGateway {
    fn name(&self) -> &'static str {
        "test"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            refunds: true,
            partial_refunds: true,
            partial_capture: false,
            webhooks: false,
            manual_capture: false,
        }
    }

    async fn start_payment(&self, req: &PaymentRequest) -> Result<PaymentStart, BillingError> {
        if req.amount.minor <= 0 {
            return Err(BillingError::invalid("amount", "must be more than zero"));
        }
        // A fresh reference per attempt: a declined card can be retried with another number.
        let payment_ref = format!("{REF_PREFIX}{}", Uuid::now_v7().simple());
        self.set_status(&payment_ref, PaymentStatus::Pending);
        Ok(PaymentStart::CardForm {
            payment_ref,
            notice: TEST_CARD_NOTICE.to_owned(),
        })
    }

    async fn submit_card_form(
        &self,
        payment_ref: &str,
        card_number: &str,
    ) -> Result<PaymentStatus, BillingError> {
        match self.status(payment_ref)? {
            PaymentStatus::Pending => {}
            // Submitting twice (a double click) must not change a decided payment.
            decided => return Ok(decided),
        }
        let status = match normalize_card_number(card_number).as_str() {
            TEST_CARD_SUCCEEDS => PaymentStatus::Succeeded,
            TEST_CARD_DECLINED => PaymentStatus::Failed {
                reason: "Your card was declined.".to_owned(),
            },
            _ => PaymentStatus::Failed {
                reason: "That is not a test card: use 4242 4242 4242 4242 (succeeds) or \
                         4000 0000 0000 0002 (declined)."
                    .to_owned(),
            },
        };
        self.set_status(payment_ref, status.clone());
        Ok(status)
    }

    async fn confirm(&self, payment_ref: &str) -> Result<PaymentStatus, BillingError> {
        self.status(payment_ref)
    }

    async fn parse_webhook(
        &self,
        _headers: &[(String, String)],
        _body: &[u8],
    ) -> Result<Option<GatewayEvent>, BillingError> {
        Err(BillingError::Unsupported("webhooks for test payments"))
    }

    async fn capture(&self, payment_ref: &str, _amount: Option<Money>) -> Result<(), BillingError> {
        // Captured on success already; only the reference is checked.
        self.status(payment_ref).map(|_| ())
    }

    async fn refund(
        &self,
        payment_ref: &str,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<RefundRef, BillingError> {
        if amount.minor <= 0 {
            return Err(BillingError::invalid("amount", "must be more than zero"));
        }
        if idempotency_key.is_empty() {
            return Err(BillingError::invalid("idempotency_key", "is required"));
        }
        match self.status(payment_ref)? {
            // Pending: a payment this process did not see; the caller's order says it was paid.
            PaymentStatus::Succeeded | PaymentStatus::Pending => {
                Ok(RefundRef(format!("test_refund_{idempotency_key}")))
            }
            _ => Err(BillingError::invalid(
                "payment_ref",
                "only a successful payment can be refunded",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn request() -> PaymentRequest {
        PaymentRequest {
            order_id: Uuid::now_v7(),
            amount: Money::new(1999, Currency::parse("EUR").expect("valid code")),
            idempotency_key: "start-1".to_owned(),
            return_url: "https://demo.example/orders/t".to_owned(),
            cancel_url: "https://demo.example/checkout".to_owned(),
            customer_email: None,
            description: "Order #1".to_owned(),
        }
    }

    async fn started(gateway: &TestCardGateway) -> String {
        match gateway.start_payment(&request()).await.expect("starts") {
            PaymentStart::CardForm {
                payment_ref,
                notice,
            } => {
                assert!(notice.contains("4242 4242 4242 4242"));
                payment_ref
            }
            other => panic!("expected a card form, got {other:?}"),
        }
    }

    #[test]
    fn refused_in_production() {
        assert!(matches!(
            TestCardGateway::new(true),
            Err(BillingError::Invalid {
                field: "gateway",
                ..
            })
        ));
        assert!(TestCardGateway::new(false).is_ok());
    }

    #[tokio::test]
    async fn the_success_card_pays() {
        let gateway = TestCardGateway::new(false).expect("dev mode");
        let payment_ref = started(&gateway).await;
        assert_eq!(
            gateway.confirm(&payment_ref).await,
            Ok(PaymentStatus::Pending)
        );
        let status = gateway
            .submit_card_form(&payment_ref, " 4242 4242 4242 4242 ")
            .await;
        assert_eq!(status, Ok(PaymentStatus::Succeeded));
        assert_eq!(
            gateway.confirm(&payment_ref).await,
            Ok(PaymentStatus::Succeeded)
        );
        // A second submission with the decline card cannot undo the payment.
        assert_eq!(
            gateway
                .submit_card_form(&payment_ref, TEST_CARD_DECLINED)
                .await,
            Ok(PaymentStatus::Succeeded)
        );
        let refund = gateway
            .refund(&payment_ref, request().amount, "refund-1")
            .await
            .expect("refunds");
        assert_eq!(refund, RefundRef("test_refund_refund-1".to_owned()));
    }

    #[tokio::test]
    async fn the_decline_card_is_declined_with_a_clear_message() {
        let gateway = TestCardGateway::new(false).expect("dev mode");
        let payment_ref = started(&gateway).await;
        let status = gateway
            .submit_card_form(&payment_ref, "4000-0000-0000-0002")
            .await;
        assert_eq!(
            status,
            Ok(PaymentStatus::Failed {
                reason: "Your card was declined.".to_owned()
            })
        );
        assert!(
            gateway
                .refund(&payment_ref, request().amount, "refund-1")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn other_numbers_are_not_test_cards() {
        let gateway = TestCardGateway::new(false).expect("dev mode");
        for number in ["4111 1111 1111 1111", "", "abcd", "4242 4242 4242 424"] {
            let payment_ref = started(&gateway).await;
            let status = gateway.submit_card_form(&payment_ref, number).await;
            assert!(
                matches!(&status, Ok(PaymentStatus::Failed { reason }) if reason.contains("not a test card")),
                "{number:?}: {status:?}"
            );
        }
        assert!(
            gateway
                .submit_card_form("cs_not_a_test_payment", TEST_CARD_SUCCEEDS)
                .await
                .is_err()
        );
        // A test payment another node started is still payable here.
        assert_eq!(
            gateway
                .submit_card_form("test_0192abcdef", TEST_CARD_SUCCEEDS)
                .await
                .expect("a test reference"),
            PaymentStatus::Succeeded
        );
    }

    #[tokio::test]
    async fn other_gateways_have_no_card_form() {
        let manual = crate::ManualGateway::new("Pay on delivery.");
        assert_eq!(
            manual
                .submit_card_form("manual_x", TEST_CARD_SUCCEEDS)
                .await,
            Err(BillingError::Unsupported("card forms"))
        );
    }
}
