//! How the gateway answers when a backing service fails: a service that never answers is a 504
//! and one that is down or answers UNAVAILABLE is a 503 with Retry-After, all in the JSON error
//! shape. Stub servers stand in for failures the real services do not produce on demand.

mod common;

use std::time::{Duration, Instant};

use axum::http::Method;
use common::{CLOSED, Gateway, config, silent_backend, stub_backend};

#[tokio::test]
async fn a_service_that_never_answers_is_a_504_in_the_error_shape() {
    let frozen = silent_backend().await;
    let gw = Gateway::new(&config(&frozen, &frozen, &["--request-timeout", "1s"]));
    let id = uuid::Uuid::now_v7();
    let started = Instant::now();
    // A read (query-service) and a history read (command-service's event store).
    for path in [
        format!("/api/v1/posts/{id}"),
        format!("/api/v1/streams/{id}/events"),
    ] {
        let reply = gw.get(&path).await;
        let body = reply.assert_error(504, "deadline_exceeded");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("in time")),
            "{body}"
        );
    }
    // A command, which waits on command-service.
    let token = gw.token("alice", &[]).await;
    gw.call(
        Method::POST,
        "/api/v1/posts",
        Some(&token),
        Some(serde_json::json!({ "message": "hello" })),
        &[],
    )
    .await
    .assert_error(504, "deadline_exceeded");
    // Bounded generously: three 1 s limits, on a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_gateway_time_limit_answers_in_the_error_shape_too() {
    // The gRPC deadline is what ends a call to a frozen service; this checks the HTTP limit
    // itself, which ends everything else (here the dev sign-in's body never finishes arriving).
    let gw = Gateway::new(&config(CLOSED, CLOSED, &["--request-timeout", "300ms"]));
    let (mut sender, body) =
        futures::channel::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    sender
        .try_send(Ok(axum::body::Bytes::from_static(b"{\"subject\":")))
        .expect("first chunk");
    let request = axum::http::Request::post("/api/v1/dev/sign-in")
        .header("content-type", "application/json")
        .body(axum::body::Body::from_stream(body))
        .expect("request");
    let reply = gw.send(request).await;
    drop(sender);
    let body = reply.assert_error(504, "deadline_exceeded");
    assert_eq!(body["details"]["timeout_ms"], 300, "{body}");
}

#[tokio::test]
async fn unavailable_from_a_service_is_a_503_with_its_retry_hint() {
    let refusing = stub_backend(|| {
        let mut status = tonic::Status::unavailable("the read database refuses connections");
        status
            .metadata_mut()
            .insert("x-retry-after-ms", "2500".parse().expect("metadata"));
        status
    })
    .await;
    let gw = Gateway::new(&config(CLOSED, &refusing, &[]));
    let reply = gw.get("/api/v1/posts").await;
    let body = reply.assert_error(503, "unavailable");
    // Whole seconds, rounded up.
    assert_eq!(
        reply.header("retry-after"),
        Some("3"),
        "{:?}",
        reply.headers
    );
    assert_eq!(body["details"]["retry_after_ms"], 2500, "{body}");
    // The service's wording may name internals; the client gets the gateway's.
    assert!(
        !body["message"].as_str().unwrap_or("").contains("database"),
        "{body}"
    );
}

#[tokio::test]
async fn unavailable_without_a_hint_gets_the_default_retry_after() {
    let refusing = stub_backend(|| tonic::Status::unavailable("down")).await;
    let gw = Gateway::new(&config(&refusing, CLOSED, &[]));
    let id = uuid::Uuid::now_v7();
    let reply = gw.get(&format!("/api/v1/streams/{id}/events")).await;
    reply.assert_error(503, "unavailable");
    assert_eq!(
        reply.header("retry-after"),
        Some("1"),
        "{:?}",
        reply.headers
    );
}

#[tokio::test]
async fn a_service_that_is_down_is_a_503_with_retry_after() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let reply = gw.get("/api/v1/posts").await;
    let body = reply.assert_error(503, "unavailable");
    assert_eq!(
        reply.header("retry-after"),
        Some("2"),
        "{:?}",
        reply.headers
    );
    assert_eq!(body["details"]["retry_after_ms"], 2000, "{body}");
}

#[tokio::test]
async fn bodies_that_are_not_json_or_too_large_have_their_own_statuses() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let token = gw.token("alice", &[]).await;
    let plain = axum::http::Request::post("/api/v1/posts")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .body(axum::body::Body::from("hello"))
        .expect("request");
    gw.send(plain).await.assert_error(415, "invalid_argument");
    let huge = serde_json::json!({ "message": "x".repeat(3 * 1024 * 1024) });
    gw.post("/api/v1/posts", &token, huge)
        .await
        .assert_error(413, "invalid_argument");
}
