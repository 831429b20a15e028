//! What may be asked of an order, and the input it carries, parsed: lines, quantities, prices,
//! the total and a cancellation reason.
//!
//! Must not depend on the order's state: `state.rs` decides whether a command is allowed now.
//!
//! Money bounds, chosen so that no sum can overflow anywhere: a unit price is at most
//! [`MAX_UNIT_PRICE_MINOR`] and a quantity at most [`MAX_QUANTITY`], so one line is at most
//! 10^15 minor units; an order's total must also stay within [`MAX_ORDER_TOTAL_MINOR`] (10^15).
//! A signed 64-bit sum then holds over 9 000 maximal orders, and the read side's reports sum in
//! `numeric` anyway, so no stored order can make them fail.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::input::{FieldError, Fields, InvalidInput, bounded, text_newtype};
use crate::{Currency, Money};

/// The most lines one order may have.
pub const MAX_ITEMS: usize = 100;
/// The largest quantity of one line.
pub const MAX_QUANTITY: u32 = 10_000;
/// The largest unit price, in minor units (10^11: a billion in a two-decimal currency).
pub const MAX_UNIT_PRICE_MINOR: i64 = 100_000_000_000;
/// The largest order total, in minor units (10^15).
pub const MAX_ORDER_TOTAL_MINOR: i64 = 1_000_000_000_000_000;
/// The longest sku, in characters.
pub const MAX_SKU_CHARS: usize = 64;
/// The longest item name, in characters.
pub const MAX_ITEM_NAME_CHARS: usize = 200;
/// The longest cancellation reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

// A maximal line must fit the total on its own.
const _: () = assert!(MAX_UNIT_PRICE_MINOR * MAX_QUANTITY as i64 <= MAX_ORDER_TOTAL_MINOR);

text_newtype!(
    /// A stock-keeping unit: one line, at most [`MAX_SKU_CHARS`].
    Sku,
    field = "sku",
    max = MAX_SKU_CHARS,
    lines = Single
);

text_newtype!(
    /// A product's name on an order line: one line, at most [`MAX_ITEM_NAME_CHARS`].
    ItemName,
    field = "name",
    max = MAX_ITEM_NAME_CHARS,
    lines = Single
);

text_newtype!(
    /// Why an order was cancelled: free text, at most [`MAX_REASON_CHARS`].
    CancelReason,
    field = "reason",
    max = MAX_REASON_CHARS,
    lines = Multi
);

/// How many units of a line: 1 to [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quantity(u32);

impl Quantity {
    pub const FIELD: &'static str = "quantity";

    /// Takes any integer, so a negative or huge number from a client is a field error, not a
    /// decoding failure.
    pub fn parse(value: i64) -> Result<Self, FieldError> {
        let value = bounded(Self::FIELD, value, 1, i64::from(MAX_QUANTITY))?;
        u32::try_from(value)
            .map(Self)
            .map_err(|_| FieldError::new(Self::FIELD, format!("must be at most {MAX_QUANTITY}")))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A unit price in minor units: 0 to [`MAX_UNIT_PRICE_MINOR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitPrice(i64);

impl UnitPrice {
    pub const FIELD: &'static str = "unit_price_minor";

    pub fn parse(value: i64) -> Result<Self, FieldError> {
        bounded(Self::FIELD, value, 0, MAX_UNIT_PRICE_MINOR).map(Self)
    }

    pub fn minor(self) -> i64 {
        self.0
    }
}

/// An order total in minor units: 0 to [`MAX_ORDER_TOTAL_MINOR`], summed with checked arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderTotal(i64);

impl OrderTotal {
    pub const FIELD: &'static str = "items";

    pub fn parse(value: i64) -> Result<Self, FieldError> {
        bounded("total_minor", value, 0, MAX_ORDER_TOTAL_MINOR).map(Self)
    }

    /// `price × quantity` summed over `lines`; a sum past the bound is the caller's input being
    /// absurd, reported on `items`.
    fn of(lines: &[OrderItem]) -> Result<Self, FieldError> {
        let too_large = || {
            FieldError::new(
                Self::FIELD,
                format!("the order total must be at most {MAX_ORDER_TOTAL_MINOR} minor units"),
            )
        };
        let total = lines.iter().try_fold(0_i64, |total, line| {
            line.unit_price
                .0
                .checked_mul(i64::from(line.quantity.0))
                .and_then(|line_total| total.checked_add(line_total))
                .ok_or_else(too_large)
        })?;
        Self::parse(total).map_err(|_| too_large())
    }

    pub fn minor(self) -> i64 {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    Place(PlaceOrder),
    Ship,
    Deliver,
    Cancel(CancelOrder),
}

/// One order line as a request sends it, before parsing. Numbers are wide so that out-of-range
/// values become field errors.
#[derive(Debug, Clone, Copy)]
pub struct ItemInput<'a> {
    pub sku: &'a str,
    pub name: &'a str,
    pub unit_price_minor: i64,
    pub quantity: i64,
}

/// One parsed order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub sku: Sku,
    pub name: ItemName,
    pub unit_price: UnitPrice,
    pub quantity: Quantity,
}

impl OrderItem {
    pub fn parse(input: &ItemInput<'_>) -> Result<Self, InvalidInput> {
        let mut fields = Fields::new();
        let sku = fields.take(Sku::parse(input.sku));
        let name = fields.take(ItemName::parse(input.name));
        let unit_price = fields.take(UnitPrice::parse(input.unit_price_minor));
        let quantity = fields.take(Quantity::parse(input.quantity));
        match (sku, name, unit_price, quantity) {
            (Some(sku), Some(name), Some(unit_price), Some(quantity)) => Ok(Self {
                sku,
                name,
                unit_price,
                quantity,
            }),
            _ => Err(fields.into_error("sku")),
        }
    }
}

/// Places an order. The application layer checks the customer first with
/// [`super::ensure_customer_may_order`], since that needs another aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub customer_id: Uuid,
    pub currency: Currency,
    items: Vec<OrderItem>,
    total: OrderTotal,
}

impl PlaceOrder {
    /// Parses the currency and every line (errors named `items[i].field`, counting from 0 like the
    /// JSON array), checks the line count and the total, and reports every problem at once.
    pub fn parse(
        customer_id: Uuid,
        currency: &str,
        items: &[ItemInput<'_>],
    ) -> Result<Self, InvalidInput> {
        let mut fields = Fields::new();
        let currency = fields.take(Currency::parse(currency));
        if items.is_empty() {
            fields.add(FieldError::new("items", "must have at least one item"));
        } else if items.len() > MAX_ITEMS {
            fields.add(FieldError::new(
                "items",
                format!("must have at most {MAX_ITEMS} items"),
            ));
        }
        let mut lines = Vec::with_capacity(items.len().min(MAX_ITEMS));
        for (index, item) in items.iter().take(MAX_ITEMS).enumerate() {
            match OrderItem::parse(item) {
                Ok(line) => lines.push(line),
                Err(error) => {
                    for field in error.into_fields() {
                        fields.add(field.within(&format!("items[{index}]")));
                    }
                }
            }
        }
        let total = if fields.is_empty() {
            fields.take(OrderTotal::of(&lines))
        } else {
            None
        };
        match (currency, total) {
            (Some(currency), Some(total)) if fields.is_empty() => Ok(Self {
                customer_id,
                currency,
                items: lines,
                total,
            }),
            _ => Err(fields.into_error("items")),
        }
    }

    pub fn items(&self) -> &[OrderItem] {
        &self.items
    }

    pub fn total(&self) -> Money {
        Money::new(self.total.minor(), self.currency.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOrder {
    pub reason: CancelReason,
}

/// One product line as stored in `OrderPlaced`; its price is in minor units of the order's
/// currency. Plain values on purpose: events already stored must always load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub quantity: u32,
}

impl From<&OrderItem> for OrderLine {
    fn from(item: &OrderItem) -> Self {
        Self {
            sku: item.sku.as_str().to_owned(),
            name: item.name.as_str().to_owned(),
            unit_price_minor: item.unit_price.minor(),
            quantity: item.quantity.get(),
        }
    }
}
