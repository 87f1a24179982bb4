//! Money in yuan as an exact decimal.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// An amount of money in yuan, held as an exact decimal (never `f64`).
///
/// The documents write money both as strings (`"4.0"`) and as numbers
/// (`0.04`); which one a field uses is part of its spec, not of this type.
/// The scale is kept as received, so `"2.00"` is written back as `"2.00"`.
///
/// ```
/// use bolink_types::Money;
/// let price: Money = "4.50".parse().unwrap();
/// assert_eq!(price.to_string(), "4.50");
/// assert_eq!(Money::from_cents(450), "4.50".parse().unwrap());
///
/// // Arithmetic is checked: an amount never wraps or rounds silently.
/// let total = price.checked_add(Money::from_cents(50)).unwrap();
/// assert_eq!(total.to_string(), "5.00");
/// assert_eq!(total.checked_sub(Money::from_cents(600)), Some("-1.00".parse().unwrap()));
/// assert_eq!(Money::from_cents(250).checked_mul(3), Some(Money::from_cents(750)));
/// assert_eq!(total.to_cents(), Some(500));
/// let sum: Option<Money> = Money::checked_sum([price, Money::from_cents(50)]);
/// assert_eq!(sum, Some(total));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Money(Decimal);

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an amount of money: {reason}")]
pub struct MoneyError {
    reason: String,
}

impl Money {
    /// Zero yuan.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Wraps an exact decimal amount in yuan.
    pub fn from_decimal(amount: Decimal) -> Money {
        Money(amount)
    }

    /// An amount given in fen (hundredths of a yuan), written with two decimals.
    pub fn from_cents(cents: i64) -> Money {
        Money(Decimal::new(cents, 2))
    }

    /// The amount in yuan.
    pub fn to_decimal(self) -> Decimal {
        self.0
    }

    /// `self + other`, or `None` if the exact sum does not fit (28 to 29
    /// significant digits; rust_decimal would round, this does not).
    pub fn checked_add(self, other: Money) -> Option<Money> {
        exact(
            self.0.checked_add(other.0)?,
            self.0.scale().max(other.0.scale()),
        )
    }

    /// `self - other` (negative when `other` is larger: a refund, a
    /// change), or `None` if it does not fit.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        exact(
            self.0.checked_sub(other.0)?,
            self.0.scale().max(other.0.scale()),
        )
    }

    /// `self × count` (a price per hour times hours started), or `None` if
    /// it does not fit.
    pub fn checked_mul(self, count: i64) -> Option<Money> {
        exact(self.0.checked_mul(Decimal::from(count))?, self.0.scale())
    }

    /// The sum of `amounts`, or `None` if it does not fit.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Option<Money> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |total, amount| total.checked_add(amount))
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// The amount in fen (hundredths of a yuan), or `None` if it has a
    /// fraction of a fen or does not fit an `i64`.
    pub fn to_cents(self) -> Option<i64> {
        let cents = self.0.checked_mul(Decimal::ONE_HUNDRED)?;
        if cents.fract().is_zero() {
            i64::try_from(cents.trunc()).ok()
        } else {
            None
        }
    }

    /// The amount as it is written on the wire, e.g. `4.0`.
    pub fn to_wire_text(self) -> String {
        self.0.to_string()
    }
}

/// `result` if it kept the scale the exact result has: rust_decimal rounds
/// to fewer decimals instead of failing when the digits do not fit, and
/// money must not change silently.
fn exact(result: Decimal, scale: u32) -> Option<Money> {
    (result.scale() == scale).then_some(Money(result))
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Money, MoneyError> {
        // A decimal in JSON's number grammar, without an exponent.
        let valid = crate::wire::is_number_text(text) && !text.contains(['e', 'E']);
        if !valid {
            return Err(MoneyError {
                reason: format!("{text:?} is not a decimal number"),
            });
        }
        Decimal::from_str_exact(text)
            .map(Money)
            .map_err(|e| MoneyError {
                reason: format!("{text:?}: {e}"),
            })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<&str> for Money {
    type Error = MoneyError;

    fn try_from(text: &str) -> Result<Money, MoneyError> {
        text.parse()
    }
}

impl From<Money> for Decimal {
    fn from(amount: Money) -> Decimal {
        amount.0
    }
}

impl From<Decimal> for Money {
    fn from(amount: Decimal) -> Money {
        Money(amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn arithmetic_is_exact_and_keeps_the_scale() {
        assert_eq!(money("0.1").checked_add(money("0.2")), Some(money("0.3")));
        assert_eq!(
            money("0.10").checked_add(money("0.2")).unwrap().to_string(),
            "0.30"
        );
        assert_eq!(
            money("5").checked_sub(money("7.5")).unwrap().to_string(),
            "-2.5"
        );
        assert!(money("-2.5").is_negative());
        assert!(!money("-0.00").is_negative());
        assert_eq!(money("1.25").checked_mul(-2), Some(money("-2.50")));
    }

    #[test]
    fn overflow_is_none_not_a_wrap_or_a_panic() {
        let max = Money::from_decimal(Decimal::MAX);
        assert_eq!(max.checked_add(Money::from_cents(1)), None);
        assert_eq!(max.checked_mul(2), None);
        assert_eq!(
            Money::from_decimal(Decimal::MIN).checked_sub(money("1")),
            None
        );
        assert_eq!(Money::checked_sum([max, max]), None);
        assert_eq!(Money::checked_sum([]), Some(Money::ZERO));
    }

    #[test]
    fn cents_only_when_whole_fen() {
        assert_eq!(money("4.5").to_cents(), Some(450));
        assert_eq!(money("-0.01").to_cents(), Some(-1));
        assert_eq!(money("0.005").to_cents(), None);
        assert_eq!(Money::from_decimal(Decimal::MAX).to_cents(), None);
        assert_eq!(
            Money::try_from("x"),
            Err(MoneyError {
                reason: "\"x\" is not a decimal number".into()
            })
        );
    }
}
