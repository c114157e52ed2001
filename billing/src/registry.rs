//! The gateways this deployment offers, looked up by the name a tenant's settings store.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::PaymentGateway;

/// The gateways on offer, by name.
#[derive(Clone, Default)]
pub struct Gateways {
    // Sorted, so the admin lists gateways in a stable order.
    by_name: BTreeMap<&'static str, Arc<dyn PaymentGateway>>,
}

impl Gateways {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a gateway under its own name, returning any gateway it replaced.
    pub fn register(
        &mut self,
        gateway: Arc<dyn PaymentGateway>,
    ) -> Option<Arc<dyn PaymentGateway>> {
        self.by_name.insert(gateway.name(), gateway)
    }

    /// The gateway with this name, if this deployment offers it.
    pub fn get(&self, name: &str) -> Option<Arc<dyn PaymentGateway>> {
        self.by_name.get(name).cloned()
    }

    /// The names of all gateways, in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }
}

impl fmt::Debug for Gateways {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}
