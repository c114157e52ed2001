//! The error type of billing operations.

/// What can go wrong talking to a payment gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    /// A value failed validation; `field` names the input it came from.
    #[error("{field}: {message}")]
    Invalid {
        /// The input field at fault.
        field: &'static str,
        /// A sentence for the person who typed it.
        message: String,
    },
    /// The gateway refused the payment; the message is safe to show the shopper.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The gateway cannot do this at all (see its capabilities).
    #[error("not supported by this gateway: {0}")]
    Unsupported(&'static str),
    /// A webhook's signature did not verify, so its body must not be trusted.
    #[error("invalid webhook signature")]
    InvalidSignature,
    /// A stored gateway secret did not decrypt: altered, or sealed under another
    /// `SECRET_KEY`. The merchant must enter it again.
    #[error("a stored gateway secret cannot be decrypted (was SECRET_KEY changed?)")]
    SecretUnreadable,
    /// The gateway failed or answered something unexpected; worth retrying later.
    #[error("payment gateway error: {0}")]
    Gateway(String),
}

impl BillingError {
    /// A validation error on `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}
