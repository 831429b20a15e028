//! What may be asked of a customer, and the shape checks and normalization that need no state.
//!
//! Must not depend on the customer's state: `state.rs` decides whether a command is allowed.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::validate::required_text;

/// The longest customer name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest email address (the SMTP path limit), in characters.
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest segment or region, in characters.
pub const MAX_GROUP_CHARS: usize = 64;

const MIN_PHONE_CHARS: usize = 5;
const MAX_PHONE_CHARS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerCommand {
    Register(CustomerDetails),
    /// Replaces every detail at once; the read side never has to merge partial updates.
    Update(CustomerDetails),
}

/// A customer's details, as asked for and, once normalized, as held in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDetails {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub segment: String,
    pub region: String,
}

impl CustomerDetails {
    /// Checks every field and returns them trimmed, with the email normalized.
    pub(super) fn normalized(&self) -> Result<Self, DomainError> {
        Ok(Self {
            name: required_text("name", &self.name, MAX_NAME_CHARS)?,
            email: normalize_email(&self.email)?,
            phone: normalize_phone(self.phone.as_deref())?,
            segment: required_text("segment", &self.segment, MAX_GROUP_CHARS)?,
            region: required_text("region", &self.region, MAX_GROUP_CHARS)?,
        })
    }
}

/// Trims and lowercases an email and checks its format; the store reserves the result, so two
/// spellings of one address cannot belong to two customers.
///
/// The check is deliberately simple but real: one `@`, a non-empty local part, a dotted domain
/// without empty labels, no whitespace, at most [`MAX_EMAIL_CHARS`] characters.
pub fn normalize_email(email: &str) -> Result<String, DomainError> {
    let email = email.trim().to_lowercase();
    let refuse = |message: &str| Err(DomainError::invalid("email", message));
    if email.is_empty() {
        return refuse("must not be blank");
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return refuse(&format!("must be at most {MAX_EMAIL_CHARS} characters"));
    }
    if email.chars().any(char::is_whitespace) {
        return refuse("must not contain spaces");
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
    Ok(email)
}

/// A blank phone counts as none, because forms send empty strings for fields left out.
fn normalize_phone(phone: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(phone) = phone.map(str::trim).filter(|phone| !phone.is_empty()) else {
        return Ok(None);
    };
    let length = phone.chars().count();
    if !(MIN_PHONE_CHARS..=MAX_PHONE_CHARS).contains(&length) {
        return Err(DomainError::invalid(
            "phone",
            format!("must be {MIN_PHONE_CHARS} to {MAX_PHONE_CHARS} characters"),
        ));
    }
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')');
    if !phone.chars().all(allowed) || !phone.chars().any(|c| c.is_ascii_digit()) {
        return Err(DomainError::invalid(
            "phone",
            "must be digits, spaces, +, -, ( and )",
        ));
    }
    Ok(Some(phone.to_owned()))
}
