//! Kafka topics for tests, on the broker in `TEST_KAFKA_BROKERS`.

use std::time::Duration;

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
};

/// The bootstrap servers tests use.
pub fn brokers() -> String {
    super::env_or("TEST_KAFKA_BROKERS", "127.0.0.1:9092")
}

/// Client settings every test client starts from.
pub fn client_config() -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers());
    config
}

/// Creates a topic no other test uses and returns its name.
pub async fn fresh_topic(partitions: i32) -> String {
    let name = super::unique_name("t");
    let admin: AdminClient<DefaultClientContext> =
        client_config().create().expect("kafka admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(
            &[NewTopic::new(&name, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "kafka at {} is not reachable ({e}); run scripts/infra.sh up",
                brokers()
            )
        });
    for result in results {
        result.unwrap_or_else(|(topic, code)| panic!("creating topic {topic} failed: {code}"));
    }
    name
}
