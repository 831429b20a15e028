//! The one home of input rules: a request's fields are parsed here, once, into newtypes that cannot
//! hold a value the rules refuse ("parse, don't validate").
//!
//! Owns [`FieldError`], [`InvalidInput`], the [`Fields`] collector and the text rules every free-text
//! newtype shares. The newtypes themselves live with the aggregate whose commands carry them (a post
//! message in `post`, an email in `customer`, a unit price in `order`); this module must not know
//! any aggregate.
//!
//! Why here and nowhere else: the gateway, command-service and query-service all take input, and
//! each copy of a rule drifts. Commands carry the newtypes, so `handle` cannot receive unchecked
//! input, and the transports only collect the errors of `parse` into their field lists.
//!
//! What the rules guard beyond shape: nothing a caller sends may make a stored event unprojectable.
//! PostgreSQL `text` cannot hold U+0000, so control characters are refused (newline and tab stay
//! allowed in free text); money is bounded so that no sum the read side computes can overflow.

/// One field of a request that breaks a rule: the field's name as the caller wrote it (dotted and
/// indexed inside lists, e.g. `items[2].quantity`) and why, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error under another name, for a transport whose parameter is called differently
    /// (the `author` query filter holds an actor).
    #[must_use]
    pub fn renamed(self, field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: self.reason,
        }
    }

    /// The same error inside a list or message, e.g. `items[2]` + `quantity` = `items[2].quantity`.
    #[must_use]
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            reason: self.reason,
        }
    }
}

/// Every field error of one request, so a caller learns all of them at once.
///
/// Never empty when built through [`Fields`] or from a [`FieldError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", join(.0))]
pub struct InvalidInput(Vec<FieldError>);

impl InvalidInput {
    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_fields(self) -> Vec<FieldError> {
        self.0
    }

    /// Whether `field` is among the refused fields.
    pub fn names(&self, field: &str) -> bool {
        self.0.iter().any(|error| error.field == field)
    }
}

impl From<FieldError> for InvalidInput {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects the outcome of parsing several fields.
///
/// ```
/// use cqrsplus_domain::input::{Fields, InvalidInput};
/// use cqrsplus_domain::customer::{CustomerName, Segment};
///
/// fn parse(name: &str, segment: &str) -> Result<(CustomerName, Segment), InvalidInput> {
///     let mut fields = Fields::new();
///     let name = fields.take(CustomerName::parse(name));
///     let segment = fields.take(Segment::parse(segment));
///     match (name, segment) {
///         (Some(name), Some(segment)) => Ok((name, segment)),
///         _ => Err(fields.into_error("name")),
///     }
/// }
/// assert!(parse("Ada", "retail").is_ok());
/// let error = parse("\0", "").unwrap_err();
/// assert!(error.names("name") && error.names("segment"));
/// ```
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// The parsed value, or `None` with its error recorded.
    pub fn take<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        parsed.map_err(|error| self.0.push(error)).ok()
    }

    /// Like [`Self::take`], for a part that has several fields of its own.
    pub fn take_all<T>(&mut self, parsed: Result<T, InvalidInput>) -> Option<T> {
        parsed.map_err(|error| self.0.extend(error.0)).ok()
    }

    pub fn add(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err` with every recorded error, if any. Checking this before unwrapping the `Option`s of
    /// [`Self::take`] keeps the "all of them at once" promise.
    pub fn finish(&mut self) -> Result<(), InvalidInput> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(InvalidInput(std::mem::take(&mut self.0)))
        }
    }

    /// The recorded errors, or `missing` when a value is absent although nothing was recorded
    /// (a caller's bug, reported as a field error rather than a panic).
    pub fn into_error(self, missing: &str) -> InvalidInput {
        if self.0.is_empty() {
            InvalidInput(vec![FieldError::new(missing, "is missing")])
        } else {
            InvalidInput(self.0)
        }
    }
}

/// Whether a text may span lines (free text such as a post) or is a single line (a name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Single,
    /// Newline and tab are allowed; a CRLF pair is stored as a newline.
    Multi,
}

/// The text rule every text newtype shares: trimmed, not blank, at most `max_chars` characters
/// (characters, not bytes, so the limit means the same in every script), and no control character
/// (U+0000 above all: PostgreSQL cannot store it), except newline and tab in [`Lines::Multi`].
pub fn text(
    field: &str,
    value: &str,
    max_chars: usize,
    lines: Lines,
) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be blank"));
    }
    let text = match lines {
        Lines::Multi if trimmed.contains('\r') => trimmed.replace("\r\n", "\n"),
        _ => trimmed.to_owned(),
    };
    if let Some(control) = text.chars().find(|c| forbidden(*c, lines)) {
        return Err(FieldError::new(
            field,
            format!(
                "must not contain control characters (found U+{:04X}){}",
                u32::from(control),
                match lines {
                    Lines::Single => "",
                    Lines::Multi => "; newline and tab are allowed",
                }
            ),
        ));
    }
    if text.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(text)
}

fn forbidden(c: char, lines: Lines) -> bool {
    // Format characters such as U+2028 are not `is_control` and are fine in text; U+FFFE and
    // U+FFFF are noncharacters some decoders choke on.
    let allowed_whitespace = lines == Lines::Multi && matches!(c, '\n' | '\t');
    (c.is_control() && !allowed_whitespace) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// An integer within `min..=max`, as a field error otherwise.
pub fn bounded(field: &str, value: i64, min: i64, max: i64) -> Result<i64, FieldError> {
    if value < min {
        Err(FieldError::new(field, format!("must be at least {min}")))
    } else if value > max {
        Err(FieldError::new(field, format!("must be at most {max}")))
    } else {
        Ok(value)
    }
}

/// Defines a text newtype: its field name, its limit, and whether it may span lines.
macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident, field = $field:literal, max = $max:expr, lines = $lines:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The longest value, in characters.
            pub const MAX_CHARS: usize = $max;
            /// The field name errors carry.
            pub const FIELD: &'static str = $field;

            /// Trims and checks `value`; see [`crate::input::text`] for the rules.
            pub fn parse(value: &str) -> Result<Self, $crate::input::FieldError> {
                $crate::input::text(
                    Self::FIELD,
                    value,
                    Self::MAX_CHARS,
                    $crate::input::Lines::$lines,
                )
                .map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}
pub(crate) use text_newtype;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_counted_in_characters() {
        assert_eq!(text("f", " ééé ", 3, Lines::Single), Ok("ééé".to_owned()));
        assert!(text("f", "éééé", 3, Lines::Single).is_err());
    }

    #[test]
    fn blank_text_is_refused() {
        assert_eq!(
            text("f", " \t\n", 3, Lines::Multi),
            Err(FieldError::new("f", "must not be blank"))
        );
    }

    #[test]
    fn nul_and_other_controls_are_refused_everywhere() {
        for lines in [Lines::Single, Lines::Multi] {
            for bad in [
                "a\0b",
                "a\u{7}b",
                "a\u{1b}[31mb",
                "a\u{85}b",
                "a\u{7f}b",
                "a\rb",
            ] {
                let error = text("f", bad, 100, lines).expect_err(bad);
                assert_eq!(error.field, "f");
                assert!(error.reason.contains("control"), "{error}");
            }
        }
    }

    #[test]
    fn newline_and_tab_are_free_text_only() {
        assert_eq!(
            text("f", "a\r\nb\tc", 10, Lines::Multi),
            Ok("a\nb\tc".to_owned())
        );
        assert!(text("f", "a\nb", 10, Lines::Single).is_err());
        assert!(text("f", "a\tb", 10, Lines::Single).is_err());
    }

    #[test]
    fn fields_collect_every_error_and_name_nested_ones() {
        let mut fields = Fields::new();
        assert_eq!(
            fields.take(text("a", "ok", 5, Lines::Single)),
            Some("ok".into())
        );
        assert_eq!(fields.take(text("b", "", 5, Lines::Single)), None);
        fields.add(FieldError::new("quantity", "must be at least 1").within("items[1]"));
        let error = fields.finish().expect_err("two errors");
        assert!(error.names("b"));
        assert!(error.names("items[1].quantity"));
        assert_eq!(error.fields().len(), 2);
        assert!(fields.finish().is_ok(), "finish drains");
    }

    #[test]
    fn bounded_names_the_limit() {
        assert_eq!(
            bounded("q", 0, 1, 5).unwrap_err().reason,
            "must be at least 1"
        );
        assert_eq!(
            bounded("q", 6, 1, 5).unwrap_err().reason,
            "must be at most 5"
        );
        assert_eq!(bounded("q", 5, 1, 5), Ok(5));
    }
}
