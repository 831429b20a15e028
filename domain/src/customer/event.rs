//! What can happen to a customer, as stored in its stream.
//!
//! Must not depend on the customer's state or commands. Both events carry every detail, so each
//! one alone is enough for the read side (and for the denormalized customer_orders view).

use serde::{Deserialize, Serialize};

use crate::DomainEvent;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum CustomerEvent {
    CustomerRegistered {
        name: String,
        email: String,
        phone: Option<String>,
        segment: String,
        region: String,
    },
    CustomerUpdated {
        name: String,
        email: String,
        phone: Option<String>,
        segment: String,
        region: String,
    },
}

impl DomainEvent for CustomerEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::CustomerRegistered { .. } => "CustomerRegistered",
            Self::CustomerUpdated { .. } => "CustomerUpdated",
        }
    }

    fn current_schema_version(event_type: &str) -> Option<u32> {
        match event_type {
            "CustomerRegistered" | "CustomerUpdated" => Some(1),
            _ => None,
        }
    }
}
