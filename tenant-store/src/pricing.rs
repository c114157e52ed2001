//! Checkout arithmetic: lines, discount, shipping and taxes to totals, in integer minor
//! units. Pure (no database), so the checkout page, order placement and tests agree.
//!
//! # Rounding rule
//! Every division rounds **half up** (half away from zero; all amounts here are
//! non-negative) and happens **per line**: a percentage discount is rounded once on the
//! subtotal, then allocated to the lines by the largest-remainder method (so the line
//! shares add up to the discount exactly); each line's tax is rounded per line and per
//! rate, and the order's tax is the sum of the line taxes.
//!
//! # Order of operations
//! 1. line subtotal = unit price × quantity; subtotal = Σ line subtotals.
//! 2. discount: percentage = round(subtotal × bp / 10 000); fixed = min(amount, subtotal);
//!    free shipping = 0 off the goods (the shipping becomes 0). A discount whose minimum
//!    subtotal is not reached is refused ([`PricingError::BelowMinimum`]).
//! 3. the discount is allocated to the lines in proportion to their subtotals; taxes are
//!    computed on each line's discounted amount.
//! 4. shipping: the chosen rule's price; "free over" compares the discounted subtotal.
//!    Shipping is not taxed.
//! 5. taxes: exclusive prices: tax = round(amount × rate / 10 000) per rate, added to the
//!    total. Tax-inclusive prices: the line's whole tax is round(amount × R / (10 000 + R))
//!    with R the sum of the rates, split over the rates by largest remainder; it is already
//!    in the price, so the total does not depend on the rates.
//!
//! total = subtotal − discount + shipping + (tax when prices exclude it).

use serde::{Deserialize, Serialize};

/// 100 % in basis points.
pub const FULL_BP: u32 = 10_000;

/// What pricing refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// An amount does not fit in 64 bits of minor units.
    #[error("amount out of range")]
    Overflow,
    /// A line has a negative price or a quantity below 1 (index of the line).
    #[error("line {0}: the price must not be negative and the quantity at least 1")]
    InvalidLine(usize),
    /// A discount value outside its range (percentage over 100 %, negative amount).
    #[error("the discount's value is out of range")]
    InvalidDiscount,
    /// The discount needs a larger subtotal.
    #[error("the discount needs a subtotal of at least {min_subtotal_minor}")]
    BelowMinimum {
        /// The minimum subtotal, minor units.
        min_subtotal_minor: i64,
    },
    /// No weight bracket of the shipping rate covers the order's weight.
    #[error("the shipping rate does not cover a weight of {weight_grams} g")]
    ShippingUnavailable {
        /// The order's weight in grams.
        weight_grams: i64,
    },
}

/// A line to price: the catalog's unit price, never the client's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInput {
    /// Unit price, minor units (≥ 0).
    pub unit_price_minor: i64,
    /// Units (≥ 1).
    pub quantity: i32,
    /// Weight of one unit in grams.
    pub weight_grams: i32,
}

/// What a discount takes off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiscountValue {
    /// A share of the subtotal in basis points (1 % = 100; at most 10 000).
    Percentage {
        /// Basis points.
        basis_points: u32,
    },
    /// A fixed amount off the subtotal, capped at the subtotal.
    FixedAmount {
        /// Minor units (≥ 0).
        amount_minor: i64,
    },
    /// Shipping costs nothing.
    FreeShipping,
}

impl DiscountValue {
    /// A percentage in whole percent (`percent(15)` is 15 %).
    pub fn percent(whole: u32) -> Self {
        Self::Percentage {
            basis_points: whole.saturating_mul(100),
        }
    }
}

/// A discount that applies (dates and usage are checked by whoever looked it up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discount {
    /// What it takes off.
    pub value: DiscountValue,
    /// The subtotal it needs, minor units (0: none).
    pub min_subtotal_minor: i64,
}

/// One weight bracket: orders up to `up_to_grams` (inclusive; `None`: any weight) cost
/// `price_minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightBracket {
    /// Upper bound in grams, inclusive; `None` for the open-ended last bracket.
    pub up_to_grams: Option<i64>,
    /// Price, minor units.
    pub price_minor: i64,
}

/// How a shipping rate is priced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShippingRule {
    /// Always `price_minor`.
    Flat {
        /// Price, minor units.
        price_minor: i64,
    },
    /// `price_minor`, or nothing when the discounted subtotal reaches `threshold_minor`.
    FreeOver {
        /// Price below the threshold, minor units.
        price_minor: i64,
        /// The discounted subtotal from which shipping is free, minor units.
        threshold_minor: i64,
    },
    /// The price of the smallest bracket that holds the order's weight.
    ByWeight {
        /// Brackets (any order).
        brackets: Vec<WeightBracket>,
    },
}

/// A tax that applies to the order's destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRate {
    /// What the shopper reads, e.g. "VAT" or "CA State Tax".
    pub name: String,
    /// Rate in basis points (20 % = 2 000).
    pub rate_bp: u32,
}

/// Everything pricing needs.
#[derive(Clone, Copy, Debug)]
pub struct PricingInput<'a> {
    /// The lines.
    pub lines: &'a [LineInput],
    /// The discount, if any.
    pub discount: Option<&'a Discount>,
    /// The chosen shipping rate's rule; `None`: no shipping charged.
    pub shipping: Option<&'a ShippingRule>,
    /// The taxes of the destination (they add up when several apply).
    pub taxes: &'a [TaxRate],
    /// Whether catalog prices already include tax.
    pub prices_include_tax: bool,
}

/// One line's amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTotals {
    /// Unit price, minor units.
    pub unit_price_minor: i64,
    /// Units.
    pub quantity: i32,
    /// unit price × quantity.
    pub subtotal_minor: i64,
    /// This line's share of the discount.
    pub discount_minor: i64,
    /// subtotal − discount (tax included when prices include it).
    pub total_minor: i64,
    /// Tax on this line (included in `total_minor` when prices include tax).
    pub tax_minor: i64,
}

/// Tax per rate over the whole order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    /// The rate's name.
    pub name: String,
    /// Basis points.
    pub rate_bp: u32,
    /// Amount, minor units.
    pub amount_minor: i64,
}

/// The order's totals, each line shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Per line, in input order.
    pub lines: Vec<LineTotals>,
    /// Σ line subtotals.
    pub subtotal_minor: i64,
    /// Taken off the goods (Σ line discounts); ≤ subtotal.
    pub discount_minor: i64,
    /// What the shipping rate costs before a free-shipping discount.
    pub shipping_before_discount_minor: i64,
    /// Shipping charged.
    pub shipping_minor: i64,
    /// Σ line taxes.
    pub tax_minor: i64,
    /// Whether `tax_minor` is already inside the prices (not added to the total).
    pub taxes_included: bool,
    /// Tax per rate.
    pub tax_lines: Vec<TaxLine>,
    /// What the shopper pays.
    pub total_minor: i64,
    /// Σ unit weight × quantity, grams.
    pub weight_grams: i64,
}

/// `n / d` rounded half up, for `n ≥ 0`, `d > 0`.
fn div_round_half_up(n: i128, d: i128) -> i128 {
    (2 * n + d) / (2 * d)
}

fn to_i64(v: i128) -> Result<i64, PricingError> {
    i64::try_from(v).map_err(|_| PricingError::Overflow)
}

/// Splits `amount` over `weights` in proportion, by the largest-remainder method: the
/// shares add up to `amount` exactly and none exceeds `amount × weight / Σ weights`
/// rounded up. Ties go to the earlier entry. All weights zero: nothing is allocated
/// (callers guarantee `amount` is 0 then).
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if total <= 0 || amount == 0 {
        return vec![0; weights.len()];
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: i128 = 0;
    for (i, w) in weights.iter().enumerate() {
        let exact = i128::from(amount) * i128::from(*w);
        let share = exact / total;
        given += share;
        shares.push(share as i64);
        remainders.push((exact % total, i));
    }
    let mut left = i128::from(amount) - given;
    // Largest remainder first; among equals, the earlier line.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

fn shipping_price(rule: &ShippingRule, goods_minor: i64, weight: i64) -> Result<i64, PricingError> {
    let price = match rule {
        ShippingRule::Flat { price_minor } => *price_minor,
        ShippingRule::FreeOver {
            price_minor,
            threshold_minor,
        } => {
            if goods_minor >= *threshold_minor {
                0
            } else {
                *price_minor
            }
        }
        ShippingRule::ByWeight { brackets } => brackets
            .iter()
            .filter(|b| b.up_to_grams.is_none_or(|max| weight <= max))
            .min_by_key(|b| b.up_to_grams.unwrap_or(i64::MAX))
            .map(|b| b.price_minor)
            .ok_or(PricingError::ShippingUnavailable {
                weight_grams: weight,
            })?,
    };
    if price < 0 {
        return Err(PricingError::Overflow);
    }
    Ok(price)
}

/// Computes the totals; see the module documentation for the rules.
pub fn compute(input: &PricingInput<'_>) -> Result<Totals, PricingError> {
    let mut subtotals = Vec::with_capacity(input.lines.len());
    let mut subtotal: i64 = 0;
    let mut weight: i64 = 0;
    for (i, l) in input.lines.iter().enumerate() {
        if l.unit_price_minor < 0 || l.quantity < 1 || l.weight_grams < 0 {
            return Err(PricingError::InvalidLine(i));
        }
        let s = l
            .unit_price_minor
            .checked_mul(i64::from(l.quantity))
            .ok_or(PricingError::Overflow)?;
        subtotal = subtotal.checked_add(s).ok_or(PricingError::Overflow)?;
        weight = weight
            .checked_add(i64::from(l.weight_grams) * i64::from(l.quantity))
            .ok_or(PricingError::Overflow)?;
        subtotals.push(s);
    }

    let mut free_shipping = false;
    let discount = match input.discount {
        None => 0,
        Some(d) => {
            if subtotal < d.min_subtotal_minor {
                return Err(PricingError::BelowMinimum {
                    min_subtotal_minor: d.min_subtotal_minor,
                });
            }
            match d.value {
                DiscountValue::Percentage { basis_points } => {
                    if basis_points > FULL_BP {
                        return Err(PricingError::InvalidDiscount);
                    }
                    to_i64(div_round_half_up(
                        i128::from(subtotal) * i128::from(basis_points),
                        i128::from(FULL_BP),
                    ))?
                }
                DiscountValue::FixedAmount { amount_minor } => {
                    if amount_minor < 0 {
                        return Err(PricingError::InvalidDiscount);
                    }
                    amount_minor.min(subtotal)
                }
                DiscountValue::FreeShipping => {
                    free_shipping = true;
                    0
                }
            }
        }
    };
    let line_discounts = allocate(discount, &subtotals);
    let goods = subtotal - discount;

    let shipping_before = match input.shipping {
        Some(rule) => shipping_price(rule, goods, weight)?,
        None => 0,
    };
    let shipping = if free_shipping { 0 } else { shipping_before };

    let combined_bp: i128 = input.taxes.iter().map(|t| i128::from(t.rate_bp)).sum();
    let mut tax_per_rate = vec![0i64; input.taxes.len()];
    let mut lines = Vec::with_capacity(input.lines.len());
    let mut tax_total: i64 = 0;
    for (i, l) in input.lines.iter().enumerate() {
        let amount = subtotals[i] - line_discounts[i];
        let portions: Vec<i64> = if input.prices_include_tax {
            let whole = if combined_bp == 0 {
                0
            } else {
                to_i64(div_round_half_up(
                    i128::from(amount) * combined_bp,
                    i128::from(FULL_BP) + combined_bp,
                ))?
            };
            let weights: Vec<i64> = input.taxes.iter().map(|t| i64::from(t.rate_bp)).collect();
            allocate(whole, &weights)
        } else {
            input
                .taxes
                .iter()
                .map(|t| {
                    to_i64(div_round_half_up(
                        i128::from(amount) * i128::from(t.rate_bp),
                        i128::from(FULL_BP),
                    ))
                })
                .collect::<Result<_, _>>()?
        };
        let mut line_tax: i64 = 0;
        for (k, p) in portions.iter().enumerate() {
            line_tax = line_tax.checked_add(*p).ok_or(PricingError::Overflow)?;
            tax_per_rate[k] = tax_per_rate[k]
                .checked_add(*p)
                .ok_or(PricingError::Overflow)?;
        }
        tax_total = tax_total
            .checked_add(line_tax)
            .ok_or(PricingError::Overflow)?;
        lines.push(LineTotals {
            unit_price_minor: l.unit_price_minor,
            quantity: l.quantity,
            subtotal_minor: subtotals[i],
            discount_minor: line_discounts[i],
            total_minor: amount,
            tax_minor: line_tax,
        });
    }

    let mut total = goods.checked_add(shipping).ok_or(PricingError::Overflow)?;
    if !input.prices_include_tax {
        total = total.checked_add(tax_total).ok_or(PricingError::Overflow)?;
    }
    Ok(Totals {
        lines,
        subtotal_minor: subtotal,
        discount_minor: discount,
        shipping_before_discount_minor: shipping_before,
        shipping_minor: shipping,
        tax_minor: tax_total,
        taxes_included: input.prices_include_tax,
        tax_lines: input
            .taxes
            .iter()
            .zip(tax_per_rate)
            .map(|(t, amount)| TaxLine {
                name: t.name.clone(),
                rate_bp: t.rate_bp,
                amount_minor: amount,
            })
            .collect(),
        total_minor: total,
        weight_grams: weight,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn line(price: i64, qty: i32) -> LineInput {
        LineInput {
            unit_price_minor: price,
            quantity: qty,
            weight_grams: 0,
        }
    }

    fn vat(bp: u32) -> TaxRate {
        TaxRate {
            name: "VAT".into(),
            rate_bp: bp,
        }
    }

    fn price(
        lines: &[LineInput],
        discount: Option<Discount>,
        shipping: Option<ShippingRule>,
        taxes: &[TaxRate],
        inclusive: bool,
    ) -> Result<Totals, PricingError> {
        compute(&PricingInput {
            lines,
            discount: discount.as_ref(),
            shipping: shipping.as_ref(),
            taxes,
            prices_include_tax: inclusive,
        })
    }

    fn discount(value: DiscountValue) -> Option<Discount> {
        Some(Discount {
            value,
            min_subtotal_minor: 0,
        })
    }

    #[test]
    fn table() {
        // (lines, discount, shipping, taxes bp, inclusive) -> (subtotal, discount, shipping, tax, total)
        type Case = (
            Vec<LineInput>,
            Option<Discount>,
            Option<ShippingRule>,
            Vec<u32>,
            bool,
            (i64, i64, i64, i64, i64),
        );
        let flat = |p| Some(ShippingRule::Flat { price_minor: p });
        let cases: Vec<Case> = vec![
            // Plain lines, no extras.
            (
                vec![line(1000, 2), line(250, 1)],
                None,
                None,
                vec![],
                false,
                (2250, 0, 0, 0, 2250),
            ),
            // 10 % off 19.99: 199.9 rounds half up to 200.
            (
                vec![line(1999, 1)],
                discount(DiscountValue::percent(10)),
                None,
                vec![],
                false,
                (1999, 200, 0, 0, 1799),
            ),
            // 12.5 % (basis points) of 1 004 = 125.5 -> 126.
            (
                vec![line(1004, 1)],
                discount(DiscountValue::Percentage { basis_points: 1250 }),
                None,
                vec![],
                false,
                (1004, 126, 0, 0, 878),
            ),
            // Fixed amount larger than the subtotal is capped.
            (
                vec![line(500, 1)],
                discount(DiscountValue::FixedAmount { amount_minor: 800 }),
                flat(300),
                vec![],
                false,
                (500, 500, 300, 0, 300),
            ),
            // Free shipping removes shipping, not goods.
            (
                vec![line(500, 2)],
                discount(DiscountValue::FreeShipping),
                flat(700),
                vec![],
                false,
                (1000, 0, 0, 0, 1000),
            ),
            // Exclusive tax 8.25 % on 10.00 = 82.5 -> 83, added.
            (
                vec![line(1000, 1)],
                None,
                flat(500),
                vec![825],
                false,
                (1000, 0, 500, 83, 1583),
            ),
            // Inclusive VAT 20 % on 12.00: 1200 × 2000 / 12000 = 200, not added.
            (
                vec![line(1200, 1)],
                None,
                flat(500),
                vec![2000],
                true,
                (1200, 0, 500, 200, 1700),
            ),
            // Tax on the discounted amount: 20 % off 100.00, 10 % tax on 80.00.
            (
                vec![line(10000, 1)],
                discount(DiscountValue::percent(20)),
                None,
                vec![1000],
                false,
                (10000, 2000, 0, 800, 8800),
            ),
            // Per-line rounding: three lines of 0.05 at 10 %: 0.5 -> 1 each, 3 in all.
            (
                vec![line(5, 1), line(5, 1), line(5, 1)],
                None,
                None,
                vec![1000],
                false,
                (15, 0, 0, 3, 18),
            ),
            // Free over 50.00 counts the discounted subtotal: 55 - 10 % = 49.50 pays shipping.
            (
                vec![line(5500, 1)],
                discount(DiscountValue::percent(10)),
                Some(ShippingRule::FreeOver {
                    price_minor: 600,
                    threshold_minor: 5000,
                }),
                vec![],
                false,
                (5500, 550, 600, 0, 5550),
            ),
            (
                vec![line(5500, 1)],
                None,
                Some(ShippingRule::FreeOver {
                    price_minor: 600,
                    threshold_minor: 5000,
                }),
                vec![],
                false,
                (5500, 0, 0, 0, 5500),
            ),
            // Two stacked rates, exclusive: 5 % + 2.5 % of 10.00 = 50 + 25.
            (
                vec![line(1000, 1)],
                None,
                None,
                vec![500, 250],
                false,
                (1000, 0, 0, 75, 1075),
            ),
        ];
        for (i, (lines, d, s, bps, inclusive, want)) in cases.into_iter().enumerate() {
            let taxes: Vec<TaxRate> = bps.into_iter().map(vat).collect();
            let t = price(&lines, d, s, &taxes, inclusive).unwrap();
            assert_eq!(
                (
                    t.subtotal_minor,
                    t.discount_minor,
                    t.shipping_minor,
                    t.tax_minor,
                    t.total_minor
                ),
                want,
                "case {i}: {t:?}"
            );
        }
    }

    #[test]
    fn weight_brackets_pick_the_smallest_that_holds() {
        let rule = ShippingRule::ByWeight {
            brackets: vec![
                WeightBracket {
                    up_to_grams: None,
                    price_minor: 2500,
                },
                WeightBracket {
                    up_to_grams: Some(1000),
                    price_minor: 500,
                },
                WeightBracket {
                    up_to_grams: Some(5000),
                    price_minor: 1200,
                },
            ],
        };
        let heavy = |g: i32, q: i32| LineInput {
            unit_price_minor: 100,
            quantity: q,
            weight_grams: g,
        };
        for (lines, want) in [
            (vec![heavy(1000, 1)], 500),
            (vec![heavy(1001, 1)], 1200),
            (vec![heavy(2000, 2), heavy(500, 2)], 1200),
            (vec![heavy(3000, 2)], 2500),
        ] {
            let t = price(&lines, None, Some(rule.clone()), &[], false).unwrap();
            assert_eq!(t.shipping_minor, want, "{lines:?}");
        }
        let closed = ShippingRule::ByWeight {
            brackets: vec![WeightBracket {
                up_to_grams: Some(1000),
                price_minor: 500,
            }],
        };
        assert_eq!(
            price(&[heavy(600, 2)], None, Some(closed), &[], false),
            Err(PricingError::ShippingUnavailable { weight_grams: 1200 })
        );
    }

    #[test]
    fn refusals() {
        let min = Some(Discount {
            value: DiscountValue::percent(10),
            min_subtotal_minor: 5000,
        });
        assert_eq!(
            price(&[line(4999, 1)], min, None, &[], false),
            Err(PricingError::BelowMinimum {
                min_subtotal_minor: 5000
            })
        );
        assert!(price(&[line(5000, 1)], min, None, &[], false).is_ok());
        assert_eq!(
            price(
                &[line(100, 1)],
                discount(DiscountValue::percent(101)),
                None,
                &[],
                false
            ),
            Err(PricingError::InvalidDiscount)
        );
        assert_eq!(
            price(&[line(100, 0)], None, None, &[], false),
            Err(PricingError::InvalidLine(0))
        );
        assert_eq!(
            price(&[line(-1, 1)], None, None, &[], false),
            Err(PricingError::InvalidLine(0))
        );
        assert_eq!(
            price(&[line(i64::MAX, 2)], None, None, &[], false),
            Err(PricingError::Overflow)
        );
        assert_eq!(
            price(&[line(i64::MAX, 1), line(1, 1)], None, None, &[], false),
            Err(PricingError::Overflow)
        );
    }

    #[test]
    fn discount_allocation_is_proportional_and_exact() {
        // 10.00 off 30.00 over 10 / 20: 3.33 / 6.67 (largest remainder gets the cent).
        let t = price(
            &[line(1000, 1), line(2000, 1)],
            discount(DiscountValue::FixedAmount { amount_minor: 1000 }),
            None,
            &[],
            false,
        )
        .unwrap();
        assert_eq!(t.lines[0].discount_minor, 333);
        assert_eq!(t.lines[1].discount_minor, 667);
        assert_eq!(allocate(2, &[1, 1, 1]), vec![1, 1, 0]);
        assert_eq!(allocate(0, &[0, 0]), vec![0, 0]);
    }

    #[test]
    fn inclusive_taxes_split_over_stacked_rates() {
        // 11.50 including 10 % + 5 %: 1150 × 1500 / 11500 = 150, split 100 / 50.
        let t = price(&[line(1150, 1)], None, None, &[vat(1000), vat(500)], true).unwrap();
        assert_eq!(t.tax_minor, 150);
        assert_eq!(t.tax_lines[0].amount_minor, 100);
        assert_eq!(t.tax_lines[1].amount_minor, 50);
        assert_eq!(t.total_minor, 1150);
    }

    fn arb_lines() -> impl Strategy<Value = Vec<LineInput>> {
        prop::collection::vec(
            (0i64..2_000_000, 1i32..50, 0i32..5_000).prop_map(|(p, q, w)| LineInput {
                unit_price_minor: p,
                quantity: q,
                weight_grams: w,
            }),
            1..8,
        )
    }

    fn arb_discount() -> impl Strategy<Value = Option<Discount>> {
        let value = prop_oneof![
            (0u32..=FULL_BP).prop_map(|bp| DiscountValue::Percentage { basis_points: bp }),
            (0i64..5_000_000).prop_map(|a| DiscountValue::FixedAmount { amount_minor: a }),
            Just(DiscountValue::FreeShipping),
        ];
        prop::option::of(value.prop_map(|value| Discount {
            value,
            min_subtotal_minor: 0,
        }))
    }

    fn arb_shipping() -> impl Strategy<Value = Option<ShippingRule>> {
        prop::option::of(prop_oneof![
            (0i64..10_000).prop_map(|p| ShippingRule::Flat { price_minor: p }),
            (0i64..10_000, 0i64..5_000_000).prop_map(|(p, t)| ShippingRule::FreeOver {
                price_minor: p,
                threshold_minor: t
            }),
            (0i64..10_000).prop_map(|p| ShippingRule::ByWeight {
                brackets: vec![WeightBracket {
                    up_to_grams: None,
                    price_minor: p
                }]
            }),
        ])
    }

    fn arb_taxes() -> impl Strategy<Value = Vec<TaxRate>> {
        prop::collection::vec((0u32..3_000).prop_map(vat), 0..3)
    }

    proptest! {
        #[test]
        fn totals_invariants(
            lines in arb_lines(),
            d in arb_discount(),
            s in arb_shipping(),
            taxes in arb_taxes(),
            inclusive in any::<bool>(),
        ) {
            let t = price(&lines, d, s, &taxes, inclusive).unwrap();
            let added_tax = if inclusive { 0 } else { t.tax_minor };
            prop_assert_eq!(t.total_minor, t.subtotal_minor - t.discount_minor + t.shipping_minor + added_tax);
            prop_assert!(t.discount_minor <= t.subtotal_minor);
            for v in [t.subtotal_minor, t.discount_minor, t.shipping_minor, t.tax_minor, t.total_minor] {
                prop_assert!(v >= 0);
            }
            prop_assert_eq!(t.lines.iter().map(|l| l.discount_minor).sum::<i64>(), t.discount_minor);
            prop_assert_eq!(t.lines.iter().map(|l| l.subtotal_minor).sum::<i64>(), t.subtotal_minor);
            prop_assert_eq!(t.lines.iter().map(|l| l.tax_minor).sum::<i64>(), t.tax_minor);
            prop_assert_eq!(t.tax_lines.iter().map(|l| l.amount_minor).sum::<i64>(), t.tax_minor);
            for l in &t.lines {
                prop_assert!(l.discount_minor >= 0 && l.discount_minor <= l.subtotal_minor);
                prop_assert_eq!(l.total_minor, l.subtotal_minor - l.discount_minor);
                prop_assert!(l.tax_minor >= 0);
                if inclusive {
                    prop_assert!(l.tax_minor <= l.total_minor);
                }
            }
            if taxes.iter().all(|r| r.rate_bp == 0) {
                prop_assert_eq!(t.tax_minor, 0);
            }
        }

        #[test]
        fn inclusive_total_does_not_depend_on_the_rate(
            lines in arb_lines(),
            d in arb_discount(),
            s in arb_shipping(),
            a in arb_taxes(),
            b in arb_taxes(),
        ) {
            let ta = price(&lines, d, s.clone(), &a, true).unwrap();
            let tb = price(&lines, d, s.clone(), &[], true).unwrap();
            let tc = price(&lines, d, s, &b, true).unwrap();
            prop_assert_eq!(ta.total_minor, tb.total_minor);
            prop_assert_eq!(ta.total_minor, tc.total_minor);
        }

        #[test]
        fn allocation_adds_up(amount in 0i64..1_000_000, weights in prop::collection::vec(1i64..1_000_000, 1..10)) {
            let total: i64 = weights.iter().sum();
            let amount = amount.min(total);
            let shares = allocate(amount, &weights);
            prop_assert_eq!(shares.iter().sum::<i64>(), amount);
            for (s, w) in shares.iter().zip(&weights) {
                prop_assert!(*s >= 0 && s <= w);
            }
        }
    }
}
