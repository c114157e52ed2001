//! A tenant's enabled gateways, built from stored settings, used through the one trait.

use billing::testing::{StripeStandIn, TEST_SECRET_KEY, TEST_WEBHOOK_SECRET};
use billing::{
    BuildContext, Currency, GatewaySettings, Gateways, Money, PaymentRequest, PaymentStart,
    PaymentStatus, SecretsCipher, TEST_CARD_SUCCEEDS,
};
use secrecy::SecretString;
use uuid::Uuid;

const TENANT: &str = "tenant:0192c3a4-acme";

fn request(order_id: Uuid) -> PaymentRequest {
    PaymentRequest {
        order_id,
        amount: Money::new(2500, Currency::parse("USD").expect("valid code")),
        idempotency_key: format!("order-{order_id}-payment-1"),
        return_url: "https://acme.example/orders/tok".to_owned(),
        cancel_url: "https://acme.example/checkout".to_owned(),
        customer_email: None,
        description: "Acme order #1002".to_owned(),
    }
}

#[tokio::test]
async fn stored_settings_build_every_gateway_of_a_tenant() {
    let stand_in = StripeStandIn::start().await;
    let cipher = SecretsCipher::new(&SecretString::from(
        "an-example-secret-key-of-enough-length-0123",
    ))
    .expect("long enough");
    // What the admin would have saved, round-tripped through JSON as the platform stores it.
    let stored: Vec<String> = [
        GatewaySettings::Manual {
            instructions: "Transfer to IBAN DE00 0000, quoting your order.".to_owned(),
        },
        GatewaySettings::stripe(
            &cipher,
            TENANT,
            &SecretString::from(TEST_SECRET_KEY),
            &SecretString::from(TEST_WEBHOOK_SECRET),
        )
        .expect("valid stripe settings"),
        GatewaySettings::Test,
    ]
    .iter()
    .map(|s| serde_json::to_string(s).expect("serializes"))
    .collect();

    let base_url = stand_in.base_url();
    let ctx = BuildContext {
        cipher: &cipher,
        tenant: TENANT,
        production: false,
        stripe_api_base: Some(&base_url),
    };
    let mut gateways = Gateways::new();
    for json in &stored {
        let settings: GatewaySettings = serde_json::from_str(json).expect("deserializes");
        gateways.register(settings.build(ctx).expect("builds"));
    }
    assert_eq!(
        gateways.names().collect::<Vec<_>>(),
        ["manual", "stripe", "test"]
    );

    let manual = gateways.get("manual").expect("enabled");
    let start = manual
        .start_payment(&request(Uuid::now_v7()))
        .await
        .expect("starts");
    assert!(
        matches!(start, PaymentStart::OnSite { ref instructions, .. } if instructions.contains("IBAN"))
    );
    assert_eq!(
        manual.confirm(start.payment_ref()).await,
        Ok(PaymentStatus::Pending)
    );

    let stripe = gateways.get("stripe").expect("enabled");
    let start = stripe
        .start_payment(&request(Uuid::now_v7()))
        .await
        .expect("starts");
    assert!(matches!(start, PaymentStart::Redirect { .. }));
    let sent = stand_in.requests().pop().expect("stripe was called");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {TEST_SECRET_KEY}").as_str())
    );

    let test = gateways.get("test").expect("enabled");
    let start = test
        .start_payment(&request(Uuid::now_v7()))
        .await
        .expect("starts");
    assert_eq!(
        test.submit_card_form(start.payment_ref(), TEST_CARD_SUCCEEDS)
            .await,
        Ok(PaymentStatus::Succeeded)
    );
}
