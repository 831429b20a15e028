//! Uses the crate the way the services do: from outside, with the `testing` feature, through the
//! public paths only.

use cqrsplus_domain::order::{ItemInput, Order, OrderCommand, OrderEvent, PlaceOrder};
use cqrsplus_domain::post::{CreatePost, Post, PostCommand, PostEvent, PostMessage};
use cqrsplus_domain::testing::{Scenario, assert_event_contract};
use cqrsplus_domain::{Aggregate, DomainEvent, EnvelopeMeta, EventEnvelope};
use time::macros::datetime;
use uuid::Uuid;

#[test]
fn a_service_can_reuse_the_scenario_helper() {
    let post = Scenario::<Post>::given(Vec::new())
        .as_actor("carol")
        .when(PostCommand::Create(CreatePost {
            message: PostMessage::parse(" from outside ").unwrap(),
        }))
        .then([PostEvent::PostCreated {
            author: "carol".to_owned(),
            message: "from outside".to_owned(),
        }]);
    assert_eq!(post.author(), "carol");
}

#[test]
fn a_store_can_wrap_and_unwrap_events() {
    let place = PlaceOrder::parse(
        Uuid::from_u128(7),
        "USD",
        &[ItemInput {
            sku: "pen",
            name: "Pen",
            unit_price_minor: 199,
            quantity: 3,
        }],
    )
    .unwrap();
    let events = Order::default()
        .handle(
            OrderCommand::Place(place),
            &cqrsplus_domain::CommandContext::new(
                cqrsplus_domain::Actor::new("dave").unwrap(),
                datetime!(2025-03-04 05:06 UTC),
            ),
        )
        .unwrap();
    assert_event_contract(&events);

    let meta = EnvelopeMeta {
        aggregate_type: Order::TYPE.to_owned(),
        aggregate_id: Uuid::from_u128(1),
        command_id: Uuid::from_u128(2),
        correlation_id: Uuid::from_u128(3),
        actor: "dave".to_owned(),
        occurred_at: datetime!(2025-03-04 05:06 UTC),
    };
    let envelopes: Vec<EventEnvelope> = events
        .iter()
        .zip(1..)
        .map(|(event, version)| {
            EventEnvelope::new(
                Uuid::from_u128(100 + version as u128),
                version,
                &meta,
                event,
            )
        })
        .collect();
    assert_eq!(envelopes[0].aggregate_type, "order");
    assert_eq!(envelopes[0].data["total_minor"], 597);
    let back = envelopes[0].decode::<OrderEvent>().unwrap();
    assert_eq!(back.event_type(), "OrderPlaced");
    assert_eq!(back, events[0]);
}
