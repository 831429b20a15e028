//! Field-level checks of request bodies and parameters, so a client learns every invalid field at
//! once (`{"fields": [{field, message}]}`) instead of one upstream refusal at a time.
//!
//! Only shape is checked here (blank, too long, not a UUID, out of range), with the limits the
//! domain crate publishes; whether a command is allowed stays command-service's decision. Must not
//! depend on routes or services.

use crate::error::{ApiError, FieldViolation};

/// Collects violations while a request is checked.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Text that must not be blank and holds at most `max` characters; returns it trimmed.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.add(field, "must not be blank");
        } else if trimmed.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        trimmed.to_owned()
    }

    /// Optional text: absent or blank is `None`, otherwise bounded like [`Self::text`].
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        Some(value.to_owned())
    }

    /// An optional id that, when present, must be a UUID; returns it in canonical form.
    pub fn optional_uuid(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = value?;
        match uuid::Uuid::parse_str(value.trim()) {
            Ok(id) => Some(id.hyphenated().to_string()),
            Err(_) => {
                self.add(field, "must be a UUID");
                None
            }
        }
    }

    /// Something that looks like an email: one `@` with text on both sides and a dot after it.
    /// The authoritative check is the domain's; this only catches typos early.
    pub fn email(&mut self, field: &str, value: &str, max: usize) -> String {
        let email = self.text(field, value, max);
        if !email.is_empty() {
            let looks_valid = email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.contains('@')
            });
            if !looks_valid {
                self.add(field, "must be an email address");
            }
        }
        email
    }

    /// Ok when nothing was found, else the 400 listing every violation.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_violation_is_reported() {
        let mut v = Violations::new();
        assert_eq!(v.text("message", "  hi ", 10), "hi");
        v.text("blank", "   ", 10);
        v.text("long", "abcdef", 3);
        v.email("email", "not-an-email", 100);
        v.optional_uuid("id", Some("nope"));
        assert_eq!(v.optional_text("phone", Some("  "), 5), None);
        let err = v.finish().expect_err("violations");
        let fields: Vec<&str> = err.details["fields"]
            .as_array()
            .expect("array")
            .iter()
            .map(|f| f["field"].as_str().expect("field"))
            .collect();
        assert_eq!(fields, ["blank", "long", "email", "id"]);
    }

    #[test]
    fn valid_input_passes() {
        let mut v = Violations::new();
        v.email("email", "a@b.example", 100);
        let id = v.optional_uuid("id", Some("0190A0B0-0000-7000-8000-000000000001"));
        assert_eq!(id.as_deref(), Some("0190a0b0-0000-7000-8000-000000000001"));
        assert!(v.finish().is_ok());
    }
}
