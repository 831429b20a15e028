//! The application layer on the in-memory store: the races and rules `execute` settles, with no
//! server. Concurrency here is real interleaving (every store operation yields), on one thread.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use cqrsplus_domain::{
    DomainError, EnvelopeMeta,
    customer::{CustomerCommand, CustomerProfile, ProfileInput},
    order::{ItemInput, OrderCommand, PlaceOrder},
    post::{CreatePost, PostCommand, PostEvent, PostMessage},
};
use futures::future::join_all;

use super::*;
use crate::store::{InMemoryEventStore, StreamEnd};

fn commands(store: &InMemoryEventStore) -> Commands<InMemoryEventStore> {
    Commands::new(store.clone(), Arc::new(Notify::new()), 100).with_conflict_retry(ConflictRetry {
        attempts: 60,
        base_backoff: Duration::from_micros(50),
        max_backoff: Duration::from_millis(2),
    })
}

fn meta(actor: &str) -> CommandMeta {
    let command_id = Uuid::now_v7();
    CommandMeta {
        actor: Actor::new(actor).expect("actor"),
        command_id,
        client_command_id: false,
        correlation_id: command_id,
        expected_version: None,
    }
}

fn with_command_id(mut meta: CommandMeta, command_id: Uuid) -> CommandMeta {
    meta.command_id = command_id;
    meta.client_command_id = true;
    meta
}

fn expecting(mut meta: CommandMeta, version: u64) -> CommandMeta {
    meta.expected_version = Some(version);
    meta
}

async fn create_post(commands: &Commands<InMemoryEventStore>, author: &str) -> Uuid {
    let create = PostCommand::Create(CreatePost {
        message: PostMessage::parse("hello").expect("message"),
    });
    commands
        .execute(Command::Post(Target::New, create), &meta(author))
        .await
        .expect("create post")
        .aggregate_id
}

fn like(post: Uuid) -> Command {
    Command::Post(Target::Id(post), PostCommand::Like)
}

async fn likes(store: &InMemoryEventStore, post: Uuid) -> (u64, usize) {
    let loaded = store.load::<Post>(post).await.expect("load");
    (loaded.version, loaded.state.like_count())
}

/// A commit of `event` on `A` `id` at the version after `after`, as another instance would make.
fn rival_commit<A: Aggregate>(id: Uuid, after: u64, actor: &str, event: &A::Event) -> NewCommit {
    let command_id = Uuid::now_v7();
    let meta = EnvelopeMeta {
        aggregate_type: A::TYPE.to_owned(),
        aggregate_id: id,
        command_id,
        correlation_id: command_id,
        actor: actor.to_owned(),
        occurred_at: now_millis(),
    };
    NewCommit {
        stream_id: id,
        aggregate_type: A::TYPE,
        expected_version: after,
        after_position: 0,
        command_id,
        events: vec![EventEnvelope::new(Uuid::now_v7(), after + 1, &meta, event)],
        committed_at: meta.occurred_at,
    }
}

/// Before each of the next `times` appends to `post`, a rival likes it first.
fn rivals_like_first(store: &InMemoryEventStore, post: Uuid, times: u32) -> Arc<AtomicU32> {
    let used = Arc::new(AtomicU32::new(0));
    let counter = used.clone();
    store.set_rival(Some(move |commit: &NewCommit| {
        if commit.stream_id != post || counter.load(Ordering::SeqCst) >= times {
            return None;
        }
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let user = format!("rival-{n}");
        Some(rival_commit::<Post>(
            post,
            commit.expected_version,
            &user,
            &PostEvent::PostLiked { user: user.clone() },
        ))
    }));
    used
}

fn details(name: &str, email: &str) -> CustomerProfile {
    CustomerProfile::parse(&ProfileInput {
        name,
        email,
        phone: None,
        segment: "retail",
        region: "north",
    })
    .expect("profile")
}

fn register(target: Target, name: &str, email: &str) -> Command {
    Command::Customer(target, CustomerCommand::Register(details(name, email)))
}

#[tokio::test]
async fn a_stale_cached_aggregate_is_reloaded_and_the_command_decided_again() {
    let store = InMemoryEventStore::new();
    let first = commands(&store);
    let second = commands(&store);
    let post = create_post(&first, "alice").await;

    // `first` caches the post with bob's like; `second` removes that like behind its back.
    first.execute(like(post), &meta("bob")).await.expect("like");
    let unlike = Command::Post(Target::Id(post), PostCommand::Unlike);
    second.execute(unlike, &meta("bob")).await.expect("unlike");

    // On the cached state bob has liked already (a refusal); on the fresh one he has not.
    let again = first.execute(like(post), &meta("bob")).await;
    assert_eq!(again.expect("like again").version, 4);
    // On the cached state version 4 is free (a conflict); the fresh load knows it is not.
    let carol = second.execute(like(post), &meta("carol")).await;
    assert_eq!(carol.expect("like by carol").version, 5);
    assert_eq!(likes(&store, post).await, (5, 2));
}

#[tokio::test]
async fn a_command_without_expected_version_is_decided_again_after_losing_a_race() {
    let store = InMemoryEventStore::new();
    let commands = commands(&store);
    let post = create_post(&commands, "alice").await;
    let rivals = rivals_like_first(&store, post, 3);

    let liked = commands
        .execute(like(post), &meta("bob"))
        .await
        .expect("like");
    assert_eq!(rivals.load(Ordering::SeqCst), 3, "three races lost first");
    assert_eq!(
        liked.version, 5,
        "decided on the state after the three rivals"
    );
    assert_eq!(likes(&store, post).await, (5, 4));
}

#[tokio::test]
async fn a_command_naming_its_expected_version_is_refused_when_it_loses_a_race() {
    let store = InMemoryEventStore::new();
    let commands = commands(&store);
    let post = create_post(&commands, "alice").await;
    rivals_like_first(&store, post, 1);

    let refused = commands
        .execute(like(post), &expecting(meta("bob"), 1))
        .await;
    match refused {
        Err(ServiceError::Store(StoreError::Conflict {
            current_version, ..
        })) => assert_eq!(current_version, 2),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // And an expected version that is already stale is refused without an append.
    let attempts = store.append_attempts();
    let stale = commands
        .execute(like(post), &expecting(meta("carol"), 1))
        .await;
    assert!(
        matches!(
            stale,
            Err(ServiceError::VersionMismatch {
                expected: 1,
                current: 2
            })
        ),
        "{stale:?}"
    );
    assert_eq!(store.append_attempts(), attempts);
}

#[tokio::test]
async fn conflict_retries_are_bounded() {
    let store = InMemoryEventStore::new();
    let commands = commands(&store).with_conflict_retry(ConflictRetry {
        attempts: 4,
        base_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    });
    let post = create_post(&commands, "alice").await;
    let rivals = rivals_like_first(&store, post, u32::MAX);

    let outcome = commands.execute(like(post), &meta("bob")).await;
    assert!(
        matches!(
            outcome,
            Err(ServiceError::Store(StoreError::Conflict { .. }))
        ),
        "{outcome:?}"
    );
    // The first decision was on the cached post (a stale cache is not a lost race), then four.
    assert_eq!(rivals.load(Ordering::SeqCst), 5, "one decision per attempt");
}

#[tokio::test]
async fn many_concurrent_likes_without_expected_version_all_land() {
    let store = InMemoryEventStore::new();
    let post = create_post(&commands(&store), "alice").await;
    // Two instances, each with its own cache, as behind a load balancer.
    let instances = [commands(&store), commands(&store)];
    let calls = (0..30).map(|i| {
        let instance = instances[i % 2].clone();
        async move {
            instance
                .execute(like(post), &meta(&format!("user-{i}")))
                .await
        }
    });
    let results = join_all(calls).await;
    let mut versions: Vec<u64> = results
        .into_iter()
        .map(|r| r.expect("every like lands").version)
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (2..32).collect::<Vec<_>>());
    assert_eq!(likes(&store, post).await, (31, 30));
}

#[tokio::test]
async fn concurrent_copies_of_one_command_all_get_the_first_result() {
    let store = InMemoryEventStore::new();
    let instances = [commands(&store), commands(&store)];
    let post = create_post(&instances[0], "alice").await;
    // Others like the post meanwhile, so copies meet conflicts as well as each other.
    let command_id = Uuid::now_v7();
    let copies = (0..10).map(|i| {
        let instance = instances[i % 2].clone();
        async move {
            let copy = with_command_id(meta("bob"), command_id);
            instance.execute(like(post), &copy).await
        }
    });
    let others = (0..5).map(|i| {
        let instance = instances[i % 2].clone();
        async move {
            instance
                .execute(like(post), &meta(&format!("other-{i}")))
                .await
        }
    });
    let (copies, others) = tokio::join!(join_all(copies), join_all(others));
    for other in others {
        other.expect("other likes land");
    }
    let copies: Vec<Executed> = copies
        .into_iter()
        .map(|r| r.expect("every copy gets the first result"))
        .collect();
    let first = copies
        .iter()
        .find(|e| !e.already_applied)
        .expect("one copy applied it");
    assert_eq!(copies.iter().filter(|e| !e.already_applied).count(), 1);
    for copy in &copies {
        assert_eq!(
            (copy.aggregate_id, copy.version, &copy.events),
            (first.aggregate_id, first.version, &first.events)
        );
    }
    assert_eq!(likes(&store, post).await.1, 6, "bob's like counted once");
}

#[tokio::test]
async fn a_copy_applied_between_the_lookup_and_the_decision_answers_with_its_result() {
    let store = InMemoryEventStore::new();
    // No cache: the decision is made on a load, which sees the copy.
    let commands = Commands::new(store.clone(), Arc::new(Notify::new()), 0);
    let post = create_post(&commands, "alice").await;
    let command_id = Uuid::now_v7();
    // Right after this command's id is looked up (and not found), a copy of it lands: the
    // decision then sees bob's like and refuses ("already liked"), unless the refusal is
    // recognised as the copy's doing.
    let once = std::sync::atomic::AtomicBool::new(false);
    store.set_copy_after_lookup(Some(move |looked_up: Uuid| {
        (looked_up == command_id && !once.swap(true, Ordering::SeqCst)).then(|| {
            let mut copy =
                rival_commit::<Post>(post, 1, "bob", &PostEvent::PostLiked { user: "bob".into() });
            copy.command_id = command_id;
            for event in &mut copy.events {
                event.command_id = command_id;
            }
            copy
        })
    }));
    let liked = commands
        .execute(like(post), &with_command_id(meta("bob"), command_id))
        .await
        .expect("the copy's result, not a refusal");
    assert!(liked.already_applied);
    assert_eq!(liked.version, 2);
    assert_eq!(likes(&store, post).await, (2, 1));
}

#[tokio::test]
async fn concurrent_copies_of_a_create_make_one_aggregate() {
    let store = InMemoryEventStore::new();
    let instances = [commands(&store), commands(&store)];
    let command_id = Uuid::now_v7();
    let copies = (0..10).map(|i| {
        let instance = instances[i % 2].clone();
        async move {
            let create = PostCommand::Create(CreatePost {
                message: PostMessage::parse("once").expect("message"),
            });
            let copy = with_command_id(meta("alice"), command_id);
            instance
                .execute(Command::Post(Target::New, create), &copy)
                .await
        }
    });
    let copies: Vec<Executed> = join_all(copies)
        .await
        .into_iter()
        .map(|r| r.expect("every copy gets the first result"))
        .collect();
    assert!(
        copies
            .iter()
            .all(|c| c.aggregate_id == copies[0].aggregate_id)
    );
    assert_eq!(copies.iter().filter(|c| !c.already_applied).count(), 1);
    assert_eq!(store.commits().len(), 1);
}

#[tokio::test]
async fn emails_are_reserved_for_one_customer_and_released_on_change() {
    let store = InMemoryEventStore::new();
    let commands = commands(&store);
    let ann = commands
        .execute(
            register(Target::New, "Ann", "Ann@Example.com"),
            &meta("staff"),
        )
        .await
        .expect("register ann")
        .aggregate_id;
    assert_eq!(store.reservations().get("ann@example.com"), Some(&ann));

    let taken = commands
        .execute(
            register(Target::New, "Bob", "ann@example.com"),
            &meta("staff"),
        )
        .await;
    assert!(
        matches!(
            taken,
            Err(ServiceError::Store(StoreError::EmailTaken { .. }))
        ),
        "{taken:?}"
    );

    let update = CustomerCommand::Update(details("Ann", "ann@example.org"));
    commands
        .execute(Command::Customer(Target::Id(ann), update), &meta("staff"))
        .await
        .expect("change ann's email");
    let reservations = store.reservations();
    assert_eq!(reservations.get("ann@example.org"), Some(&ann));
    assert!(
        !reservations.contains_key("ann@example.com"),
        "old one released"
    );

    let bob = commands
        .execute(
            register(Target::New, "Bob", "ann@example.com"),
            &meta("staff"),
        )
        .await
        .expect("the released email is free again")
        .aggregate_id;
    assert_eq!(store.reservations().get("ann@example.com"), Some(&bob));
}

#[tokio::test]
async fn a_reservation_nobody_uses_is_taken_over_and_a_failed_commit_gives_its_back() {
    let store = InMemoryEventStore::new();
    let commands = commands(&store);
    // Left behind by a crash between reserving and committing.
    let ghost = Uuid::now_v7();
    store
        .reserve_email("left@example.com", ghost)
        .await
        .expect("reserve");
    let cid = commands
        .execute(
            register(Target::New, "Cid", "left@example.com"),
            &meta("staff"),
        )
        .await
        .expect("a reservation its holder does not use is taken over")
        .aggregate_id;
    assert_eq!(store.reservations().get("left@example.com"), Some(&cid));

    // A registration refused after its reservation (the id is taken) gives the email back.
    let refused = commands
        .execute(
            register(Target::Id(cid), "Dee", "dee@example.com"),
            &meta("staff"),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::Domain(DomainError::AlreadyExists(_)))
        ),
        "{refused:?}"
    );
    assert!(!store.reservations().contains_key("dee@example.com"));
}

#[tokio::test]
async fn a_commit_that_loses_its_race_releases_the_email_it_reserved() {
    let store = InMemoryEventStore::new();
    let commands = commands(&store).with_conflict_retry(ConflictRetry {
        attempts: 1,
        base_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    });
    let ann = commands
        .execute(
            register(Target::New, "Ann", "ann@example.com"),
            &meta("staff"),
        )
        .await
        .expect("register")
        .aggregate_id;
    // Another instance appends to ann's stream just before the update's commit.
    store.set_rival(Some(move |commit: &NewCommit| {
        (commit.expected_version == 1).then(|| {
            rival_commit::<Customer>(
                ann,
                1,
                "staff",
                &cqrsplus_domain::customer::CustomerEvent::CustomerUpdated {
                    name: "Ann".into(),
                    email: "ann@example.com".into(),
                    phone: None,
                    segment: "retail".into(),
                    region: "south".into(),
                },
            )
        })
    }));
    let update = CustomerCommand::Update(details("Ann", "ann@example.net"));
    let lost = commands
        .execute(
            Command::Customer(Target::Id(ann), update),
            &expecting(meta("staff"), 1),
        )
        .await;
    assert!(
        matches!(lost, Err(ServiceError::Store(StoreError::Conflict { .. }))),
        "{lost:?}"
    );
    let reservations = store.reservations();
    assert!(!reservations.contains_key("ann@example.net"), "released");
    assert_eq!(reservations.get("ann@example.com"), Some(&ann), "kept");
}

#[tokio::test]
async fn an_order_needs_a_registered_customer() {
    let store = InMemoryEventStore::new();
    let commands = commands(&store);
    let place = |customer_id| {
        Command::Order(
            Target::New,
            OrderCommand::Place(
                PlaceOrder::parse(
                    customer_id,
                    "EUR",
                    &[ItemInput {
                        sku: "sku-1",
                        name: "thing",
                        unit_price_minor: 250,
                        quantity: 2,
                    }],
                )
                .expect("order"),
            ),
        )
    };
    let nobody = commands
        .execute(place(Uuid::now_v7()), &meta("staff"))
        .await;
    assert!(
        matches!(
            nobody,
            Err(ServiceError::Domain(DomainError::FailedPrecondition(_)))
        ),
        "{nobody:?}"
    );
    // A post's id is no customer either.
    let post = create_post(&commands, "alice").await;
    assert!(commands.execute(place(post), &meta("staff")).await.is_err());

    let ann = commands
        .execute(
            register(Target::New, "Ann", "ann@example.com"),
            &meta("staff"),
        )
        .await
        .expect("register")
        .aggregate_id;
    let order = commands
        .execute(place(ann), &meta("staff"))
        .await
        .expect("order");
    assert_eq!(order.version, 1);
}

#[tokio::test]
async fn an_outage_is_answered_as_unavailable_and_retrying_the_command_id_is_safe() {
    let store = InMemoryEventStore::new();
    let commands = commands(&store);
    let post = create_post(&commands, "alice").await;
    let command_id = Uuid::now_v7();
    let copy = with_command_id(meta("bob"), command_id);

    store.set_unavailable(true);
    let down = commands.execute(like(post), &copy).await;
    assert!(
        matches!(down, Err(ServiceError::Store(StoreError::Unavailable(_)))),
        "{down:?}"
    );
    assert!(commands.outage.is_down());

    store.set_unavailable(false);
    let first = commands.execute(like(post), &copy).await.expect("like");
    assert!(!commands.outage.is_down());
    let again = commands.execute(like(post), &copy).await.expect("retry");
    assert!(again.already_applied);
    assert_eq!(again.version, first.version);
    let read = store
        .read_stream(post, StreamEnd::Latest)
        .await
        .expect("read")
        .expect("stream");
    assert_eq!(read.current_version, 2);
}
