//! Shape checks shared by the aggregates' commands (blank text, length limits).
//!
//! Owns nothing but these helpers; it must not know about any particular aggregate.

use crate::DomainError;

/// Trims `value` and checks it is non-blank and at most `max_chars` characters long.
///
/// Lengths count characters, not bytes, so the limit means the same for every script.
pub(crate) fn required_text(
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(field, "must not be blank"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(required_text("f", " ééé ", 3), Ok("ééé".to_owned()));
        assert!(required_text("f", "éééé", 3).is_err());
    }

    #[test]
    fn refuses_whitespace_only() {
        assert_eq!(
            required_text("f", " \t\n", 3),
            Err(DomainError::invalid("f", "must not be blank"))
        );
    }
}
