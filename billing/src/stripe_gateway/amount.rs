//! Amounts as Stripe counts them, which differs from ISO 4217 for a few currencies.

use crate::{BillingError, Currency, Money};

/// How many decimal digits Stripe's integer amounts carry for `currency`.
///
/// Mostly the ISO 4217 exponent, except where Stripe's documentation says otherwise: MGA is
/// zero-decimal at Stripe (two in ISO), and ISK and UGX are sent as two-decimal amounts whose
/// last two digits are zero (zero in ISO), for backwards compatibility.
fn stripe_exponent(currency: Currency) -> u32 {
    match currency.as_str() {
        "MGA" => 0,
        "ISK" | "UGX" => 2,
        _ => currency.minor_units(),
    }
}

/// The integer Stripe expects for `money`, refused when Stripe cannot express it exactly.
pub(crate) fn to_stripe(money: Money) -> Result<i64, BillingError> {
    let ours = money.currency.minor_units();
    let theirs = stripe_exponent(money.currency);
    let out_of_range = || BillingError::invalid("amount", "too large for the payment gateway");
    if theirs >= ours {
        money
            .minor
            .checked_mul(10i64.pow(theirs - ours))
            .ok_or_else(out_of_range)
    } else {
        let scale = 10i64.pow(ours - theirs);
        if money.minor % scale == 0 {
            Ok(money.minor / scale)
        } else {
            Err(BillingError::invalid(
                "amount",
                format!(
                    "{} amounts must be whole units for this gateway",
                    money.currency
                ),
            ))
        }
    }
}

/// The [`Money`] for an amount Stripe reported in `currency` (a lowercase code).
pub(crate) fn from_stripe(amount: i64, currency: &str) -> Result<Money, BillingError> {
    let currency = Currency::parse(&currency.to_ascii_uppercase())
        .map_err(|e| BillingError::Gateway(format!("Stripe sent an unusable currency: {e}")))?;
    let ours = currency.minor_units();
    let theirs = stripe_exponent(currency);
    let minor = if ours >= theirs {
        amount.checked_mul(10i64.pow(ours - theirs))
    } else {
        // Stripe's extra digits are always zero here (ISK, UGX); a remainder would be a
        // fraction of a minor unit, so it is kept visible rather than rounded away.
        let scale = 10i64.pow(theirs - ours);
        (amount % scale == 0).then_some(amount / scale)
    };
    minor
        .map(|minor| Money::new(minor, currency))
        .ok_or_else(|| BillingError::Gateway(format!("Stripe sent an inexact amount {amount}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, Currency::parse(code).expect("valid code"))
    }

    #[test]
    fn most_currencies_pass_through() {
        assert_eq!(to_stripe(money(1230, "USD")), Ok(1230));
        assert_eq!(to_stripe(money(1000, "JPY")), Ok(1000));
        assert_eq!(to_stripe(money(1230, "KWD")), Ok(1230));
        assert_eq!(from_stripe(1230, "usd"), Ok(money(1230, "USD")));
        assert_eq!(from_stripe(1000, "jpy"), Ok(money(1000, "JPY")));
    }

    #[test]
    fn stripe_special_cases() {
        // ISK: zero-decimal, sent with two zero decimals.
        assert_eq!(to_stripe(money(500, "ISK")), Ok(50_000));
        assert_eq!(from_stripe(50_000, "isk"), Ok(money(500, "ISK")));
        assert!(from_stripe(50_050, "isk").is_err());
        // MGA: two decimals in ISO, none at Stripe.
        assert_eq!(to_stripe(money(150_000, "MGA")), Ok(1500));
        assert_eq!(from_stripe(1500, "mga"), Ok(money(150_000, "MGA")));
        assert!(matches!(
            to_stripe(money(150_050, "MGA")),
            Err(BillingError::Invalid {
                field: "amount",
                ..
            })
        ));
    }

    #[test]
    fn overflow_and_bad_currency_are_errors() {
        assert!(to_stripe(money(i64::MAX, "ISK")).is_err());
        assert!(from_stripe(100, "us").is_err());
    }
}
