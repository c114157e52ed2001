//! Incoming gateway webhooks.
