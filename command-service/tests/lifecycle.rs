//! command-service starts against the real MongoDB, serves gRPC health and reflection, and stops
//! cleanly, both in-process (port 0) and as the real binary receiving SIGTERM.

use command_service::{config::Config, startup::Application};
use tonic_health::ServingStatus;

fn config(database: &str) -> Config {
    let mut config =
        Config::ephemeral(&testkit::mongo::uri(), database, &testkit::kafka::brokers());
    config.kafka_topic_prefix = testkit::kafka::topic_prefix().to_owned();
    config
}

#[tokio::test]
async fn serves_health_and_stops_on_shutdown() {
    let app = Application::build(config(&testkit::unique_name("t")))
        .await
        .expect("build");
    let addr = app.local_addr();
    assert_ne!(addr.port(), 0, "port 0 must be resolved to the bound port");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let status = testkit::process::grpc_health(addr)
        .await
        .expect("health call");
    assert_eq!(status, ServingStatus::Serving);

    stop.send(()).expect("server still running");
    server.await.expect("join").expect("clean shutdown");
    assert!(
        testkit::process::grpc_health(addr).await.is_err(),
        "the port must be closed after shutdown"
    );
}

#[tokio::test]
async fn start_up_fails_clearly_when_mongodb_is_unreachable() {
    let mut config = config("t_unreachable");
    // Nothing listens on port 1; the ping must fail within the configured timeout.
    config.mongodb_uri = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500".into();
    let err = Application::build(config).await.err().expect("must fail");
    let message = format!("{err:#}");
    assert!(message.contains("connecting to MongoDB"), "{message}");
}

#[tokio::test]
async fn the_binary_exits_cleanly_on_sigterm() {
    let database = testkit::unique_name("t");
    let service = testkit::process::spawn(
        env!("CARGO_BIN_EXE_command-service"),
        &[
            ("COMMAND_GRPC_ADDR", "127.0.0.1:0"),
            ("COMMAND_METRICS_ADDR", "127.0.0.1:0"),
            ("MONGODB_URI", &testkit::mongo::uri()),
            ("MONGODB_DATABASE", &database),
            ("KAFKA_TOPIC_PREFIX", testkit::kafka::topic_prefix()),
        ],
    )
    .await;
    assert_eq!(
        testkit::process::grpc_health(service.addr)
            .await
            .expect("health"),
        ServingStatus::Serving
    );
    let status = service.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}
