//! The gateway's logs, read from a real gateway process (JSON lines): one `message` key per line,
//! one line per failed request, and an outage of a backing service logged when it starts and when
//! it ends rather than once per request.

mod common;

use std::{collections::HashMap, fmt, time::Duration};

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// How often each key occurs in one JSON object; `serde_json::Value` would hide a duplicate key.
struct KeyCounts(HashMap<String, usize>);

impl<'de> Deserialize<'de> for KeyCounts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counter;
        impl<'de> Visitor<'de> for Counter {
            type Value = KeyCounts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyCounts, A::Error> {
                let mut counts = HashMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    *counts.entry(key).or_insert(0) += 1;
                }
                Ok(KeyCounts(counts))
            }
        }
        deserializer.deserialize_map(Counter)
    }
}

fn status_of(response: &str) -> &str {
    response.split(' ').nth(1).unwrap_or("")
}

#[tokio::test]
async fn failures_are_logged_once_and_an_outage_twice() {
    // command-service: a stub that fails every call with INTERNAL (a 500 at the gateway).
    let broken = common::stub_backend(|| tonic::Status::internal("boom in the store")).await;
    // query-service: down for now, at a port it will come up on.
    let reserved = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let query_addr = reserved.local_addr().expect("addr");
    drop(reserved);
    let query_url = format!("http://{query_addr}");
    let web = common::web_dir();
    let gateway = testkit::process::spawn(
        env!("CARGO_BIN_EXE_gateway"),
        &[
            ("GATEWAY_HTTP_ADDR", "127.0.0.1:0"),
            ("COMMAND_SERVICE_URL", &broken),
            ("QUERY_SERVICE_URL", &query_url),
            ("WEB_DIR", web.to_str().expect("utf8")),
            ("JWT_SECRET", common::SECRET),
            // No broker: the live feed is off, so every line is the gateway's own.
            ("KAFKA_BROKERS", ""),
        ],
    )
    .await;

    const DOWN_CALLS: usize = 5;
    for _ in 0..DOWN_CALLS {
        let response = testkit::process::http_get(gateway.addr, "/api/v1/posts").await;
        assert_eq!(status_of(&response), "503", "{response}");
    }
    let id = uuid::Uuid::now_v7();
    let failed_path = format!("/api/v1/streams/{id}/events");
    let response = testkit::process::http_get(gateway.addr, &failed_path).await;
    assert_eq!(status_of(&response), "500", "{response}");

    // query-service comes back (a stub that knows no post): the outage ends.
    let listener = tokio::net::TcpListener::bind(query_addr)
        .await
        .expect("rebind the reserved port");
    common::serve_stub(listener, || tonic::Status::not_found("no such post"));
    let response = testkit::process::http_get(gateway.addr, &format!("/api/v1/posts/{id}")).await;
    assert_eq!(status_of(&response), "404", "{response}");

    // The log lines are written as the requests finish; wait (bounded) for the last one.
    let mut logs = String::new();
    for _ in 0..100 {
        logs = gateway.logs().await;
        if logs.contains("outage ended") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut events = Vec::new();
    for line in &lines {
        let counts: KeyCounts = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"));
        assert_eq!(
            counts.0.get("message"),
            Some(&1),
            "every line has exactly one message key: {line}"
        );
        events.push(serde_json::from_str::<Value>(line).expect("json"));
    }
    let message = |e: &Value| e["message"].as_str().unwrap_or("").to_owned();
    let level = |e: &Value| e["level"].as_str().unwrap_or("").to_owned();

    // The 500: one line, at ERROR, with the cause the client was not told.
    let errors: Vec<&Value> = events.iter().filter(|e| level(e) == "ERROR").collect();
    assert_eq!(
        errors.len(),
        1,
        "one ERROR line for one failed request:\n{logs}"
    );
    assert!(
        errors[0].to_string().contains("boom in the store"),
        "the cause is logged: {}",
        errors[0]
    );
    assert!(
        errors[0].to_string().contains(&failed_path),
        "the request is named: {}",
        errors[0]
    );

    // The outage: one line when it started, one when it ended, none per refused request.
    let warnings: Vec<&Value> = events.iter().filter(|e| level(e) == "WARN").collect();
    assert_eq!(
        warnings.len(),
        1,
        "one WARN line for the whole outage:\n{logs}"
    );
    assert!(
        message(warnings[0]).contains("outage started"),
        "{}",
        warnings[0]
    );
    assert_eq!(
        warnings[0]["dependency"], "query-service",
        "{}",
        warnings[0]
    );
    let ended: Vec<&Value> = events
        .iter()
        .filter(|e| message(e).contains("outage ended"))
        .collect();
    assert_eq!(ended.len(), 1, "{logs}");
    assert_eq!(ended[0]["dependency"], "query-service", "{}", ended[0]);
    assert_eq!(ended[0]["failed_calls"], DOWN_CALLS, "{}", ended[0]);
}

#[tokio::test]
async fn a_broker_that_is_down_is_one_outage_not_a_line_per_retry() {
    let web = common::web_dir();
    let gateway = testkit::process::spawn(
        env!("CARGO_BIN_EXE_gateway"),
        &[
            ("GATEWAY_HTTP_ADDR", "127.0.0.1:0"),
            ("COMMAND_SERVICE_URL", common::CLOSED),
            ("QUERY_SERVICE_URL", common::CLOSED),
            ("WEB_DIR", web.to_str().expect("utf8")),
            ("JWT_SECRET", common::SECRET),
            // Nothing listens there: the live feed's consumer retries for as long as it runs.
            ("KAFKA_BROKERS", "127.0.0.1:1"),
        ],
    )
    .await;
    let started = |logs: &str| {
        logs.lines()
            .filter(|l| l.contains("outage started") && l.contains("\"kafka\""))
            .count()
    };
    let mut logs = String::new();
    for _ in 0..200 {
        logs = gateway.logs().await;
        if started(&logs) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        started(&logs),
        1,
        "the outage is logged when it starts:\n{logs}"
    );
    // librdkafka retries within a second or so; give it several rounds.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let logs = gateway.logs().await;
    let loud: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
        .collect();
    assert_eq!(loud.len(), 1, "one line for the whole outage:\n{logs}");
}
