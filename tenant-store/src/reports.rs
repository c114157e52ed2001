//! Sales reports over a store's orders.
