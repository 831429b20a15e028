//! The order aggregate: a customer's purchase of priced lines, and its delivery status machine.
//!
//! Owns order commands, events, state and rules. It may read a [`crate::customer::Customer`]'s state
//! (through [`ensure_customer_may_order`]) but never changes it, and must not depend on posts.

mod command;
mod event;
mod state;
#[cfg(test)]
mod tests;

pub use command::{
    CancelOrder, CancelReason, ItemInput, ItemName, MAX_ITEM_NAME_CHARS, MAX_ITEMS,
    MAX_ORDER_TOTAL_MINOR, MAX_QUANTITY, MAX_REASON_CHARS, MAX_SKU_CHARS, MAX_UNIT_PRICE_MINOR,
    OrderCommand, OrderItem, OrderLine, OrderTotal, PlaceOrder, Quantity, Sku, UnitPrice,
};
pub use event::OrderEvent;
pub use state::{Order, OrderStatus, ensure_customer_may_order};
