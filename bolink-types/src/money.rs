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

    /// The amount as it is written on the wire, e.g. `4.0`.
    pub fn to_wire_text(self) -> String {
        self.0.to_string()
    }
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

impl From<Decimal> for Money {
    fn from(amount: Decimal) -> Money {
        Money(amount)
    }
}
