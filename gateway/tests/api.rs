//! The gateway's HTTP surface, called through the router (no socket) and as the real binary.

use std::path::PathBuf;

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use clap::Parser;
use gateway::{
    config::Config,
    startup::{AppState, router},
};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A port nothing listens on, for "service down" cases.
const CLOSED: &str = "http://127.0.0.1:1";

fn config(command_url: &str, query_url: &str, web_dir: &std::path::Path) -> Config {
    Config::parse_from([
        "gateway",
        "--http-addr",
        "127.0.0.1:0",
        "--command-service-url",
        command_url,
        "--query-service-url",
        query_url,
        "--web-dir",
        web_dir.to_str().expect("utf8 path"),
    ])
}

fn web_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(testkit::unique_name("web"));
    std::fs::create_dir_all(dir.join("assets")).expect("web dir");
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>cqrs plus</title>",
    )
    .expect("index");
    std::fs::write(dir.join("assets/app.js"), "console.log('hi')").expect("asset");
    dir
}

async fn get(config: &Config, path: &str) -> (StatusCode, String) {
    let state = AppState::from_config(config).expect("state");
    let response = router(state, config)
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not json ({e}): {body}"))
}

#[tokio::test]
async fn healthz_answers_even_when_services_are_down() {
    let config = config(CLOSED, CLOSED, &web_dir());
    let (status, body) = get(&config, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["status"], "ok");
}

#[tokio::test]
async fn readyz_is_503_with_the_error_shape_when_services_are_down() {
    let config = config(CLOSED, CLOSED, &web_dir());
    let (status, body) = get(&config, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body = json(&body);
    assert_eq!(body["code"], "unavailable");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(body["details"]["command_service"], "unreachable");
    assert_eq!(body["details"]["query_service"], "unreachable");
}

#[tokio::test]
async fn readyz_is_200_when_both_services_serve() {
    let mut command_config = command_service::config::Config::ephemeral(
        &testkit::mongo::uri(),
        &testkit::unique_name("t"),
        &testkit::kafka::brokers(),
    );
    command_config.kafka_topic_prefix = testkit::kafka::topic_prefix().to_owned();
    let command = command_service::startup::Application::build(command_config)
        .await
        .expect("command-service");
    let db = testkit::postgres::fresh_database().await;
    let mut query_config = query_service::config::Config::ephemeral(
        &db.url,
        &testkit::kafka::brokers(),
        &format!("http://{}", command.local_addr()),
    );
    query_config.kafka_topic_prefix = testkit::kafka::topic_prefix().to_owned();
    let query = query_service::startup::Application::build(query_config)
        .await
        .expect("query-service");
    let command_url = format!("http://{}", command.local_addr());
    let query_url = format!("http://{}", query.local_addr());
    tokio::spawn(command.run_until_stopped(std::future::pending()));
    tokio::spawn(query.run_until_stopped(std::future::pending()));

    let config = config(&command_url, &query_url, &web_dir());
    let (status, body) = get(&config, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["status"], "ready");
}

#[tokio::test]
async fn unknown_api_routes_are_json_404s_not_the_web_page() {
    let config = config(CLOSED, CLOSED, &web_dir());
    let (status, body) = get(&config, "/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body = json(&body);
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["message"], "no API route /api/v1/nothing-here");
}

#[tokio::test]
async fn the_web_ui_is_served_with_index_as_fallback_for_client_routes() {
    let config = config(CLOSED, CLOSED, &web_dir());
    let (status, body) = get(&config, "/assets/app.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("console.log"));
    let (status, body) = get(&config, "/posts/some-client-side-route").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<title>cqrs plus</title>"), "{body}");
}

#[tokio::test]
async fn the_binary_exits_cleanly_on_sigterm() {
    let web = web_dir();
    let service = testkit::process::spawn(
        env!("CARGO_BIN_EXE_gateway"),
        &[
            ("GATEWAY_HTTP_ADDR", "127.0.0.1:0"),
            ("COMMAND_SERVICE_URL", CLOSED),
            ("QUERY_SERVICE_URL", CLOSED),
            ("WEB_DIR", web.to_str().expect("utf8")),
            ("KAFKA_TOPIC_PREFIX", testkit::kafka::topic_prefix()),
        ],
    )
    .await;
    let response = testkit::process::http_get(service.addr, "/healthz").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let status = service.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}
