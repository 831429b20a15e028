//! What may be asked of a customer, and the input it carries, parsed and normalized.
//!
//! Must not depend on the customer's state: `state.rs` decides whether a command is allowed.
//! Commands hold a [`CustomerProfile`] of newtypes, so `handle` never sees unchecked input.

use serde::{Deserialize, Serialize};

use crate::input::{FieldError, Fields, InvalidInput, text_newtype};

/// The longest customer name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest email address (the SMTP path limit), in characters.
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest segment or region, in characters.
pub const MAX_GROUP_CHARS: usize = 64;
/// The shortest phone number, in characters.
pub const MIN_PHONE_CHARS: usize = 5;
/// The longest phone number, in characters.
pub const MAX_PHONE_CHARS: usize = 32;

text_newtype!(
    /// A customer's name: one line, at most [`MAX_NAME_CHARS`].
    CustomerName,
    field = "name",
    max = MAX_NAME_CHARS,
    lines = Single
);

text_newtype!(
    /// The group reports sum customers by (e.g. `enterprise`): one line, at most [`MAX_GROUP_CHARS`].
    Segment,
    field = "segment",
    max = MAX_GROUP_CHARS,
    lines = Single
);

text_newtype!(
    /// Where a customer is (e.g. `emea`): one line, at most [`MAX_GROUP_CHARS`].
    Region,
    field = "region",
    max = MAX_GROUP_CHARS,
    lines = Single
);

/// A normalized email address (trimmed, lowercased); the store reserves it, so two spellings of
/// one address cannot belong to two customers.
///
/// The check is deliberately simple but real: one `@`, a non-empty local part, a dotted domain
/// without empty labels, no whitespace or control character, at most [`MAX_EMAIL_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub const FIELD: &'static str = "email";

    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let email = value.trim().to_lowercase();
        let refuse = |reason: &str| Err(FieldError::new(Self::FIELD, reason));
        if email.is_empty() {
            return refuse("must not be blank");
        }
        if email.chars().count() > MAX_EMAIL_CHARS {
            return refuse(&format!("must be at most {MAX_EMAIL_CHARS} characters"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse("must not contain spaces or control characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return refuse("must contain an @");
        };
        if domain.contains('@') {
            return refuse("must contain a single @");
        }
        if local.is_empty() {
            return refuse("must have a name before the @");
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return refuse("must have a domain like example.com after the @");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A phone number: digits, spaces, `+`, `-`, `(` and `)`, with at least one digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub const FIELD: &'static str = "phone";

    /// A blank phone counts as none, because forms send empty strings for fields left out.
    pub fn parse_optional(value: Option<&str>) -> Result<Option<Self>, FieldError> {
        match value.map(str::trim).filter(|phone| !phone.is_empty()) {
            None => Ok(None),
            Some(phone) => Self::parse(phone).map(Some),
        }
    }

    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let phone = value.trim();
        let length = phone.chars().count();
        if !(MIN_PHONE_CHARS..=MAX_PHONE_CHARS).contains(&length) {
            return Err(FieldError::new(
                Self::FIELD,
                format!("must be {MIN_PHONE_CHARS} to {MAX_PHONE_CHARS} characters"),
            ));
        }
        let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')');
        if !phone.chars().all(allowed) || !phone.chars().any(|c| c.is_ascii_digit()) {
            return Err(FieldError::new(
                Self::FIELD,
                "must be digits, spaces, +, -, ( and )",
            ));
        }
        Ok(Self(phone.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerCommand {
    Register(CustomerProfile),
    /// Replaces every detail at once; the read side never has to merge partial updates.
    Update(CustomerProfile),
}

/// A customer's details as a request sends them, before parsing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfileInput<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub phone: Option<&'a str>,
    pub segment: &'a str,
    pub region: &'a str,
}

/// A customer's details, parsed: what register and update commands carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerProfile {
    pub name: CustomerName,
    pub email: Email,
    pub phone: Option<Phone>,
    pub segment: Segment,
    pub region: Region,
}

impl CustomerProfile {
    /// Parses every field, reporting all that break a rule at once.
    pub fn parse(input: &ProfileInput<'_>) -> Result<Self, InvalidInput> {
        let mut fields = Fields::new();
        let name = fields.take(CustomerName::parse(input.name));
        let email = fields.take(Email::parse(input.email));
        let phone = fields.take(Phone::parse_optional(input.phone));
        let segment = fields.take(Segment::parse(input.segment));
        let region = fields.take(Region::parse(input.region));
        match (name, email, phone, segment, region) {
            (Some(name), Some(email), Some(phone), Some(segment), Some(region)) => Ok(Self {
                name,
                email,
                phone,
                segment,
                region,
            }),
            _ => Err(fields.into_error("name")),
        }
    }

    /// The plain details the state and the events hold.
    pub fn into_details(self) -> CustomerDetails {
        CustomerDetails {
            name: self.name.into_string(),
            email: self.email.into_string(),
            phone: self.phone.map(|phone| phone.0),
            segment: self.segment.into_string(),
            region: self.region.into_string(),
        }
    }
}

/// A customer's details as held in the state (and snapshots) and carried by its events.
///
/// Plain strings on purpose: events already stored must always load, even if a rule tightens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDetails {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub segment: String,
    pub region: String,
}
