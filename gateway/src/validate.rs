//! Collecting the field errors of one request, so a client learns every invalid field at once
//! (`{"fields": [{field, message}]}`) instead of one refusal at a time.
//!
//! No input rule lives here: text, emails, phones, money, months are parsed by the domain's
//! newtypes (`cqrsplus_domain`), and their `FieldError`s are collected as they are. What the
//! gateway checks itself is HTTP shape only: ids in bodies and query strings, parameters that
//! exclude each other. Whether a command is allowed stays command-service's decision. Must not
//! depend on routes or services.

use cqrsplus_domain::input::{FieldError, InvalidInput};

use crate::error::{ApiError, FieldViolation};

/// Collects violations while a request is parsed.
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

    /// The parsed value, or `None` with the domain's error recorded.
    pub fn take<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        parsed
            .map_err(|error| self.add(error.field, error.reason))
            .ok()
    }

    /// Like [`Self::take`], for a part with several fields of its own (a profile, an order).
    pub fn take_all<T>(&mut self, parsed: Result<T, InvalidInput>) -> Option<T> {
        parsed
            .map_err(|error| {
                for field in error.into_fields() {
                    self.add(field.field, field.reason);
                }
            })
            .ok()
    }

    /// An optional filter parsed by `parse` when present and not empty, its errors named after
    /// the HTTP parameter (`author` holds an actor, so the domain would say `actor`).
    pub fn filter<T>(
        &mut self,
        parameter: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        let value = value.filter(|v| !v.is_empty())?;
        self.take(parse(value).map_err(|e| e.renamed(parameter)))
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
    use cqrsplus_domain::{
        Actor,
        customer::{CustomerProfile, ProfileInput},
        post::PostMessage,
    };

    use super::*;

    fn fields(err: &ApiError) -> Vec<&str> {
        err.details["fields"]
            .as_array()
            .expect("array")
            .iter()
            .map(|f| f["field"].as_str().expect("field"))
            .collect()
    }

    #[test]
    fn every_violation_is_reported_under_the_domain_s_names() {
        let mut v = Violations::new();
        assert_eq!(
            v.take(PostMessage::parse("  hi "))
                .map(PostMessage::into_string),
            Some("hi".to_owned())
        );
        v.take(PostMessage::parse("a\0b"));
        v.take_all(CustomerProfile::parse(&ProfileInput {
            name: "Ada",
            email: "ada@localhost",
            phone: None,
            segment: "",
            region: "emea",
        }));
        v.optional_uuid("id", Some("nope"));
        v.filter("author", Some("x\0"), Actor::parse);
        assert!(v.filter("author", Some(""), Actor::parse).is_none());
        let err = v.finish().expect_err("violations");
        assert_eq!(
            fields(&err),
            ["message", "email", "segment", "id", "author"]
        );
    }

    #[test]
    fn valid_input_passes() {
        let mut v = Violations::new();
        let id = v.optional_uuid("id", Some("0190A0B0-0000-7000-8000-000000000001"));
        assert_eq!(id.as_deref(), Some("0190a0b0-0000-7000-8000-000000000001"));
        assert!(v.filter("author", Some("alice"), Actor::parse).is_some());
        assert!(v.finish().is_ok());
    }
}
