//! What can happen to an order, as stored in its stream.
//!
//! Must not depend on the order's state. `OrderPlaced` carries the lines and the total so the read
//! side never has to recompute prices.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::command::OrderLine;
use crate::envelope::unit_data;
use crate::{Currency, DomainEvent};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum OrderEvent {
    OrderPlaced {
        customer_id: Uuid,
        currency: Currency,
        items: Vec<OrderLine>,
        total_minor: i64,
    },
    #[serde(with = "unit_data")]
    OrderShipped,
    #[serde(with = "unit_data")]
    OrderDelivered,
    OrderCancelled {
        reason: String,
    },
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::OrderPlaced { .. } => "OrderPlaced",
            Self::OrderShipped => "OrderShipped",
            Self::OrderDelivered => "OrderDelivered",
            Self::OrderCancelled { .. } => "OrderCancelled",
        }
    }

    fn current_schema_version(event_type: &str) -> Option<u32> {
        match event_type {
            "OrderPlaced" | "OrderShipped" | "OrderDelivered" | "OrderCancelled" => Some(1),
            _ => None,
        }
    }
}
