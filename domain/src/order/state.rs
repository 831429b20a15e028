//! The order's state, its status machine and its decisions: `handle` applies the rules, `apply`
//! folds events.
//!
//! May read a customer's state but must not change it or depend on posts.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::command::{CancelOrder, OrderCommand, OrderLine, PlaceOrder};
use super::event::OrderEvent;
use crate::customer::Customer;
use crate::{Aggregate, CommandContext, Currency, DomainError, Money};

/// Where an order is in its life: `placed → shipped → delivered`, or `placed → cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Placed,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// `None` until placed.
    placed: Option<PlacedOrder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PlacedOrder {
    customer_id: Uuid,
    currency: Currency,
    items: Vec<OrderLine>,
    total_minor: i64,
    status: OrderStatus,
    cancel_reason: Option<String>,
}

/// The order rule that needs another aggregate: only a registered customer may order. The
/// application layer loads the customer and calls this before [`Order::handle`].
pub fn ensure_customer_may_order(customer: &Customer) -> Result<(), DomainError> {
    if customer.exists() {
        Ok(())
    } else {
        // The order is what the command acts on; a missing customer is a precondition of placing
        // it, not a missing target (the contract says FAILED_PRECONDITION).
        Err(DomainError::FailedPrecondition(
            "the ordering customer does not exist".to_owned(),
        ))
    }
}

impl Order {
    pub fn status(&self) -> Option<OrderStatus> {
        self.placed.as_ref().map(|placed| placed.status)
    }

    pub fn total(&self) -> Option<Money> {
        self.placed
            .as_ref()
            .map(|placed| Money::new(placed.total_minor, placed.currency.clone()))
    }

    pub fn customer_id(&self) -> Option<Uuid> {
        self.placed.as_ref().map(|placed| placed.customer_id)
    }

    pub fn currency(&self) -> Option<&Currency> {
        self.placed.as_ref().map(|placed| &placed.currency)
    }

    /// The lines as placed; empty before the order exists.
    pub fn items(&self) -> &[OrderLine] {
        self.placed
            .as_ref()
            .map_or(&[], |placed| placed.items.as_slice())
    }

    pub fn cancel_reason(&self) -> Option<&str> {
        self.placed
            .as_ref()
            .and_then(|placed| placed.cancel_reason.as_deref())
    }

    /// Allows `action` only from status `from`, naming the current status when refusing.
    fn ensure_status(&self, from: OrderStatus, action: &str) -> Result<(), DomainError> {
        match self.status() {
            None => Err(DomainError::NotFound("order".to_owned())),
            Some(status) if status == from => Ok(()),
            Some(status) => Err(DomainError::FailedPrecondition(format!(
                "cannot {action} an order that is {status}"
            ))),
        }
    }

    fn place(&self, place: &PlaceOrder) -> Result<Vec<OrderEvent>, DomainError> {
        if self.placed.is_some() {
            return Err(DomainError::AlreadyExists("order".to_owned()));
        }
        Ok(vec![OrderEvent::OrderPlaced {
            customer_id: place.customer_id,
            currency: place.currency.clone(),
            items: place.items().iter().map(OrderLine::from).collect(),
            total_minor: place.total().amount_minor,
        }])
    }

    fn cancel(&self, cancel: &CancelOrder) -> Result<Vec<OrderEvent>, DomainError> {
        self.ensure_status(OrderStatus::Placed, "cancel")?;
        Ok(vec![OrderEvent::OrderCancelled {
            reason: cancel.reason.as_str().to_owned(),
        }])
    }

    fn set_status(&mut self, status: OrderStatus) {
        if let Some(placed) = &mut self.placed {
            placed.status = status;
        }
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = "order";

    type Command = OrderCommand;
    type Event = OrderEvent;

    fn handle(
        &self,
        command: OrderCommand,
        _ctx: &CommandContext,
    ) -> Result<Vec<OrderEvent>, DomainError> {
        match command {
            OrderCommand::Place(place) => self.place(&place),
            OrderCommand::Ship => {
                self.ensure_status(OrderStatus::Placed, "ship")?;
                Ok(vec![OrderEvent::OrderShipped])
            }
            OrderCommand::Deliver => {
                self.ensure_status(OrderStatus::Shipped, "deliver")?;
                Ok(vec![OrderEvent::OrderDelivered])
            }
            OrderCommand::Cancel(cancel) => self.cancel(&cancel),
        }
    }

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::OrderPlaced {
                customer_id,
                currency,
                items,
                total_minor,
            } => {
                self.placed = Some(PlacedOrder {
                    customer_id: *customer_id,
                    currency: currency.clone(),
                    items: items.clone(),
                    total_minor: *total_minor,
                    status: OrderStatus::Placed,
                    cancel_reason: None,
                });
            }
            OrderEvent::OrderShipped => self.set_status(OrderStatus::Shipped),
            OrderEvent::OrderDelivered => self.set_status(OrderStatus::Delivered),
            OrderEvent::OrderCancelled { reason } => {
                self.set_status(OrderStatus::Cancelled);
                if let Some(placed) = &mut self.placed {
                    placed.cancel_reason = Some(reason.clone());
                }
            }
        }
    }

    fn exists(&self) -> bool {
        self.placed.is_some()
    }
}
