//! The Stripe gateway against the local stand-in: what Stripe receives, what comes back,
//! and which webhooks are believed.

use billing::testing::{
    StripeStandIn, TEST_SECRET_KEY, TEST_WEBHOOK_SECRET, event_payload, sign_webhook, unix_now,
};
use billing::{
    BillingError, Currency, GatewayEvent, GatewayEventKind, Money, PaymentGateway, PaymentRequest,
    PaymentStart, PaymentStatus, StripeConfig, StripeGateway,
};
use serde_json::{Value, json};
use uuid::Uuid;

fn money(minor: i64, code: &str) -> Money {
    Money::new(minor, Currency::parse(code).expect("valid code"))
}

fn gateway(stand_in: &StripeStandIn) -> StripeGateway {
    StripeGateway::new(StripeConfig {
        secret_key: TEST_SECRET_KEY.into(),
        webhook_secret: TEST_WEBHOOK_SECRET.into(),
        api_base: Some(stand_in.base_url()),
    })
    .expect("valid config")
}

fn request(order_id: Uuid, amount: Money) -> PaymentRequest {
    PaymentRequest {
        order_id,
        amount,
        idempotency_key: format!("order-{order_id}-start"),
        return_url: "https://acme.example/orders/tok123".to_owned(),
        cancel_url: "https://acme.example/checkout".to_owned(),
        customer_email: Some("shopper@example.com".to_owned()),
        description: "Acme order #1001".to_owned(),
    }
}

/// Starts a payment and returns its Checkout Session id.
async fn start(gateway: &StripeGateway, order_id: Uuid, amount: Money) -> String {
    match gateway
        .start_payment(&request(order_id, amount))
        .await
        .expect("session created")
    {
        PaymentStart::Redirect { url, payment_ref } => {
            assert_eq!(
                url,
                format!("https://checkout.stripe.com/c/pay/{payment_ref}")
            );
            payment_ref
        }
        other => panic!("expected a redirect, got {other:?}"),
    }
}

async fn deliver(
    gateway: &StripeGateway,
    payload: &str,
    signature: &str,
) -> Result<Option<GatewayEvent>, BillingError> {
    let headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Stripe-Signature".to_owned(), signature.to_owned()),
    ];
    gateway.parse_webhook(&headers, payload.as_bytes()).await
}

fn completed_event(session: &Value) -> String {
    event_payload("evt_test_completed1", "checkout.session.completed", session)
}

#[tokio::test]
async fn session_is_created_with_the_right_amount_urls_metadata_and_key() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let order_id = Uuid::now_v7();

    let payment_ref = start(&gateway, order_id, money(1999, "EUR")).await;

    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    assert_eq!(
        sent.header("idempotency-key"),
        Some(format!("order-{order_id}-start").as_str())
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {TEST_SECRET_KEY}").as_str())
    );
    let order = order_id.to_string();
    for (param, expected) in [
        ("mode", "payment"),
        ("line_items[0][price_data][unit_amount]", "1999"),
        ("line_items[0][price_data][currency]", "eur"),
        (
            "line_items[0][price_data][product_data][name]",
            "Acme order #1001",
        ),
        ("line_items[0][quantity]", "1"),
        ("success_url", "https://acme.example/orders/tok123"),
        ("cancel_url", "https://acme.example/checkout"),
        ("customer_email", "shopper@example.com"),
        ("client_reference_id", order.as_str()),
        ("metadata[order_id]", order.as_str()),
        ("payment_intent_data[metadata][order_id]", order.as_str()),
    ] {
        assert_eq!(sent.param(param), Some(expected), "{param}");
    }
    let session = stand_in.session(&payment_ref).expect("session stored");
    assert_eq!(session["amount_total"], json!(1999));
}

#[tokio::test]
async fn zero_decimal_currencies_are_sent_as_they_are() {
    let stand_in = StripeStandIn::start().await;
    start(&gateway(&stand_in), Uuid::now_v7(), money(1500, "JPY")).await;
    let sent = &stand_in.requests()[0];
    assert_eq!(
        sent.param("line_items[0][price_data][unit_amount]"),
        Some("1500")
    );
    assert_eq!(
        sent.param("line_items[0][price_data][currency]"),
        Some("jpy")
    );
}

#[tokio::test]
async fn a_retried_start_reuses_the_session() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let order_id = Uuid::now_v7();
    let first = start(&gateway, order_id, money(1999, "EUR")).await;
    let again = start(&gateway, order_id, money(1999, "EUR")).await;
    assert_eq!(first, again);
    assert_eq!(stand_in.requests().len(), 2);
}

#[tokio::test]
async fn bad_requests_are_refused_before_calling_stripe() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let mut req = request(Uuid::now_v7(), money(0, "EUR"));
    assert!(matches!(
        gateway.start_payment(&req).await,
        Err(BillingError::Invalid {
            field: "amount",
            ..
        })
    ));
    req.amount = money(100, "EUR");
    req.idempotency_key = String::new();
    assert!(matches!(
        gateway.start_payment(&req).await,
        Err(BillingError::Invalid {
            field: "idempotency_key",
            ..
        })
    ));
    assert!(matches!(
        gateway.confirm("cs_test/../../v1/refunds").await,
        Err(BillingError::Invalid {
            field: "payment_ref",
            ..
        })
    ));
    assert!(stand_in.requests().is_empty());
}

#[tokio::test]
async fn stripe_errors_become_gateway_errors() {
    let stand_in = StripeStandIn::start().await;
    let gateway = StripeGateway::new(StripeConfig {
        secret_key: "sk_live_wrong".into(),
        webhook_secret: TEST_WEBHOOK_SECRET.into(),
        api_base: Some(stand_in.base_url()),
    })
    .expect("valid config");
    let result = gateway
        .start_payment(&request(Uuid::now_v7(), money(100, "USD")))
        .await;
    assert!(
        matches!(&result, Err(BillingError::Gateway(m)) if m.contains("Invalid API Key")),
        "{result:?}"
    );
    assert!(matches!(
        gateway.confirm("cs_test_doesnotexist").await,
        Err(BillingError::Gateway(_))
    ));
}

#[tokio::test]
async fn confirm_follows_the_session() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let payment_ref = start(&gateway, Uuid::now_v7(), money(1999, "EUR")).await;
    assert_eq!(
        gateway.confirm(&payment_ref).await,
        Ok(PaymentStatus::Pending)
    );
    stand_in.pay_session(&payment_ref);
    assert_eq!(
        gateway.confirm(&payment_ref).await,
        Ok(PaymentStatus::Succeeded)
    );
    let get = stand_in.requests().pop().expect("a request");
    assert_eq!(
        (get.method.as_str(), get.path),
        ("GET", format!("/v1/checkout/sessions/{payment_ref}"))
    );
}

#[tokio::test]
async fn a_signed_completed_webhook_is_a_paid_event_with_the_amount() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let order_id = Uuid::now_v7();
    let payment_ref = start(&gateway, order_id, money(1999, "EUR")).await;
    let session = stand_in.pay_session(&payment_ref);
    let payload = completed_event(&session);
    let signature = sign_webhook(&payload, TEST_WEBHOOK_SECRET, unix_now());

    let event = deliver(&gateway, &payload, &signature).await;

    let paid = event.clone().expect("verified").expect("an event");
    assert!(paid.amount_matches(money(1999, "EUR")));
    assert!(
        !paid.amount_matches(money(1999, "USD")),
        "currency mismatch"
    );
    assert!(!paid.amount_matches(money(2000, "EUR")), "amount mismatch");
    assert_eq!(
        event,
        Ok(Some(GatewayEvent {
            event_id: "evt_test_completed1".to_owned(),
            payment_ref,
            order_id: Some(order_id),
            kind: GatewayEventKind::Succeeded,
            amount: Some(money(1999, "EUR")),
        }))
    );
}

#[tokio::test]
async fn forged_tampered_stale_or_unsigned_webhooks_are_refused() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let payment_ref = start(&gateway, Uuid::now_v7(), money(1999, "EUR")).await;
    let payload = completed_event(&stand_in.pay_session(&payment_ref));
    let now = unix_now();

    let forged = sign_webhook(&payload, "whsec_attacker_guess", now);
    let stale = sign_webhook(&payload, TEST_WEBHOOK_SECRET, now - 301);
    let future = sign_webhook(&payload, TEST_WEBHOOK_SECRET, now + 600);
    let genuine = sign_webhook(&payload, TEST_WEBHOOK_SECRET, now);
    let tampered = payload.replace("1999", "1");
    assert_ne!(tampered, payload);
    let only_t = format!("t={now}");
    for (what, body, signature) in [
        ("forged", payload.as_str(), forged.as_str()),
        ("stale", &payload, &stale),
        ("future", &payload, &future),
        ("tampered body", &tampered, &genuine),
        ("no v1", &payload, &only_t),
        ("garbage", &payload, "nonsense"),
        ("empty", &payload, ""),
    ] {
        assert_eq!(
            deliver(&gateway, body, signature).await,
            Err(BillingError::InvalidSignature),
            "{what}"
        );
    }
    let no_header = gateway.parse_webhook(&[], payload.as_bytes()).await;
    assert_eq!(no_header, Err(BillingError::InvalidSignature));
}

#[tokio::test]
async fn any_matching_v1_signature_is_enough_during_secret_rotation() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let payment_ref = start(&gateway, Uuid::now_v7(), money(1999, "EUR")).await;
    let payload = completed_event(&stand_in.pay_session(&payment_ref));
    let now = unix_now();
    let old = sign_webhook(&payload, "whsec_previous_secret", now);
    let new = sign_webhook(&payload, TEST_WEBHOOK_SECRET, now);
    let new_v1 = new.split_once(",v1=").expect("v1 part").1;
    let both = format!("{old},v1={new_v1},v0=ignored");
    let event = deliver(&gateway, &payload, &both).await.expect("accepted");
    assert_eq!(event.map(|e| e.kind), Some(GatewayEventKind::Succeeded));
}

#[tokio::test]
async fn other_session_events_map_to_outcomes_or_nothing() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let payment_ref = start(&gateway, Uuid::now_v7(), money(1999, "EUR")).await;
    let open = stand_in.session(&payment_ref).expect("session");
    let sign = |payload: &str| sign_webhook(payload, TEST_WEBHOOK_SECRET, unix_now());

    let mut unpaid = open.clone();
    unpaid["status"] = json!("complete");
    let kind = |event: Result<Option<GatewayEvent>, BillingError>| {
        event.expect("verified").map(|e| e.kind)
    };
    for (event_type, session, expected) in [
        // A delayed payment method: completed, not paid yet.
        ("checkout.session.completed", &unpaid, None),
        (
            "checkout.session.async_payment_succeeded",
            &unpaid,
            Some(GatewayEventKind::Succeeded),
        ),
        (
            "checkout.session.async_payment_failed",
            &unpaid,
            Some(GatewayEventKind::Failed),
        ),
        (
            "checkout.session.expired",
            &open,
            Some(GatewayEventKind::Canceled),
        ),
    ] {
        let payload = event_payload("evt_test_other", event_type, session);
        assert_eq!(
            kind(deliver(&gateway, &payload, &sign(&payload)).await),
            expected,
            "{event_type}"
        );
    }

    // A session the platform did not create (no order id) concerns no order.
    let mut foreign = stand_in.pay_session(&payment_ref);
    foreign["metadata"] = json!({});
    let payload = completed_event(&foreign);
    assert_eq!(deliver(&gateway, &payload, &sign(&payload)).await, Ok(None));

    // Event types the gateway does not act on, readable by the SDK or not.
    let customer = json!({ "id": "cus_test_1", "object": "customer" });
    for event_type in ["customer.created", "some.future.event"] {
        let payload = event_payload("evt_test_other", event_type, &customer);
        assert_eq!(
            deliver(&gateway, &payload, &sign(&payload)).await,
            Ok(None),
            "{event_type}"
        );
    }

    // An event it must act on but cannot read is an error (Stripe retries; logs show it),
    // never a silent success.
    let payload = event_payload("evt_test_broken", "checkout.session.completed", &customer);
    assert!(matches!(
        deliver(&gateway, &payload, &sign(&payload)).await,
        Err(BillingError::Gateway(_))
    ));
}

#[tokio::test]
async fn full_and_partial_refunds_reach_stripe_with_idempotency_keys() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let order_id = Uuid::now_v7();
    let payment_ref = start(&gateway, order_id, money(1999, "EUR")).await;

    // Nothing to refund before the shopper paid.
    assert!(matches!(
        gateway
            .refund(&payment_ref, money(500, "EUR"), "refund-0")
            .await,
        Err(BillingError::Invalid {
            field: "payment_ref",
            ..
        })
    ));
    let session = stand_in.pay_session(&payment_ref);
    let payment_intent = session["payment_intent"].as_str().expect("paid").to_owned();

    let partial = gateway
        .refund(&payment_ref, money(500, "EUR"), "refund-1")
        .await
        .expect("partial refund");
    let retried = gateway
        .refund(&payment_ref, money(500, "EUR"), "refund-1")
        .await
        .expect("retried refund");
    assert_eq!(partial, retried, "same key, same refund");
    let rest = gateway
        .refund(&payment_ref, money(1499, "EUR"), "refund-2")
        .await
        .expect("refund of the rest");
    assert_ne!(rest, partial);

    let refunds: Vec<_> = stand_in
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/refunds")
        .collect();
    assert_eq!(refunds.len(), 3);
    for (sent, (key, amount)) in refunds.iter().zip([
        ("refund-1", "500"),
        ("refund-1", "500"),
        ("refund-2", "1499"),
    ]) {
        assert_eq!(sent.method, "POST");
        assert_eq!(sent.header("idempotency-key"), Some(key));
        assert_eq!(sent.param("payment_intent"), Some(payment_intent.as_str()));
        assert_eq!(sent.param("amount"), Some(amount));
        assert_eq!(
            sent.param("metadata[order_id]"),
            Some(order_id.to_string().as_str())
        );
    }

    // Fully refunded now: Stripe refuses more, and says why.
    let over = gateway
        .refund(&payment_ref, money(1, "EUR"), "refund-3")
        .await;
    assert!(
        matches!(&over, Err(BillingError::Gateway(m)) if m.contains("greater than unrefunded")),
        "{over:?}"
    );
    // A refund in another currency than the payment never reaches Stripe.
    let before = stand_in.requests().len();
    assert!(matches!(
        gateway
            .refund(&payment_ref, money(1, "USD"), "refund-4")
            .await,
        Err(BillingError::Invalid {
            field: "amount",
            ..
        })
    ));
    assert_eq!(
        stand_in.requests()[before..]
            .iter()
            .filter(|r| r.path == "/v1/refunds")
            .count(),
        0
    );
}

#[tokio::test]
async fn a_full_refund_of_a_single_payment() {
    let stand_in = StripeStandIn::start().await;
    let gateway = gateway(&stand_in);
    let payment_ref = start(&gateway, Uuid::now_v7(), money(4200, "USD")).await;
    stand_in.pay_session(&payment_ref);
    let refund = gateway
        .refund(&payment_ref, money(4200, "USD"), "refund-all")
        .await
        .expect("full refund");
    assert!(refund.0.starts_with("re_"));
    let sent = stand_in.requests().pop().expect("refund request");
    assert_eq!(sent.param("amount"), Some("4200"));
    assert_eq!(sent.header("idempotency-key"), Some("refund-all"));
}
