//! Given/when/then tests of every order rule, plus its event contract and snapshot round trip.

use uuid::Uuid;

use super::*;
use crate::customer::{Customer, CustomerEvent};
use crate::testing::{Scenario, assert_event_contract, assert_snapshot_round_trip, fold};
use crate::{Aggregate, Currency, DomainError, FieldError, InvalidInput, Money};

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

/// Parses lines as a request would send them.
fn parse_place(items: &[OrderLine]) -> Result<PlaceOrder, InvalidInput> {
    let inputs: Vec<ItemInput<'_>> = items
        .iter()
        .map(|line| ItemInput {
            sku: &line.sku,
            name: &line.name,
            unit_price_minor: line.unit_price_minor,
            quantity: i64::from(line.quantity),
        })
        .collect();
    PlaceOrder::parse(CUSTOMER, "EUR", &inputs)
}

fn place(items: Vec<OrderLine>) -> OrderCommand {
    OrderCommand::Place(parse_place(&items).expect("valid lines"))
}

/// The lines are refused with exactly this one field error.
fn refused_input(items: &[OrderLine], field: &str, reason: &str) {
    let error = parse_place(items).expect_err("refused");
    assert_eq!(error.fields(), [FieldError::new(field, reason)], "{error}");
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
        reason: CancelReason::parse(reason).expect("a valid reason"),
    })
}

fn cancelled() -> OrderEvent {
    OrderEvent::OrderCancelled {
        reason: "changed my mind".to_owned(),
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
    refused_input(&[], "items", "must have at least one item");
}

#[test]
fn an_order_has_at_most_100_items() {
    let items = |count: usize| -> Vec<OrderLine> {
        (0..count).map(|i| line(&format!("sku{i}"), 1, 1)).collect()
    };
    assert!(
        Scenario::<Order>::given_nothing()
            .when(place(items(MAX_ITEMS)))
            .result()
            .is_ok()
    );
    refused_input(
        &items(MAX_ITEMS + 1),
        "items",
        "must have at most 100 items",
    );
}

#[test]
fn quantity_zero_is_refused() {
    refused_input(
        &[line("tea", 450, 1), line("pot", 2_500, 0)],
        "items[1].quantity",
        "must be at least 1",
    );
}

#[test]
fn quantity_is_bounded() {
    refused_input(
        &[line("tea", 1, MAX_QUANTITY + 1)],
        "items[0].quantity",
        "must be at most 10000",
    );
    assert_eq!(Quantity::parse(-1).unwrap_err().field, "quantity");
    assert_eq!(Quantity::parse(i64::MAX).unwrap_err().field, "quantity");
    assert!(
        Scenario::<Order>::given_nothing()
            .when(place(vec![line("tea", 1, MAX_QUANTITY)]))
            .result()
            .is_ok()
    );
}

#[test]
fn negative_price_is_refused() {
    refused_input(
        &[line("tea", -1, 1)],
        "items[0].unit_price_minor",
        "must be at least 0",
    );
}

#[test]
fn sku_must_not_be_blank_or_too_long() {
    refused_input(&[line(" ", 1, 1)], "items[0].sku", "must not be blank");
    refused_input(
        &[line(&"s".repeat(MAX_SKU_CHARS + 1), 1, 1)],
        "items[0].sku",
        "must be at most 64 characters",
    );
}

#[test]
fn item_name_must_not_be_blank_or_too_long() {
    for (name, reason) in [
        ("", "must not be blank"),
        (
            &"n".repeat(MAX_ITEM_NAME_CHARS + 1),
            "must be at most 200 characters",
        ),
    ] {
        let item = OrderLine {
            name: name.to_owned(),
            ..line("tea", 1, 1)
        };
        refused_input(&[item], "items[0].name", reason);
    }
}

#[test]
fn line_total_overflow_is_refused() {
    // A unit price past its bound is refused before any multiplication could overflow.
    refused_input(
        &[line("gold", i64::MAX / 2 + 1, 2)],
        "items[0].unit_price_minor",
        "must be at most 100000000000",
    );
    // The largest line is allowed, and its total is exactly the order bound.
    let largest = line("gold", MAX_UNIT_PRICE_MINOR, MAX_QUANTITY);
    assert_eq!(
        parse_place(&[largest]).map(|place| place.total().amount_minor),
        Ok(MAX_ORDER_TOTAL_MINOR)
    );
}

#[test]
fn order_total_overflow_is_refused() {
    let largest = line("gold", MAX_UNIT_PRICE_MINOR, MAX_QUANTITY);
    refused_input(
        &[largest, line("tea", 1, 1)],
        "items",
        "the order total must be at most 1000000000000000 minor units",
    );
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
    assert_eq!(
        CancelReason::parse("  "),
        Err(FieldError::new("reason", "must not be blank"))
    );
    assert_eq!(
        CancelReason::parse(&"r".repeat(MAX_REASON_CHARS + 1)),
        Err(FieldError::new("reason", "must be at most 500 characters"))
    );
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

#[test]
fn every_line_error_is_reported_with_its_index_and_nul_is_refused() {
    let error = parse_place(&[
        line("tea\0", 1, 1),
        OrderLine {
            name: "pot\u{0}".to_owned(),
            ..line("pot", -5, 0)
        },
    ])
    .unwrap_err();
    for field in [
        "items[0].sku",
        "items[1].name",
        "items[1].unit_price_minor",
        "items[1].quantity",
    ] {
        assert!(error.names(field), "{field} not reported: {error}");
    }
    let bad_currency = PlaceOrder::parse(CUSTOMER, "eu\0", &[]).unwrap_err();
    assert!(bad_currency.names("currency") && bad_currency.names("items"));
}
