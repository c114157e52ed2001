//! Releases the stock of unpaid orders whose reservation ran out.
