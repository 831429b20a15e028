//! A calendar month as reports take it: written exactly `YYYY-MM`.
//!
//! Owns [`ReportMonth`]. Must not depend on any aggregate: months bound report periods, which span
//! them all.

use std::fmt;

use time::{Date, Month};

use crate::input::FieldError;

/// A month from January of year 1 to December 9999, held as its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportMonth(Date);

impl ReportMonth {
    pub const FIELD: &'static str = "month";

    /// Parses `YYYY-MM` (four and two digits, nothing else).
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                Self::FIELD,
                format!(
                    "{:?} is not a month \"YYYY-MM\"",
                    value.escape_debug().to_string()
                ),
            )
        };
        let (year, month) = value.split_once('-').ok_or_else(invalid)?;
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u8 = month.parse().map_err(|_| invalid())?;
        let month = Month::try_from(month).map_err(|_| invalid())?;
        if year < 1 {
            return Err(invalid());
        }
        Date::from_calendar_date(year, month, 1)
            .map(Self)
            .map_err(|_| invalid())
    }

    /// The month's first day.
    pub fn first_day(self) -> Date {
        self.0
    }
}

impl fmt::Display for ReportMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.0.year(), u8::from(self.0.month()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_round_trip() {
        for text in ["0001-01", "2026-12", "9999-12"] {
            assert_eq!(ReportMonth::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn other_shapes_are_field_errors() {
        for bad in [
            "",
            "2026",
            "2026-1",
            "2026-13",
            "0000-01",
            "26-01",
            "2026-01-01",
            "２０２６-01",
            "2026-\u{0}1",
        ] {
            let error = ReportMonth::parse(bad).expect_err(bad);
            assert_eq!(error.field, "month");
        }
    }
}
