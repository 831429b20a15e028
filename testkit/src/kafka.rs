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

/// The topic prefix (`KAFKA_TOPIC_PREFIX`) of every service this test process starts, unique to
/// the process: a test's services then never read another test's events, nor those of a
/// `scripts/run.sh` stack on the same broker (nextest runs each test in its own process).
pub fn topic_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| format!("{}.", super::unique_name("t")))
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
