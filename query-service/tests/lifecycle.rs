//! query-service creates and migrates its read database, serves gRPC health, and stops cleanly,
//! both in-process (port 0) and as the real binary receiving SIGTERM.

use clap::Parser;
use query_service::{config::Config, startup::Application};
use tonic_health::ServingStatus;

fn database_url() -> String {
    // A name nobody created yet: start-up must create the database itself.
    format!(
        "{}/{}",
        testkit::postgres::server_url(),
        testkit::unique_name("t")
    )
}

/// A consumer group and topic prefix of this test alone, so its projector never joins the group
/// of a query-service running on the same broker.
fn private_kafka_names() -> (String, String) {
    (
        testkit::unique_name("t"),
        format!("{}.", testkit::unique_name("t")),
    )
}

#[tokio::test]
async fn creates_migrates_serves_and_stops() {
    let url = database_url();
    let (group, prefix) = private_kafka_names();
    let config = Config::parse_from([
        "query-service",
        "--grpc-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--consumer-group",
        &group,
        "--kafka-topic-prefix",
        &prefix,
    ]);
    let app = Application::build(config).await.expect("build");
    let addr = app.local_addr();
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(app.pool())
        .await
        .expect("migrations table");
    assert_eq!(
        applied as usize,
        query_service::read_model::MIGRATOR.iter().count(),
        "every migration must be applied at start"
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    assert_eq!(
        testkit::process::grpc_health(addr).await.expect("health"),
        ServingStatus::Serving
    );
    stop.send(()).expect("server still running");
    server.await.expect("join").expect("clean shutdown");
}

#[tokio::test]
async fn start_up_fails_clearly_when_postgres_is_unreachable() {
    let config = Config::parse_from([
        "query-service",
        "--grpc-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--database-url",
        "postgres://postgres:hunter2@127.0.0.1:1/nothing",
    ]);
    let message = format!(
        "{:#}",
        Application::build(config).await.err().expect("must fail")
    );
    assert!(message.contains("Postgres"), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password leaked: {message}"
    );
}

#[tokio::test]
async fn the_binary_migrates_then_serves_and_exits_cleanly_on_sigterm() {
    let url = database_url();
    let migrate = tokio::process::Command::new(env!("CARGO_BIN_EXE_query-service"))
        .args(["migrate", "--database-url", &url])
        .env("LOG_FORMAT", "json")
        .output()
        .await
        .expect("run migrate");
    assert!(
        migrate.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let (group, prefix) = private_kafka_names();
    let service = testkit::process::spawn(
        env!("CARGO_BIN_EXE_query-service"),
        &[
            ("QUERY_GRPC_ADDR", "127.0.0.1:0"),
            ("QUERY_METRICS_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", &url),
            ("MIGRATE_ON_START", "false"),
            ("CONSUMER_GROUP", &group),
            ("KAFKA_TOPIC_PREFIX", &prefix),
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

/// Defect 7 of issue 10: a projector task that ends must not leave health at SERVING. Here it is
/// killed (as a panic would end it); health turns NOT_SERVING, and SERVING again once the
/// supervisor has restarted it. Health is watched as a stream, so the short NOT_SERVING spell is
/// seen whatever the machine's load.
#[tokio::test]
async fn a_dead_projector_turns_health_not_serving_until_it_is_restarted() {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let url = database_url();
    let (group, prefix) = private_kafka_names();
    let config = Config::parse_from([
        "query-service",
        "--grpc-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--consumer-group",
        &group,
        "--kafka-topic-prefix",
        &prefix,
    ]);
    let app = Application::build(config).await.expect("build");
    let addr = app.local_addr();
    let control = app.projector_control();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let mut statuses = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let wait = std::time::Duration::from_secs(60);
    let mut next = async || {
        let reply = tokio::time::timeout(wait, statuses.message())
            .await
            .expect("a health update in time")
            .expect("watch stream")
            .expect("stream open");
        reply.status
    };
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    assert_eq!(next().await, serving);

    // The projector task may not have been spawned at the very first instant.
    let mut killed = false;
    for _ in 0..100 {
        if control.kill() {
            killed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(killed, "a projector task was running");
    assert_eq!(next().await, not_serving, "a dead projector is not healthy");
    assert_eq!(next().await, serving, "restarted by its supervisor");
    assert!(control.kill(), "the restarted task runs");
    assert_eq!(next().await, not_serving);

    // A watch is a call in flight: the server's graceful stop waits for it.
    drop(statuses);
    stop.send(()).expect("server still running");
    server.await.expect("join").expect("clean shutdown");
}
