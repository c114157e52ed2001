//! Amounts of money in integer minor units, and the currencies they are counted in.

use std::fmt;
use std::iter;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a currency code or an amount was refused, or arithmetic failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not three uppercase ASCII letters.
    #[error("{0:?} is not a currency code (three capital letters, like USD)")]
    InvalidCurrency(String),
    /// Not a plain decimal number such as `12.30` or `-5`.
    #[error("{0:?} is not an amount (digits with an optional decimal point, like 12.30)")]
    InvalidAmount(String),
    /// More digits after the decimal point than the currency has minor units.
    #[error("{currency} amounts have at most {max} digits after the decimal point")]
    TooManyFractionDigits {
        /// The currency of the amount.
        currency: Currency,
        /// Its number of minor-unit digits.
        max: u32,
    },
    /// The amount does not fit in 64 bits of minor units.
    #[error("amount out of range")]
    Overflow,
    /// Arithmetic between different currencies, which has no meaning without a rate.
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch {
        /// The currency of the left operand.
        left: Currency,
        /// The currency of the right operand.
        right: Currency,
    },
}

/// An ISO 4217 alphabetic currency code such as `USD`.
///
/// Only the shape is checked (three capital letters), not membership in the ISO list, so a
/// newly issued currency works without a code change.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a code such as `USD`; lowercase and other lengths are refused.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(MoneyError::InvalidCurrency(code.to_owned())),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency codes are ASCII by construction")
    }

    /// How many decimal digits the minor unit has (the ISO 4217 exponent): 2 for USD.
    pub fn minor_units(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "CLF" | "UYW" => 4,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::parse(code)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(&code)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.as_str().to_owned()
    }
}

/// An amount in integer minor units (cents for USD, yen for JPY, fils for KWD).
///
/// Never a float: every amount the platform stores or sends is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in minor units; negative for credits and refunds where that is meaningful.
    pub minor: i64,
    /// The currency the amount is counted in.
    pub currency: Currency,
}

impl Money {
    /// An amount of `minor` units of `currency`.
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses a decimal string such as `12.30` or `-5` exactly into minor units.
    ///
    /// Refuses signs other than a leading `-`, separators, whitespace, exponents, a point
    /// without digits on both sides, and more fraction digits than the currency has.
    pub fn parse_decimal(input: &str, currency: Currency) -> Result<Self, MoneyError> {
        let invalid = || MoneyError::InvalidAmount(input.to_owned());
        let (negative, unsigned) = match input.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
            Some(_) => return Err(invalid()),
            None => (unsigned, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(invalid());
        }
        let max = currency.minor_units();
        let padding = (max as usize)
            .checked_sub(fraction.len())
            .ok_or(MoneyError::TooManyFractionDigits { currency, max })?;
        let digits = whole
            .bytes()
            .chain(fraction.bytes())
            .chain(iter::repeat_n(b'0', padding));
        let mut minor: i64 = 0;
        for digit in digits {
            let digit = i64::from(digit - b'0');
            // Negative amounts accumulate downwards so i64::MIN itself is reachable.
            minor = minor
                .checked_mul(10)
                .and_then(|m| {
                    if negative {
                        m.checked_sub(digit)
                    } else {
                        m.checked_add(digit)
                    }
                })
                .ok_or(MoneyError::Overflow)?;
        }
        Ok(Self { minor, currency })
    }

    /// The amount as a decimal string with exactly the currency's fraction digits: `12.30`.
    pub fn to_decimal_string(&self) -> String {
        let exponent = self.currency.minor_units();
        if exponent == 0 {
            return self.minor.to_string();
        }
        let scale = 10u64.pow(exponent);
        let magnitude = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        format!(
            "{sign}{}.{:0width$}",
            magnitude / scale,
            magnitude % scale,
            width = exponent as usize
        )
    }

    /// The sum, refused for different currencies or on overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// The difference, refused for different currencies or on overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).expect("valid code")
    }

    fn parse(input: &str, code: &str) -> Result<Money, MoneyError> {
        Money::parse_decimal(input, currency(code))
    }

    #[test]
    fn currency_codes_are_three_capital_letters() {
        assert_eq!(currency("USD").as_str(), "USD");
        for bad in ["usd", "US", "USDX", "", "U5D", "ÜSD"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(currency("USD").minor_units(), 2);
        assert_eq!(currency("EUR").minor_units(), 2);
        assert_eq!(currency("JPY").minor_units(), 0);
        assert_eq!(currency("KRW").minor_units(), 0);
        assert_eq!(currency("KWD").minor_units(), 3);
        assert_eq!(currency("BHD").minor_units(), 3);
    }

    #[test]
    fn usd_round_trips_exactly() {
        let money = parse("12.30", "USD").expect("parses");
        assert_eq!(money.minor, 1230);
        assert_eq!(money.to_decimal_string(), "12.30");
        assert_eq!(money.to_string(), "12.30 USD");
    }

    #[test]
    fn fewer_fraction_digits_are_padded() {
        assert_eq!(parse("12.3", "USD").expect("parses").minor, 1230);
        assert_eq!(parse("12", "USD").expect("parses").minor, 1200);
        assert_eq!(parse("0.05", "USD").expect("parses").minor, 5);
    }

    #[test]
    fn zero_and_three_digit_currencies() {
        let yen = parse("1000", "JPY").expect("parses");
        assert_eq!(yen.minor, 1000);
        assert_eq!(yen.to_decimal_string(), "1000");
        let dinar = parse("1.234", "KWD").expect("parses");
        assert_eq!(dinar.minor, 1234);
        assert_eq!(dinar.to_decimal_string(), "1.234");
    }

    #[test]
    fn too_many_fraction_digits_are_refused() {
        assert_eq!(
            parse("1.2345", "USD"),
            Err(MoneyError::TooManyFractionDigits {
                currency: currency("USD"),
                max: 2
            })
        );
        assert!(parse("1000.0", "JPY").is_err());
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "abc", "", "-", ".", "12.", ".5", "+1", " 1", "1 ", "1,000", "1e3", "1.2.3", "--1",
            "١٢",
        ] {
            assert!(
                matches!(parse(bad, "USD"), Err(MoneyError::InvalidAmount(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn negatives_round_trip() {
        let refund = parse("-0.05", "USD").expect("parses");
        assert_eq!(refund.minor, -5);
        assert_eq!(refund.to_decimal_string(), "-0.05");
        assert_eq!(parse("-0", "USD").expect("parses").minor, 0);
    }

    #[test]
    fn extremes_and_overflow() {
        let usd = currency("USD");
        assert_eq!(
            Money::new(i64::MIN, usd).to_decimal_string(),
            "-92233720368547758.08"
        );
        assert_eq!(
            parse("-92233720368547758.08", "USD").expect("parses").minor,
            i64::MIN
        );
        assert_eq!(
            parse("92233720368547758.07", "USD").expect("parses").minor,
            i64::MAX
        );
        assert_eq!(
            parse("92233720368547758.08", "USD"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            parse("99999999999999999999", "JPY"),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let usd = |minor| Money::new(minor, currency("USD"));
        assert_eq!(usd(1230).checked_add(usd(70)), Ok(usd(1300)));
        assert_eq!(usd(1230).checked_sub(usd(1300)), Ok(usd(-70)));
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MIN).checked_sub(usd(1)), Err(MoneyError::Overflow));
        let eur = Money::new(100, currency("EUR"));
        assert_eq!(
            usd(100).checked_add(eur),
            Err(MoneyError::CurrencyMismatch {
                left: currency("USD"),
                right: currency("EUR")
            })
        );
        assert!(usd(100).checked_sub(eur).is_err());
    }

    #[test]
    fn serializes_as_minor_and_code() {
        let money = parse("12.30", "USD").expect("parses");
        let json = serde_json::to_value(money).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({ "minor": 1230, "currency": "USD" })
        );
        let back: Money = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, money);
        let bad = serde_json::json!({ "minor": 1, "currency": "usd" });
        assert!(serde_json::from_value::<Money>(bad).is_err());
    }
}
