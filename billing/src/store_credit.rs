//! Paying from the customer's store credit balance. The balance and its ledger live in the
//! store's database: the caller debits it in the transaction that places the order (the
//! balance can't go negative), and this gateway only issues the references.

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    BillingError, Capabilities, GatewayEvent, Money, PaymentGateway, PaymentRequest, PaymentStart,
    PaymentStatus, RefundRef,
};

const REF_PREFIX: &str = "credit_";

/// Store credit: the payment is complete as soon as the balance was debited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCreditGateway;

/// The payment reference for an order; one per order, since one debit pays it.
pub fn store_credit_ref(order_id: Uuid) -> String {
    format!("{REF_PREFIX}{}", order_id.simple())
}

fn check_ref(payment_ref: &str) -> Result<(), BillingError> {
    payment_ref
        .strip_prefix(REF_PREFIX)
        .and_then(|id| Uuid::try_parse(id).ok())
        .map(|_| ())
        .ok_or_else(|| BillingError::invalid("payment_ref", "not a store credit reference"))
}

#[async_trait]
impl PaymentGateway for StoreCreditGateway {
    fn name(&self) -> &'static str {
        "store_credit"
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
        if req.amount.minor < 0 {
            return Err(BillingError::invalid("amount", "can't be negative"));
        }
        Ok(PaymentStart::Completed {
            payment_ref: store_credit_ref(req.order_id),
        })
    }

    async fn confirm(&self, payment_ref: &str) -> Result<PaymentStatus, BillingError> {
        check_ref(payment_ref)?;
        Ok(PaymentStatus::Succeeded)
    }

    async fn parse_webhook(
        &self,
        _headers: &[(String, String)],
        _body: &[u8],
    ) -> Result<Option<GatewayEvent>, BillingError> {
        Err(BillingError::Unsupported("webhooks for store credit"))
    }

    async fn capture(&self, payment_ref: &str, _amount: Option<Money>) -> Result<(), BillingError> {
        check_ref(payment_ref)
    }

    async fn refund(
        &self,
        payment_ref: &str,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<RefundRef, BillingError> {
        check_ref(payment_ref)?;
        if amount.minor <= 0 {
            return Err(BillingError::invalid("amount", "must be more than zero"));
        }
        if idempotency_key.is_empty() {
            return Err(BillingError::invalid("idempotency_key", "is required"));
        }
        // The caller credits the balance back in its transaction.
        Ok(RefundRef(format!("credit_refund_{idempotency_key}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    #[tokio::test]
    async fn a_payment_completes_at_once_and_refunds_need_a_key() {
        let order_id = Uuid::now_v7();
        let eur = Currency::parse("EUR").expect("valid code");
        let start = StoreCreditGateway
            .start_payment(&PaymentRequest {
                order_id,
                amount: Money::new(500, eur),
                idempotency_key: "k".into(),
                return_url: String::new(),
                cancel_url: String::new(),
                customer_email: None,
                description: String::new(),
            })
            .await
            .expect("starts");
        assert_eq!(
            start,
            PaymentStart::Completed {
                payment_ref: store_credit_ref(order_id)
            }
        );
        let r = store_credit_ref(order_id);
        assert!(
            StoreCreditGateway
                .refund(&r, Money::new(1, eur), "")
                .await
                .is_err()
        );
        assert!(
            StoreCreditGateway
                .refund("credit_x", Money::new(1, eur), "k")
                .await
                .is_err()
        );
        assert!(
            StoreCreditGateway
                .refund(&r, Money::new(100, eur), "k")
                .await
                .is_ok()
        );
    }
}
