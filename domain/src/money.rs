//! Money as integer minor units plus an ISO 4217 currency code; never a float, so sums are exact.
//!
//! Owns [`Currency`], [`Money`] and [`MoneyError`]. Must not depend on any aggregate, and knows
//! nothing of how many minor units a currency has: formatting amounts is the presenters' job.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::input::FieldError;

/// An ISO 4217 currency code: exactly three ASCII uppercase letters, e.g. `EUR`.
///
/// Only the shape is checked, not membership in the ISO list, which changes over time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub const FIELD: &'static str = "currency";

    /// Parses a code, trimmed of surrounding spaces.
    pub fn parse(code: &str) -> Result<Self, FieldError> {
        let code = code.trim();
        if code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(FieldError::new(
                Self::FIELD,
                format!(
                    "{:?} is not three uppercase letters (iso 4217)",
                    code.escape_debug().to_string()
                ),
            ))
        }
    }

    /// The same as [`Self::parse`].
    pub fn new(code: &str) -> Result<Self, FieldError> {
        Self::parse(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Currency {
    type Err = FieldError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::new(code)
    }
}

impl TryFrom<String> for Currency {
    type Error = FieldError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::new(&code)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.0
    }
}

/// Why a money calculation has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount out of range")]
    Overflow,
}

/// An exact amount: `amount_minor` counts the currency's smallest unit (cents for EUR).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub fn is_negative(&self) -> bool {
        self.amount_minor < 0
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|amount| Money::new(amount, self.currency.clone()))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_sub(other.amount_minor)
            .map(|amount| Money::new(amount, self.currency.clone()))
            .ok_or(MoneyError::Overflow)
    }

    /// Multiplies by a count, e.g. a unit price by a quantity.
    pub fn checked_mul(&self, factor: u32) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(i64::from(factor))
            .map(|amount| Money::new(amount, self.currency.clone()))
            .ok_or(MoneyError::Overflow)
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency.clone(),
                right: other.currency.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::new("EUR").unwrap()
    }

    #[test]
    fn currency_accepts_three_uppercase_letters() {
        assert_eq!(eur().as_str(), "EUR");
        assert_eq!("USD".parse::<Currency>().unwrap().to_string(), "USD");
    }

    #[test]
    fn currency_refuses_other_shapes() {
        for code in ["", "EU", "EURO", "eur", "Eur", "E1R", "E R", "ÉUR", "EU\0"] {
            let error = Currency::new(code).expect_err(code);
            assert_eq!(error.field, "currency", "{code:?}");
        }
    }

    #[test]
    fn currency_serializes_as_a_string_and_validates_on_the_way_in() {
        assert_eq!(
            serde_json::to_value(eur()).unwrap(),
            serde_json::json!("EUR")
        );
        assert_eq!(
            serde_json::from_value::<Currency>(serde_json::json!("EUR")).unwrap(),
            eur()
        );
        assert!(serde_json::from_value::<Currency>(serde_json::json!("eur")).is_err());
    }

    #[test]
    fn money_adds_and_multiplies_exactly() {
        let price = Money::new(1_999, eur());
        assert_eq!(price.checked_mul(3), Ok(Money::new(5_997, eur())));
        assert_eq!(
            price.checked_add(&Money::new(1, eur())),
            Ok(Money::new(2_000, eur()))
        );
        assert_eq!(
            price.checked_sub(&Money::new(2_000, eur())),
            Ok(Money::new(-1, eur()))
        );
        assert!(Money::new(-1, eur()).is_negative());
        assert!(!Money::zero(eur()).is_negative());
    }

    #[test]
    fn money_refuses_overflow() {
        let big = Money::new(i64::MAX, eur());
        assert_eq!(
            big.checked_add(&Money::new(1, eur())),
            Err(MoneyError::Overflow)
        );
        assert_eq!(big.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            Money::new(i64::MIN, eur()).checked_sub(&Money::new(1, eur())),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn money_refuses_mixed_currencies() {
        let usd = Currency::new("USD").unwrap();
        assert_eq!(
            Money::new(1, eur()).checked_add(&Money::new(1, usd.clone())),
            Err(MoneyError::CurrencyMismatch {
                left: eur(),
                right: usd,
            })
        );
    }
}
