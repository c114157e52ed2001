//! A tenant's settings for one gateway, as stored: secrets sealed, with masked hints to show.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{
    BillingError, ManualGateway, PaymentGateway, SecretsCipher, StripeConfig, StripeGateway,
    TestCardGateway, mask_secret,
};

/// One gateway a tenant enabled, in the form the platform stores (as JSON, say).
///
/// Secrets are sealed with [`SecretsCipher`] under a context naming the tenant and the
/// gateway, so they are useless outside this server and this tenant; the admin shows only
/// the masked hints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "gateway", rename_all = "snake_case")]
pub enum GatewaySettings {
    /// Bank transfer or cash on delivery, with the merchant's instructions for the shopper.
    Manual {
        /// What the shopper is told to do, shown at checkout and in the order email.
        instructions: String,
    },
    /// Stripe Checkout.
    Stripe {
        /// The secret API key, sealed.
        sealed_secret_key: String,
        /// The webhook signing secret, sealed.
        sealed_webhook_secret: String,
        /// The secret key as the admin may show it (`sk_live_…wxyz`).
        secret_key_hint: String,
        /// The webhook secret as the admin may show it (`whsec_…wxyz`).
        webhook_secret_hint: String,
    },
    /// The fake card form of demos and development.
    Test,
    /// The customer's store credit balance (signed-in customers only).
    StoreCredit,
}

/// What building a gateway from stored settings needs besides the settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// The server's cipher (from `SECRET_KEY`).
    pub cipher: &'a SecretsCipher,
    /// Names the tenant, e.g. `"tenant:<uuid>"`; must be the same as when sealing.
    pub tenant: &'a str,
    /// Whether the server runs in production mode (the test gateway is refused then).
    pub production: bool,
    /// Where Stripe's API lives; `None` for the real one, a stand-in's URL in tests.
    pub stripe_api_base: Option<&'a str>,
}

fn seal_context(tenant: &str, gateway: &str, field: &str) -> String {
    format!("{tenant}/gateway:{gateway}/{field}")
}

impl GatewaySettings {
    /// Stripe settings with both secrets sealed for `tenant`; empty secrets are refused.
    pub fn stripe(
        cipher: &SecretsCipher,
        tenant: &str,
        secret_key: &SecretString,
        webhook_secret: &SecretString,
    ) -> Result<Self, BillingError> {
        let secret_key = secret_key.expose_secret().trim();
        let webhook_secret = webhook_secret.expose_secret().trim();
        if secret_key.is_empty() {
            return Err(BillingError::invalid("secret_key", "is required"));
        }
        if webhook_secret.is_empty() {
            return Err(BillingError::invalid("webhook_secret", "is required"));
        }
        let seal = |field: &str, value: &str| {
            cipher.seal(&seal_context(tenant, "stripe", field), value.as_bytes())
        };
        Ok(Self::Stripe {
            sealed_secret_key: seal("secret_key", secret_key),
            sealed_webhook_secret: seal("webhook_secret", webhook_secret),
            secret_key_hint: mask_secret(secret_key),
            webhook_secret_hint: mask_secret(webhook_secret),
        })
    }

    /// The name of the gateway these settings are for, as [`PaymentGateway::name`] says it.
    pub fn gateway_name(&self) -> &'static str {
        match self {
            Self::Manual { .. } => "manual",
            Self::Stripe { .. } => "stripe",
            Self::Test => "test",
            Self::StoreCredit => "store_credit",
        }
    }

    /// The working gateway, opening sealed secrets as needed.
    pub fn build(&self, ctx: BuildContext<'_>) -> Result<Arc<dyn PaymentGateway>, BillingError> {
        Ok(match self {
            Self::Manual { instructions } => Arc::new(ManualGateway::new(instructions.clone())),
            Self::Stripe {
                sealed_secret_key,
                sealed_webhook_secret,
                ..
            } => {
                let open = |field: &str, sealed: &str| -> Result<SecretString, BillingError> {
                    let bytes = ctx
                        .cipher
                        .open(&seal_context(ctx.tenant, "stripe", field), sealed)?;
                    String::from_utf8(bytes)
                        .map(SecretString::from)
                        .map_err(|_| BillingError::SecretUnreadable)
                };
                Arc::new(StripeGateway::new(StripeConfig {
                    secret_key: open("secret_key", sealed_secret_key)?,
                    webhook_secret: open("webhook_secret", sealed_webhook_secret)?,
                    api_base: ctx.stripe_api_base.map(str::to_owned),
                })?)
            }
            Self::Test => Arc::new(TestCardGateway::new(ctx.production)?),
            Self::StoreCredit => Arc::new(crate::StoreCreditGateway),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> SecretsCipher {
        SecretsCipher::new(&SecretString::from(
            "an-example-secret-key-of-enough-length-0123",
        ))
        .expect("long enough")
    }

    fn ctx<'a>(cipher: &'a SecretsCipher, tenant: &'a str, production: bool) -> BuildContext<'a> {
        BuildContext {
            cipher,
            tenant,
            production,
            stripe_api_base: None,
        }
    }

    #[test]
    fn stripe_settings_store_only_sealed_secrets_and_hints() {
        let cipher = cipher();
        let settings = GatewaySettings::stripe(
            &cipher,
            "tenant:1",
            &SecretString::from("sk_live_51Habcdefghijklmn1234"),
            &SecretString::from(" whsec_abcdefghijklmnop5678\n"),
        )
        .expect("valid");
        let json = serde_json::to_string(&settings).expect("serializes");
        assert!(!json.contains("51Habcdefghijklmn"), "{json}");
        assert!(!json.contains("abcdefghijklmnop"), "{json}");
        assert!(json.contains(r#""gateway":"stripe""#));
        let GatewaySettings::Stripe {
            secret_key_hint,
            webhook_secret_hint,
            ..
        } = &settings
        else {
            panic!("stripe settings");
        };
        assert_eq!(secret_key_hint, "sk_live_…1234");
        assert_eq!(webhook_secret_hint, "whsec_…5678");

        let back: GatewaySettings = serde_json::from_str(&json).expect("deserializes");
        let gateway = back.build(ctx(&cipher, "tenant:1", true)).expect("builds");
        assert_eq!(gateway.name(), back.gateway_name());
        // Copied into another tenant's settings, the secrets do not open.
        assert_eq!(
            back.build(ctx(&cipher, "tenant:2", true)).err(),
            Some(BillingError::SecretUnreadable)
        );
    }

    #[test]
    fn empty_stripe_secrets_are_refused() {
        let cipher = cipher();
        let empty = SecretString::from("  ");
        let key = SecretString::from("sk_test_123456789012345");
        assert!(GatewaySettings::stripe(&cipher, "t", &empty, &key).is_err());
        assert!(GatewaySettings::stripe(&cipher, "t", &key, &empty).is_err());
    }

    #[test]
    fn manual_and_test_settings_build_their_gateways() {
        let cipher = cipher();
        let manual = GatewaySettings::Manual {
            instructions: "Pay the courier.".to_owned(),
        };
        let json = serde_json::to_value(&manual).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({ "gateway": "manual", "instructions": "Pay the courier." })
        );
        let built = manual.build(ctx(&cipher, "t", true)).expect("builds");
        assert_eq!(built.name(), "manual");
        let test = GatewaySettings::Test;
        assert_eq!(
            test.build(ctx(&cipher, "t", false))
                .expect("development")
                .name(),
            "test"
        );
        assert!(test.build(ctx(&cipher, "t", true)).is_err());
    }
}
