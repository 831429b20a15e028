//! Against all real parts (command-service, the broker, query-service and its projector): reads see
//! their own writes through `min_version`, and published events reach the server-sent-events
//! stream, filtered by aggregate.

mod common;

use std::time::{Duration, Instant};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use common::{CLOSED, Gateway, config};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

/// GETs `path` until it is not a 503 "not yet projected", honouring Retry-After, for up to 90 s
/// (a fresh projector first catches up with every event already on the shared topics).
async fn get_when_projected(gw: &Gateway, path: &str, token: Option<&str>) -> common::Reply {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let reply = gw.call(Method::GET, path, token, None, &[]).await;
        if reply.status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            return reply;
        }
        let wait: u64 = reply
            .header("retry-after")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait.min(2))).await;
    }
}

#[tokio::test]
async fn reads_see_their_own_writes_through_min_version() {
    let command = common::command_service().await;
    let query = common::query_service(&command).await;
    let gw = Gateway::new(&config(&command, &query, &[]));
    let author = format!("author-{}", uuid::Uuid::now_v7().simple());
    let token = gw.token(&author, &[]).await;
    let bob = gw.token("bob", &[]).await;

    let created = gw
        .post("/api/v1/posts", &token, json!({ "message": "read me" }))
        .await
        .json();
    let id = created["aggregate_id"].as_str().expect("id").to_owned();
    let liked = gw
        .call(
            Method::POST,
            &format!("/api/v1/posts/{id}/likes"),
            Some(&bob),
            None,
            &[],
        )
        .await
        .json();
    let version = liked["version"].as_u64().expect("version");
    assert_eq!(version, 2);

    let reply = get_when_projected(
        &gw,
        &format!("/api/v1/posts/{id}?min_version={version}"),
        Some(&bob),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let post = reply.json();
    assert_eq!(post["message"], "read me");
    assert_eq!(post["author"], author.as_str());
    assert_eq!(post["like_count"], 1);
    assert_eq!(post["version"], 2);
    assert_eq!(
        post["liked_by_caller"], true,
        "x-actor reaches the query side"
    );
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let anonymous = gw.get(&format!("/api/v1/posts/{id}")).await.json();
    assert_eq!(anonymous["liked_by_caller"], false);

    // A version the projection cannot reach: 503 with the retry hint and how far it got.
    let ahead = gw
        .get(&format!("/api/v1/posts/{id}?min_version={}", version + 100))
        .await;
    let body = ahead.assert_error(503, "unavailable");
    assert_eq!(body["details"]["projected_version"], version);
    assert!(ahead.header("retry-after").is_some(), "{:?}", ahead.headers);

    // Lists take ID:VERSION tokens.
    let list = get_when_projected(
        &gw,
        &format!("/api/v1/posts?author={author}&consistent_with={id}:{version}"),
        None,
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let list = list.json();
    assert_eq!(list["total_size"], 1, "{list}");
    assert_eq!(list["posts"][0]["post_id"], id.as_str());

    gw.get(&format!("/api/v1/posts/{}", uuid::Uuid::now_v7()))
        .await
        .assert_error(404, "not_found");
}

/// Reads server-sent events from `body` until one names `event_type`, or `wait` passes.
async fn next_event(
    body: &mut Body,
    buffer: &mut String,
    wait: Duration,
) -> Option<serde_json::Value> {
    let deadline = Instant::now() + wait;
    loop {
        // SSE messages end with a blank line.
        while let Some(end) = buffer.find("\n\n") {
            let message: String = buffer.drain(..end + 2).collect();
            if let Some(data) = message.lines().find_map(|l| l.strip_prefix("data:")) {
                return Some(serde_json::from_str(data.trim()).expect("event json"));
            }
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    buffer.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Ok(_) => panic!("the event stream ended"),
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn published_events_reach_the_event_stream_filtered_by_aggregate() {
    let brokers = testkit::kafka::brokers();
    let command = common::command_service().await;
    let gw = Gateway::new(&config(&command, CLOSED, &["--kafka-brokers", &brokers]));
    gw.state
        .live
        .start(
            &brokers,
            testkit::kafka::topic_prefix(),
            gw.state.shutdown.clone(),
        )
        .expect("feed");
    tokio::time::timeout(
        Duration::from_secs(60),
        gw.state.live.wait_until_consuming(),
    )
    .await
    .expect("the feed is assigned partitions");
    let token = gw.token("streamer", &[]).await;
    let post_id = uuid::Uuid::now_v7().to_string();

    let response = gw
        .router
        .clone()
        .oneshot(
            Request::get(format!("/api/v1/events?aggregate_id={post_id}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("ascii"),
        "text/event-stream"
    );
    let mut body = response.into_body();
    let mut buffer = String::new();

    // Noise the filter must drop.
    gw.post("/api/v1/posts", &token, json!({ "message": "other" }))
        .await;
    let created = gw
        .post(
            "/api/v1/posts",
            &token,
            json!({ "post_id": post_id, "message": "live" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    // The feed starts at the end of each partition as resolved after assignment; an event
    // written in that instant can fall before it, so keep writing until one arrives.
    let mut event = None;
    for attempt in 0..6 {
        event = next_event(&mut body, &mut buffer, Duration::from_secs(10)).await;
        if event.is_some() {
            break;
        }
        let edit = gw
            .call(
                Method::PATCH,
                &format!("/api/v1/posts/{post_id}"),
                Some(&token),
                Some(json!({ "message": format!("live {attempt}") })),
                &[],
            )
            .await;
        assert_eq!(edit.status, StatusCode::OK, "{}", edit.text);
    }
    let event = event.expect("an event of the post arrives");
    assert_eq!(event["aggregate_id"], post_id.as_str());
    assert_eq!(event["aggregate_type"], "post");
    assert_eq!(event["actor"], "streamer");
    assert!(
        event["event_type"] == "PostCreated" || event["event_type"] == "PostEdited",
        "{event}"
    );
    assert!(event["data"].is_object(), "{event}");
}
