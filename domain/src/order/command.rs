//! What may be asked of an order, and the shape checks (lines, quantities, prices, total) that
//! need no state.
//!
//! Must not depend on the order's state: `state.rs` decides whether a command is allowed now.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::required_text;
use crate::{Currency, DomainError, Money};

/// The most lines one order may have.
pub const MAX_ITEMS: usize = 100;
/// The largest quantity of one line.
pub const MAX_QUANTITY: u32 = 10_000;
/// The longest sku, in characters.
pub const MAX_SKU_CHARS: usize = 64;
/// The longest item name, in characters.
pub const MAX_ITEM_NAME_CHARS: usize = 200;
/// The longest cancellation reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    Place(PlaceOrder),
    Ship,
    Deliver,
    Cancel(CancelOrder),
}

/// Places an order. The application layer checks the customer first with
/// [`super::ensure_customer_may_order`], since that needs another aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub customer_id: Uuid,
    pub currency: Currency,
    pub items: Vec<OrderLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOrder {
    pub reason: String,
}

/// One product line; its price is in minor units of the order's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub quantity: u32,
}

impl PlaceOrder {
    /// Checks every line and returns them trimmed, with the order total.
    pub(super) fn validated(&self) -> Result<(Vec<OrderLine>, Money), DomainError> {
        if self.items.is_empty() {
            return Err(DomainError::invalid("items", "must have at least one item"));
        }
        if self.items.len() > MAX_ITEMS {
            return Err(DomainError::invalid(
                "items",
                format!("must have at most {MAX_ITEMS} items"),
            ));
        }
        let lines = self
            .items
            .iter()
            .enumerate()
            .map(|(index, line)| line.validated().map_err(|error| at_item(index, error)))
            .collect::<Result<Vec<_>, _>>()?;
        let total = order_total(&self.currency, &lines)?;
        Ok((lines, total))
    }
}

impl OrderLine {
    fn validated(&self) -> Result<Self, DomainError> {
        let sku = required_text("sku", &self.sku, MAX_SKU_CHARS)?;
        let name = required_text("name", &self.name, MAX_ITEM_NAME_CHARS)?;
        if self.quantity == 0 {
            return Err(DomainError::invalid("quantity", "must be at least 1"));
        }
        if self.quantity > MAX_QUANTITY {
            return Err(DomainError::invalid(
                "quantity",
                format!("must be at most {MAX_QUANTITY}"),
            ));
        }
        if self.unit_price_minor < 0 {
            return Err(DomainError::invalid(
                "unit_price_minor",
                "must not be negative",
            ));
        }
        Ok(Self {
            sku,
            name,
            unit_price_minor: self.unit_price_minor,
            quantity: self.quantity,
        })
    }
}

/// Sums `unit_price × quantity` exactly; an overflow is the caller's input being absurd, not a
/// server fault.
fn order_total(currency: &Currency, lines: &[OrderLine]) -> Result<Money, DomainError> {
    lines
        .iter()
        .try_fold(Money::zero(currency.clone()), |total, line| {
            Money::new(line.unit_price_minor, currency.clone())
                .checked_mul(line.quantity)
                .and_then(|line_total| total.checked_add(&line_total))
        })
        .map_err(|_| DomainError::invalid("items", "order total is too large"))
}

/// Says which line (1-based, as people count) a field error is about.
fn at_item(index: usize, error: DomainError) -> DomainError {
    match error {
        DomainError::InvalidArgument { field, message } => DomainError::InvalidArgument {
            field,
            message: format!("item {}: {message}", index + 1),
        },
        other => other,
    }
}

/// Trims and bounds a cancellation reason.
pub(super) fn reason(value: &str) -> Result<String, DomainError> {
    required_text("reason", value, MAX_REASON_CHARS)
}
