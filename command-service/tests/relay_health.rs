//! A dead outbox relay is visible: when its task ends (here: aborted, as a panic would end it),
//! gRPC health turns NOT_SERVING, and the supervisor restarts the relay, after which health is
//! SERVING again and the relay publishes.

use std::time::Duration;

use command_service::{config::Config, startup::Application};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

#[tokio::test]
async fn a_killed_relay_turns_health_not_serving_until_it_is_restarted() {
    let mut config = Config::ephemeral(
        &testkit::mongo::uri(),
        &testkit::unique_name("t"),
        &testkit::kafka::brokers(),
    );
    config.kafka_topic_prefix = testkit::kafka::topic_prefix().to_owned();
    config.relay_restart_backoff = Duration::from_secs(1);
    let app = Application::build(config).await.expect("build");
    let relay = app.relay_control();
    let url = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let channel = tonic::transport::Channel::from_shared(url)
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel);

    // Watch, not poll: every change of status is streamed, however briefly it lasts.
    let mut statuses = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch health")
        .into_inner();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(30), statuses.message())
            .await
            .expect("a health update within 30 s")
            .expect("health stream")
            .expect("health stream still open")
            .status
    };
    let mut status = next().await;
    while status != SERVING {
        status = next().await;
    }
    assert!(*relay.running().borrow(), "the relay runs");

    relay.kill();
    assert_eq!(next().await, NOT_SERVING, "a dead relay is not healthy");
    assert_eq!(next().await, SERVING, "the supervisor restarted it");
    assert!(*relay.running().borrow());
}
