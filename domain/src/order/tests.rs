//! Given/when/then tests of every order rule, plus its event contract and snapshot round trip.

use uuid::Uuid;

use super::*;
use crate::customer::{Customer, CustomerEvent};
use crate::testing::{Scenario, assert_event_contract, assert_snapshot_round_trip, fold};
use crate::{Aggregate, Currency, DomainError, Money};

const CUSTOMER: Uuid = Uuid::from_u128(0xcafe);

fn eur() -> Currency {
    Currency::new("EUR").unwrap()
}

fn line(sku: &str, unit_price_minor: i64, quantity: u32) -> OrderLine {
    OrderLine {
        sku: sku.to_owned(),
        name: format!("{sku} item"),
        unit_price_minor,
        quantity,
    }
}

fn place(items: Vec<OrderLine>) -> OrderCommand {
    OrderCommand::Place(PlaceOrder {
        customer_id: CUSTOMER,
        currency: eur(),
        items,
    })
}

fn placed() -> OrderEvent {
    OrderEvent::OrderPlaced {
        customer_id: CUSTOMER,
        currency: eur(),
        items: vec![line("tea", 450, 2), line("pot", 2_500, 1)],
        total_minor: 3_400,
    }
}

fn cancel(reason: &str) -> OrderCommand {
    OrderCommand::Cancel(CancelOrder {
        reason: reason.to_owned(),
    })
}

fn cancelled() -> OrderEvent {
    OrderEvent::OrderCancelled {
        reason: "changed my mind".to_owned(),
    }
}

fn invalid(field: &'static str, message: &str) -> DomainError {
    DomainError::InvalidArgument {
        field,
        message: message.to_owned(),
    }
}

fn refused(message: &str) -> DomainError {
    DomainError::FailedPrecondition(message.to_owned())
}

// --- place ---

#[test]
fn place_computes_the_total_and_trims_lines() {
    let order = Scenario::<Order>::given_nothing()
        .when(place(vec![
            OrderLine {
                sku: " tea ".to_owned(),
                name: " tea item ".to_owned(),
                unit_price_minor: 450,
                quantity: 2,
            },
            line("pot", 2_500, 1),
        ]))
        .then([placed()]);
    assert!(order.exists());
    assert_eq!(order.status(), Some(OrderStatus::Placed));
    assert_eq!(order.total(), Some(Money::new(3_400, eur())));
    assert_eq!(order.customer_id(), Some(CUSTOMER));
    assert_eq!(order.items().len(), 2);
}

#[test]
fn free_items_are_allowed() {
    Scenario::<Order>::given_nothing()
        .when(place(vec![line("sample", 0, 1)]))
        .then([OrderEvent::OrderPlaced {
            customer_id: CUSTOMER,
            currency: eur(),
            items: vec![line("sample", 0, 1)],
            total_minor: 0,
        }]);
}

#[test]
fn place_on_an_existing_order_is_refused() {
    Scenario::<Order>::given([placed()])
        .when(place(vec![line("tea", 450, 1)]))
        .then_error(DomainError::AlreadyExists("order".to_owned()));
}

#[test]
fn an_order_needs_at_least_one_item() {
    Scenario::<Order>::given_nothing()
        .when(place(Vec::new()))
        .then_error(invalid("items", "must have at least one item"));
}

#[test]
fn an_order_has_at_most_100_items() {
    let items = |count: usize| (0..count).map(|i| line(&format!("sku{i}"), 1, 1)).collect();
    assert!(
        Scenario::<Order>::given_nothing()
            .when(place(items(MAX_ITEMS)))
            .result()
            .is_ok()
    );
    Scenario::<Order>::given_nothing()
        .when(place(items(MAX_ITEMS + 1)))
        .then_error(invalid("items", "must have at most 100 items"));
}

#[test]
fn quantity_zero_is_refused() {
    Scenario::<Order>::given_nothing()
        .when(place(vec![line("tea", 450, 1), line("pot", 2_500, 0)]))
        .then_error(invalid("quantity", "item 2: must be at least 1"));
}

#[test]
fn quantity_is_bounded() {
    Scenario::<Order>::given_nothing()
        .when(place(vec![line("tea", 1, MAX_QUANTITY + 1)]))
        .then_error(invalid("quantity", "item 1: must be at most 10000"));
    assert!(
        Scenario::<Order>::given_nothing()
            .when(place(vec![line("tea", 1, MAX_QUANTITY)]))
            .result()
            .is_ok()
    );
}

#[test]
fn negative_price_is_refused() {
    Scenario::<Order>::given_nothing()
        .when(place(vec![line("tea", -1, 1)]))
        .then_error(invalid("unit_price_minor", "item 1: must not be negative"));
}

#[test]
fn sku_must_not_be_blank_or_too_long() {
    Scenario::<Order>::given_nothing()
        .when(place(vec![line(" ", 1, 1)]))
        .then_error(invalid("sku", "item 1: must not be blank"));
    Scenario::<Order>::given_nothing()
        .when(place(vec![line(&"s".repeat(MAX_SKU_CHARS + 1), 1, 1)]))
        .then_error(invalid("sku", "item 1: must be at most 64 characters"));
}

#[test]
fn item_name_must_not_be_blank_or_too_long() {
    for (name, message) in [
        ("", "item 1: must not be blank"),
        (
            &"n".repeat(MAX_ITEM_NAME_CHARS + 1),
            "item 1: must be at most 200 characters",
        ),
    ] {
        Scenario::<Order>::given_nothing()
            .when(place(vec![OrderLine {
                name: name.to_owned(),
                ..line("tea", 1, 1)
            }]))
            .then_error(invalid("name", message));
    }
}

#[test]
fn line_total_overflow_is_refused() {
    Scenario::<Order>::given_nothing()
        .when(place(vec![line("gold", i64::MAX / 2 + 1, 2)]))
        .then_error(invalid("items", "order total is too large"));
}

#[test]
fn order_total_overflow_is_refused() {
    Scenario::<Order>::given_nothing()
        .when(place(vec![line("gold", i64::MAX, 1), line("tea", 1, 1)]))
        .then_error(invalid("items", "order total is too large"));
}

// --- status machine ---

#[test]
fn placed_order_ships() {
    let order = Scenario::<Order>::given([placed()])
        .when(OrderCommand::Ship)
        .then([OrderEvent::OrderShipped]);
    assert_eq!(order.status(), Some(OrderStatus::Shipped));
}

#[test]
fn shipped_order_is_delivered() {
    let order = Scenario::<Order>::given([placed(), OrderEvent::OrderShipped])
        .when(OrderCommand::Deliver)
        .then([OrderEvent::OrderDelivered]);
    assert_eq!(order.status(), Some(OrderStatus::Delivered));
}

#[test]
fn placed_order_is_cancelled_with_a_trimmed_reason() {
    let order = Scenario::<Order>::given([placed()])
        .when(cancel("  changed my mind "))
        .then([cancelled()]);
    assert_eq!(order.status(), Some(OrderStatus::Cancelled));
    assert_eq!(order.cancel_reason(), Some("changed my mind"));
}

#[test]
fn cancel_reason_must_not_be_blank_or_too_long() {
    Scenario::<Order>::given([placed()])
        .when(cancel("  "))
        .then_error(invalid("reason", "must not be blank"));
    Scenario::<Order>::given([placed()])
        .when(cancel(&"r".repeat(MAX_REASON_CHARS + 1)))
        .then_error(invalid("reason", "must be at most 500 characters"));
}

#[test]
fn placed_order_cannot_be_delivered() {
    Scenario::<Order>::given([placed()])
        .when(OrderCommand::Deliver)
        .then_error(refused("cannot deliver an order that is placed"));
}

#[test]
fn shipped_order_cannot_ship_again_or_be_cancelled() {
    let shipped = || Scenario::<Order>::given([placed(), OrderEvent::OrderShipped]);
    shipped()
        .when(OrderCommand::Ship)
        .then_error(refused("cannot ship an order that is shipped"));
    shipped()
        .when(cancel("too late"))
        .then_error(refused("cannot cancel an order that is shipped"));
}

#[test]
fn delivered_order_is_final() {
    let delivered = || {
        Scenario::<Order>::given([
            placed(),
            OrderEvent::OrderShipped,
            OrderEvent::OrderDelivered,
        ])
    };
    delivered()
        .when(OrderCommand::Ship)
        .then_error(refused("cannot ship an order that is delivered"));
    delivered()
        .when(OrderCommand::Deliver)
        .then_error(refused("cannot deliver an order that is delivered"));
    delivered()
        .when(cancel("too late"))
        .then_error(refused("cannot cancel an order that is delivered"));
}

#[test]
fn cancelled_order_is_final() {
    let cancelled = || Scenario::<Order>::given([placed(), cancelled()]);
    cancelled()
        .when(OrderCommand::Ship)
        .then_error(refused("cannot ship an order that is cancelled"));
    cancelled()
        .when(OrderCommand::Deliver)
        .then_error(refused("cannot deliver an order that is cancelled"));
    cancelled()
        .when(cancel("again"))
        .then_error(refused("cannot cancel an order that is cancelled"));
}

#[test]
fn commands_on_a_missing_order_are_not_found() {
    for command in [OrderCommand::Ship, OrderCommand::Deliver, cancel("why")] {
        Scenario::<Order>::given_nothing()
            .when(command)
            .then_error(DomainError::NotFound("order".to_owned()));
    }
}

#[test]
fn status_serializes_lowercase() {
    assert_eq!(
        serde_json::to_value(OrderStatus::Cancelled).unwrap(),
        serde_json::json!("cancelled")
    );
    assert_eq!(OrderStatus::Shipped.to_string(), "shipped");
}

// --- the customer rule ---

#[test]
fn unknown_customer_may_not_order() {
    assert_eq!(
        ensure_customer_may_order(&Customer::default()),
        Err(DomainError::FailedPrecondition(
            "the ordering customer does not exist".to_owned()
        ))
    );
}

#[test]
fn registered_customer_may_order() {
    let customer: Customer = fold(&[CustomerEvent::CustomerRegistered {
        name: "Ada".to_owned(),
        email: "ada@example.com".to_owned(),
        phone: None,
        segment: "smb".to_owned(),
        region: "emea".to_owned(),
    }]);
    assert_eq!(ensure_customer_may_order(&customer), Ok(()));
}

// --- events and snapshots ---

#[test]
fn every_event_honours_the_envelope_contract() {
    assert_event_contract(&[
        placed(),
        OrderEvent::OrderShipped,
        OrderEvent::OrderDelivered,
        cancelled(),
    ]);
}

#[test]
fn placed_data_has_the_read_side_shape() {
    use crate::DomainEvent;
    assert_eq!(
        placed().to_data(),
        serde_json::json!({
            "customer_id": "00000000-0000-0000-0000-00000000cafe",
            "currency": "EUR",
            "items": [
                {"sku": "tea", "name": "tea item", "unit_price_minor": 450, "quantity": 2},
                {"sku": "pot", "name": "pot item", "unit_price_minor": 2500, "quantity": 1},
            ],
            "total_minor": 3400,
        })
    );
    assert_eq!(OrderEvent::OrderShipped.to_data(), serde_json::json!({}));
}

#[test]
fn snapshot_round_trip_equals_replaying_every_event() {
    let delivered = assert_snapshot_round_trip::<Order>(&[
        placed(),
        OrderEvent::OrderShipped,
        OrderEvent::OrderDelivered,
    ]);
    assert_eq!(delivered.status(), Some(OrderStatus::Delivered));
    assert_eq!(delivered.total(), Some(Money::new(3_400, eur())));

    let cancelled = assert_snapshot_round_trip::<Order>(&[placed(), cancelled()]);
    assert_eq!(cancelled.status(), Some(OrderStatus::Cancelled));
    assert_eq!(cancelled.cancel_reason(), Some("changed my mind"));
}
