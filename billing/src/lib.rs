//! Payment gateways behind one trait, and the money they move.
//!
//! Checkout and the admin talk to every gateway through [`PaymentGateway`], found by name in
//! [`Gateways`]; amounts are always exact [`Money`] in minor units.

mod error;
mod gateway;
mod manual;
mod money;
mod registry;

pub use error::BillingError;
pub use gateway::{
    Capabilities, GatewayEvent, GatewayEventKind, PaymentGateway, PaymentRequest, PaymentStart,
    PaymentStatus, RefundRef,
};
pub use manual::ManualGateway;
pub use money::{Currency, Money, MoneyError};
pub use registry::Gateways;
