//! Whatever the domain's parsers accept survives the event store: a command carrying it is
//! appended to the real MongoDB-wire server, and the events read back (and the state folded from
//! them) are equal to what was written. Inputs are random and biased towards what breaks stores
//! (NUL and other controls, newlines, non-ASCII, numbers at the bounds); cases are few, so the
//! test takes seconds.

use std::sync::Arc;

use command_service::{
    application::{Command, CommandMeta, Commands, Executed, Target},
    store::{EventStore, MongoEventStore, StreamEnd},
};
use cqrsplus_domain::{
    Actor, Aggregate,
    customer::{Customer, CustomerCommand, CustomerProfile, ProfileInput},
    order::{
        CancelOrder, CancelReason, ItemInput, MAX_QUANTITY, MAX_UNIT_PRICE_MINOR, Order,
        OrderCommand, PlaceOrder,
    },
    post::{AddComment, CommentText, CreatePost, Post, PostCommand, PostMessage},
};
use proptest::{prelude::*, test_runner::TestRunner};
use tokio::{runtime::Runtime, sync::Notify};
use uuid::Uuid;

/// Text biased towards characters that break stores, and towards text the parsers accept.
fn nasty_text() -> impl Strategy<Value = String> {
    let nasty = prop_oneof![
        Just('\0'),
        Just('\r'),
        Just('\n'),
        Just('\t'),
        Just(' '),
        Just('\u{7f}'),
        Just('\u{2028}'),
        Just('\u{feff}'),
        Just('é'),
        Just('$'),
        Just('.'),
        Just('😀'),
        any::<char>(),
        proptest::char::range('a', 'z'),
    ];
    prop_oneof![
        proptest::collection::vec(nasty, 0..60).prop_map(|chars| chars.into_iter().collect()),
        "[a-zA-Z0-9 .$éü😀\n\t]{1,80}",
        any::<String>(),
    ]
}

fn email() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9.+$]{1,12}@[a-zé]{1,8}\\.[a-z]{2,4}", nasty_text(),]
}

fn money() -> impl Strategy<Value = i64> {
    prop_oneof![
        0..=MAX_UNIT_PRICE_MINOR,
        Just(MAX_UNIT_PRICE_MINOR),
        any::<i64>(),
    ]
}

fn quantity() -> impl Strategy<Value = i64> {
    prop_oneof![
        1..=i64::from(MAX_QUANTITY),
        Just(i64::from(MAX_QUANTITY)),
        any::<i64>(),
    ]
}

fn meta() -> CommandMeta {
    let command_id = Uuid::now_v7();
    CommandMeta {
        actor: Actor::new("prop").expect("actor"),
        command_id,
        client_command_id: false,
        correlation_id: command_id,
        expected_version: None,
    }
}

struct Store {
    runtime: Runtime,
    store: MongoEventStore,
    commands: Commands<MongoEventStore>,
}

impl Store {
    fn open() -> Self {
        let runtime = Runtime::new().expect("runtime");
        let store = runtime.block_on(async {
            let db = testkit::mongo::fresh_database().await;
            MongoEventStore::open(&db, 0).await.expect("open store")
        });
        let commands = Commands::new(store.clone(), Arc::new(Notify::new()), 0);
        Self {
            runtime,
            store,
            commands,
        }
    }

    /// Executes `command` and checks that its events read back from the store equal the ones
    /// appended, and that the state folded on a fresh load equals the one `expected` describes.
    fn round_trip<A: Aggregate>(
        &self,
        command: Command,
        check: impl FnOnce(&A) -> Result<(), TestCaseError>,
    ) -> Result<Executed, TestCaseError> {
        self.runtime.block_on(async {
            let executed = self
                .commands
                .execute(command, &meta())
                .await
                .map_err(|e| TestCaseError::fail(format!("command refused: {e}")))?;
            let read = self
                .store
                .read_stream(executed.aggregate_id, StreamEnd::Latest)
                .await
                .map_err(|e| TestCaseError::fail(format!("read: {e}")))?
                .ok_or_else(|| TestCaseError::fail("stream missing"))?;
            let written: Vec<_> = read
                .events
                .iter()
                .filter(|e| e.command_id == executed.command_id)
                .cloned()
                .collect();
            prop_assert_eq!(&written, &executed.events);
            let loaded = self
                .store
                .load::<A>(executed.aggregate_id)
                .await
                .map_err(|e| TestCaseError::fail(format!("load: {e}")))?;
            check(&loaded.state)?;
            Ok(executed)
        })
    }
}

#[test]
fn what_the_parsers_accept_round_trips_through_the_event_store() {
    let store = Store::open();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 32,
        ..ProptestConfig::default()
    });
    let strategy = (
        (nasty_text(), nasty_text(), nasty_text()),
        (nasty_text(), email(), proptest::option::of(nasty_text())),
        (nasty_text(), nasty_text()),
        (nasty_text(), nasty_text(), money(), quantity()),
    );
    let accepted = std::cell::Cell::new(0_u32);
    runner
        .run(
            &strategy,
            |((message, comment, reason), (name, email, phone), (segment, region), item)| {
                let (sku, item_name, price, quantity) = item;
                if let Ok(message) = PostMessage::parse(&message) {
                    accepted.set(accepted.get() + 1);
                    let expected = message.as_str().to_owned();
                    let create = PostCommand::Create(CreatePost { message });
                    let post =
                        store.round_trip::<Post>(Command::Post(Target::New, create), |post| {
                            prop_assert_eq!(post.message(), expected.as_str());
                            Ok(())
                        })?;
                    if let Ok(text) = CommentText::parse(&comment) {
                        let expected = text.as_str().to_owned();
                        let comment_id = Uuid::now_v7();
                        let add = PostCommand::AddComment(AddComment { comment_id, text });
                        store.round_trip::<Post>(
                            Command::Post(Target::Id(post.aggregate_id), add),
                            |post| {
                                let stored = post.comment(comment_id).map(|c| c.text());
                                prop_assert_eq!(stored, Some(expected.as_str()));
                                Ok(())
                            },
                        )?;
                    }
                }
                let profile = CustomerProfile::parse(&ProfileInput {
                    name: &name,
                    email: &email,
                    phone: phone.as_deref(),
                    segment: &segment,
                    region: &region,
                });
                let Ok(profile) = profile else {
                    return Ok(());
                };
                accepted.set(accepted.get() + 1);
                let email = profile.email.as_str().to_owned();
                let register = CustomerCommand::Register(profile);
                let customer = store.runtime.block_on(
                    store
                        .commands
                        .execute(Command::Customer(Target::New, register.clone()), &meta()),
                );
                // Another case may have drawn the same address: that is the uniqueness rule
                // working, not a round-trip failure.
                if customer.is_err() {
                    return Ok(());
                }
                let customer = customer.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let update = CustomerCommand::Update(match register {
                    CustomerCommand::Register(profile) | CustomerCommand::Update(profile) => {
                        profile
                    }
                });
                store.round_trip::<Customer>(
                    Command::Customer(Target::Id(customer.aggregate_id), update),
                    |customer| {
                        prop_assert_eq!(customer.email(), Some(email.as_str()));
                        Ok(())
                    },
                )?;
                let items = [ItemInput {
                    sku: &sku,
                    name: &item_name,
                    unit_price_minor: price,
                    quantity,
                }];
                let Ok(place) = PlaceOrder::parse(customer.aggregate_id, "EUR", &items) else {
                    return Ok(());
                };
                accepted.set(accepted.get() + 1);
                let total = place.total();
                let order = store.round_trip::<Order>(
                    Command::Order(Target::New, OrderCommand::Place(place)),
                    |order| {
                        prop_assert_eq!(order.total(), Some(total.clone()));
                        Ok(())
                    },
                )?;
                if let Ok(reason) = CancelReason::parse(&reason) {
                    let expected = reason.as_str().to_owned();
                    let cancel = OrderCommand::Cancel(CancelOrder { reason });
                    store.round_trip::<Order>(
                        Command::Order(Target::Id(order.aggregate_id), cancel),
                        |order| {
                            prop_assert_eq!(order.cancel_reason(), Some(expected.as_str()));
                            Ok(())
                        },
                    )?;
                }
                Ok(())
            },
        )
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        accepted.get() > 0,
        "the strategies must produce accepted input"
    );
}
