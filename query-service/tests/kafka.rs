//! rdkafka against the real broker: produce, consume in a consumer group, commit offsets, and
//! resume from them; per-key order across partitions. This is what the relay and the projector
//! rely on.

use std::time::Duration;

use rdkafka::{
    ClientConfig, Message,
    consumer::{CommitMode, Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};

fn producer() -> FutureProducer {
    testkit::kafka::client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer")
}

fn consumer(group: &str) -> StreamConsumer {
    let mut config: ClientConfig = testkit::kafka::client_config();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000");
    config.create().expect("consumer")
}

async fn produce(producer: &FutureProducer, topic: &str, key: &str, payload: &str) {
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
}

async fn next_payload(
    consumer: &StreamConsumer,
) -> (String, String, rdkafka::message::OwnedMessage) {
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a message within 30 s")
        .expect("consume")
        .detach();
    let key = String::from_utf8(message.key().expect("key").to_vec()).expect("utf8 key");
    let payload = String::from_utf8(message.payload().expect("payload").to_vec()).expect("utf8");
    (key, payload, message)
}

#[tokio::test]
async fn a_group_resumes_from_its_committed_offset() {
    let topic = testkit::kafka::fresh_topic(1).await;
    let group = testkit::unique_name("g");
    let producer = producer();
    for i in 1..=10 {
        produce(&producer, &topic, "k", &format!("m{i}")).await;
    }

    {
        let first = consumer(&group);
        first.subscribe(&[&topic]).expect("subscribe");
        for i in 1..=6 {
            let (_, payload, _) = next_payload(&first).await;
            assert_eq!(payload, format!("m{i}"));
        }
        // Commit only what was "processed": m1..m4. m5 and m6 were read but not committed,
        // so they must be delivered again (at-least-once).
        let mut offsets = rdkafka::TopicPartitionList::new();
        offsets
            .add_partition_offset(&topic, 0, rdkafka::Offset::Offset(4))
            .expect("offset");
        first.commit(&offsets, CommitMode::Sync).expect("commit");
        first.unsubscribe();
    }

    let second = consumer(&group);
    second.subscribe(&[&topic]).expect("subscribe");
    let resumed: Vec<String> = {
        let mut out = Vec::new();
        for _ in 5..=10 {
            out.push(next_payload(&second).await.1);
        }
        out
    };
    assert_eq!(
        resumed,
        (5..=10).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn each_key_keeps_its_order_across_partitions() {
    let topic = testkit::kafka::fresh_topic(3).await;
    let producer = producer();
    let keys = ["a", "b", "c", "d", "e"];
    for version in 1..=8 {
        for key in keys {
            produce(&producer, &topic, key, &version.to_string()).await;
        }
    }
    let consumer = consumer(&testkit::unique_name("g"));
    consumer.subscribe(&[&topic]).expect("subscribe");
    let mut last_seen = std::collections::HashMap::new();
    for _ in 0..keys.len() * 8 {
        let (key, payload, _) = next_payload(&consumer).await;
        let version: u32 = payload.parse().expect("number");
        let previous = last_seen.insert(key.clone(), version).unwrap_or(0);
        assert_eq!(version, previous + 1, "key {key} out of order");
    }
    assert!(last_seen.values().all(|v| *v == 8));
}

#[tokio::test]
async fn a_broker_restart_loses_neither_messages_nor_committed_offsets() {
    // A private broker, so stopping it does not disturb other tests; its storage is a fresh
    // Postgres database, as with the shared broker.
    let mut broker = testkit::broker::PrivateBroker::start().await;
    let topic = testkit::unique_name("t");
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        broker.client_config().create().expect("admin");
    admin
        .create_topics(
            &[rdkafka::admin::NewTopic::new(
                &topic,
                1,
                rdkafka::admin::TopicReplication::Fixed(1),
            )],
            &rdkafka::admin::AdminOptions::new(),
        )
        .await
        .expect("create topic")
        .into_iter()
        .for_each(|r| {
            r.expect("topic created");
        });
    let producer: FutureProducer = broker
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer");
    for i in 1..=6 {
        produce(&producer, &topic, "k", &format!("m{i}")).await;
    }
    drop(producer);

    let group = testkit::unique_name("g");
    let group_consumer = |config: ClientConfig| -> StreamConsumer {
        let mut config = config;
        config
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest");
        config.create().expect("consumer")
    };
    {
        let first = group_consumer(broker.client_config());
        first.subscribe(&[&topic]).expect("subscribe");
        for i in 1..=3 {
            assert_eq!(next_payload(&first).await.1, format!("m{i}"));
        }
        let mut offsets = rdkafka::TopicPartitionList::new();
        offsets
            .add_partition_offset(&topic, 0, rdkafka::Offset::Offset(3))
            .expect("offset");
        first.commit(&offsets, CommitMode::Sync).expect("commit");
    }

    broker.stop().await;
    broker.resume().await;

    let after = group_consumer(broker.client_config());
    after.subscribe(&[&topic]).expect("subscribe");
    let mut resumed = Vec::new();
    for _ in 4..=6 {
        resumed.push(next_payload(&after).await.1);
    }
    assert_eq!(
        resumed,
        vec!["m4", "m5", "m6"],
        "the group must resume at its committed offset with every later message kept"
    );
}
