//! The REST API against a real command-service (in-process, real MongoDB-wire server): routing,
//! the gRPC→HTTP error table as clients see it, auth, idempotency, optimistic concurrency, history
//! reads, and the request checks that never reach a service.

mod common;

use axum::http::{Method, StatusCode};
use common::{CLOSED, Gateway, config};
use serde_json::json;

async fn gateway_with_commands() -> Gateway {
    let command = common::command_service().await;
    Gateway::new(&config(&command, CLOSED, &[]))
}

async fn create_post(gw: &Gateway, token: &str, message: &str) -> (String, u64) {
    let reply = gw
        .post("/api/v1/posts", token, json!({ "message": message }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let body = reply.json();
    let id = body["aggregate_id"].as_str().expect("id").to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/posts/{id}").as_str())
    );
    (id, body["version"].as_u64().expect("version"))
}

#[tokio::test]
async fn a_post_is_written_as_the_token_subject_and_its_history_is_readable() {
    let gw = gateway_with_commands().await;
    let alice = gw.token("alice", &[]).await;
    let (id, version) = create_post(&gw, &alice, "hello").await;
    assert_eq!(version, 1);

    let reply = gw
        .call(
            Method::POST,
            &format!("/api/v1/posts/{id}/comments"),
            Some(&alice),
            Some(json!({ "text": "first" })),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let comment = reply.json();
    assert_eq!(comment["version"], 2);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let comment_id = comment["comment_id"].as_str().expect("comment id");
    uuid::Uuid::parse_str(comment_id).expect("comment id is a uuid");

    let history = gw.get(&format!("/api/v1/streams/{id}/events")).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text);
    let history = history.json();
    assert_eq!(history["aggregate_type"], "post");
    assert_eq!(history["current_version"], 2);
    let events = history["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event_type"], "PostCreated");
    // The actor is the token's subject: the gateway sent it as x-actor, the body never had one.
    assert_eq!(events[0]["actor"], "alice");
    assert_eq!(events[0]["data"]["message"], "hello");
    assert_eq!(events[1]["data"]["comment_id"], comment_id);

    let as_of_v1 = gw
        .get(&format!("/api/v1/streams/{id}/events?to_version=1"))
        .await
        .json();
    assert_eq!(as_of_v1["version"], 1);
    assert_eq!(as_of_v1["events"].as_array().expect("events").len(), 1);
    assert!(as_of_v1["state"].is_object(), "{as_of_v1}");

    let before = gw
        .get(&format!(
            "/api/v1/streams/{id}/events?as_of=2000-01-01T00:00:00Z"
        ))
        .await
        .json();
    assert_eq!(before["version"], 0);
    assert!(before["state"].is_null());
}

#[tokio::test]
async fn upstream_statuses_map_through_the_one_table() {
    let gw = gateway_with_commands().await;
    let alice = gw.token("alice", &[]).await;
    let bob = gw.token("bob", &[]).await;
    let (id, _) = create_post(&gw, &alice, "mine").await;
    let likes = format!("/api/v1/posts/{id}/likes");

    // FAILED_PRECONDITION → 422: one like per user.
    let first = gw.call(Method::POST, &likes, Some(&bob), None, &[]).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json()["version"], 2);
    gw.call(Method::POST, &likes, Some(&bob), None, &[])
        .await
        .assert_error(422, "failed_precondition");
    let unlike = gw.call(Method::DELETE, &likes, Some(&bob), None, &[]).await;
    assert_eq!(unlike.status, StatusCode::OK, "{}", unlike.text);

    // PERMISSION_DENIED → 403: only the author edits.
    gw.call(
        Method::PATCH,
        &format!("/api/v1/posts/{id}"),
        Some(&bob),
        Some(json!({ "message": "hijacked" })),
        &[],
    )
    .await
    .assert_error(403, "permission_denied");

    // ABORTED → 409 with the current version, from a stale If-Match.
    let stale = gw
        .call(
            Method::PATCH,
            &format!("/api/v1/posts/{id}"),
            Some(&alice),
            Some(json!({ "message": "edited" })),
            &[("if-match", "\"1\"")],
        )
        .await;
    let body = stale.assert_error(409, "conflict");
    assert_eq!(body["details"]["current_version"], 3);
    assert_eq!(stale.header("etag"), Some("\"3\""));
    let fresh = gw
        .call(
            Method::PATCH,
            &format!("/api/v1/posts/{id}"),
            Some(&alice),
            Some(json!({ "message": "edited" })),
            &[("if-match", "\"3\"")],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_eq!(fresh.json()["version"], 4);

    // NOT_FOUND → 404: an unknown post, an unknown comment.
    let unknown = uuid::Uuid::now_v7();
    gw.call(
        Method::POST,
        &format!("/api/v1/posts/{unknown}/likes"),
        Some(&bob),
        None,
        &[],
    )
    .await
    .assert_error(404, "not_found");
    gw.call(
        Method::DELETE,
        &format!("/api/v1/posts/{id}/comments/{unknown}"),
        Some(&alice),
        None,
        &[],
    )
    .await
    .assert_error(404, "not_found");
    gw.get(&format!("/api/v1/streams/{unknown}/events"))
        .await
        .assert_error(404, "not_found");

    // ALREADY_EXISTS → 409: a creation under a taken id.
    gw.post(
        "/api/v1/posts",
        &alice,
        json!({ "post_id": id, "message": "again" }),
    )
    .await
    .assert_error(409, "already_exists");

    // After deletion every command is 422.
    let deleted = gw
        .call(
            Method::DELETE,
            &format!("/api/v1/posts/{id}"),
            Some(&alice),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    gw.call(Method::POST, &likes, Some(&bob), None, &[])
        .await
        .assert_error(422, "failed_precondition");
}

#[tokio::test]
async fn an_idempotency_key_applies_a_command_once() {
    let gw = gateway_with_commands().await;
    let alice = gw.token("alice", &[]).await;
    let key = uuid::Uuid::now_v7().to_string();
    let headers = [("idempotency-key", key.as_str())];
    let send = || {
        gw.call(
            Method::POST,
            "/api/v1/posts",
            Some(&alice),
            Some(json!({ "message": "once" })),
            &headers,
        )
    };
    let first = send().await.json();
    let second = send().await.json();
    assert_eq!(first["command_id"], key.as_str());
    assert_eq!(first["already_applied"], false);
    assert_eq!(second["already_applied"], true);
    assert_eq!(second["aggregate_id"], first["aggregate_id"]);

    gw.call(
        Method::POST,
        "/api/v1/posts",
        Some(&alice),
        Some(json!({ "message": "x" })),
        &[("idempotency-key", "not-a-uuid")],
    )
    .await
    .assert_error(400, "invalid_argument");
}

#[tokio::test]
async fn customers_and_orders_go_through_their_life_cycle() {
    let gw = gateway_with_commands().await;
    let clerk = gw.token("clerk", &[]).await;
    let email = format!("{}@example.com", uuid::Uuid::now_v7().simple());
    let registered = gw
        .post(
            "/api/v1/customers",
            &clerk,
            json!({ "name": "Ada", "email": email, "segment": "consumer", "region": "emea" }),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let customer = registered.json()["aggregate_id"]
        .as_str()
        .expect("id")
        .to_owned();

    // The email is taken now.
    gw.post(
        "/api/v1/customers",
        &clerk,
        json!({ "name": "Eve", "email": email, "segment": "consumer", "region": "emea" }),
    )
    .await
    .assert_error(409, "already_exists");

    let updated = gw
        .call(
            Method::PUT,
            &format!("/api/v1/customers/{customer}"),
            Some(&clerk),
            Some(json!({ "name": "Ada L.", "email": email, "segment": "corporate", "region": "emea" })),
            &[],
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.json()["version"], 2);

    let placed = gw
        .post(
            &format!("/api/v1/customers/{customer}/orders"),
            &clerk,
            json!({ "currency": "EUR", "items": [{ "sku": "BOOK-1", "name": "Book", "unit_price_minor": 1250, "quantity": 2 }] }),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let order = placed.json()["aggregate_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        placed.header("location"),
        Some(format!("/api/v1/orders/{order}").as_str())
    );

    let action = |name: &'static str, body: Option<serde_json::Value>| {
        let path = format!("/api/v1/orders/{order}/{name}");
        let gw = gw.clone();
        let clerk = clerk.clone();
        async move { gw.call(Method::POST, &path, Some(&clerk), body, &[]).await }
    };
    // Placed → Delivered skips Shipped: 422.
    action("deliver", None)
        .await
        .assert_error(422, "failed_precondition");
    assert_eq!(action("ship", None).await.json()["version"], 2);
    action("cancel", Some(json!({ "reason": "too late" })))
        .await
        .assert_error(422, "failed_precondition");
    assert_eq!(action("deliver", None).await.json()["version"], 3);

    let history = gw
        .get(&format!("/api/v1/streams/{order}/events"))
        .await
        .json();
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["OrderPlaced", "OrderShipped", "OrderDelivered"]);
}

#[tokio::test]
async fn mutations_need_a_valid_token_and_admin_routes_the_admin_role() {
    let gw = gateway_with_commands().await;
    let anonymous = gw
        .call(
            Method::POST,
            "/api/v1/posts",
            None,
            Some(json!({ "message": "hi" })),
            &[],
        )
        .await;
    anonymous.assert_error(401, "unauthenticated");
    assert!(
        anonymous
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{:?}",
        anonymous.headers
    );
    gw.post("/api/v1/posts", "not.a.token", json!({ "message": "hi" }))
        .await
        .assert_error(401, "unauthenticated");
    gw.call(
        Method::POST,
        "/api/v1/posts",
        None,
        Some(json!({ "message": "hi" })),
        &[("authorization", "Basic YWxpY2U6eA==")],
    )
    .await
    .assert_error(401, "unauthenticated");

    // A token signed with another secret is refused.
    let other = Gateway::new(&config(
        CLOSED,
        CLOSED,
        &["--jwt-secret", "a-different-secret-a-different-secret"],
    ));
    let foreign = other.token("mallory", &["admin"]).await;
    gw.post("/api/v1/posts", &foreign, json!({ "message": "hi" }))
        .await
        .assert_error(401, "unauthenticated");

    // A sent but invalid token is refused on reads too, rather than read anonymously.
    gw.call(
        Method::GET,
        "/api/v1/streams/0190a0b0-0000-7000-8000-000000000001/events",
        Some("garbage"),
        None,
        &[],
    )
    .await
    .assert_error(401, "unauthenticated");

    let user = gw.token("alice", &[]).await;
    for (method, path) in [
        (Method::GET, "/api/v1/admin/dead-letters"),
        (Method::POST, "/api/v1/admin/rebuilds"),
        (Method::GET, "/api/v1/admin/rebuilds/latest"),
    ] {
        gw.call(method.clone(), path, None, None, &[])
            .await
            .assert_error(401, "unauthenticated");
        gw.call(method, path, Some(&user), None, &[])
            .await
            .assert_error(403, "permission_denied");
    }
    // An admin gets past the gateway to query-service (down here): 503, not 401/403.
    let admin = gw.token("root", &["admin"]).await;
    gw.call(
        Method::GET,
        "/api/v1/admin/dead-letters",
        Some(&admin),
        None,
        &[],
    )
    .await
    .assert_error(503, "unavailable");
}

#[tokio::test]
async fn the_dev_sign_in_exists_only_in_dev_mode() {
    let off = Gateway::new(&config(CLOSED, CLOSED, &["--dev-mode", "false"]));
    off.call(
        Method::POST,
        "/api/v1/dev/sign-in",
        None,
        Some(json!({ "subject": "alice" })),
        &[],
    )
    .await
    .assert_error(404, "not_found");
    let spec = off.get("/api/v1/openapi.json").await.json();
    assert!(spec["paths"].get("/api/v1/dev/sign-in").is_none());

    let on = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let reply = on
        .call(
            Method::POST,
            "/api/v1/dev/sign-in",
            None,
            Some(json!({ "subject": "  ", "roles": [""] })),
            &[],
        )
        .await;
    let body = reply.assert_error(400, "invalid_argument");
    let fields: Vec<&str> = body["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["roles[0]", "subject"]);
}

#[tokio::test]
async fn bad_requests_are_400s_with_the_error_shape_and_field_messages() {
    // No service is reachable: each of these must be refused before any call.
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let token = gw.token("alice", &[]).await;

    let body = gw
        .post(
            "/api/v1/posts",
            &token,
            json!({ "message": "   ", "post_id": "nope" }),
        )
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(body["details"]["fields"][0]["field"], "post_id");
    assert_eq!(body["details"]["fields"][1]["field"], "message");

    let body = gw
        .post(
            "/api/v1/customers/0190a0b0-0000-7000-8000-000000000001/orders",
            &token,
            json!({ "currency": "euro", "items": [
                { "sku": "", "name": "n", "unit_price_minor": -1, "quantity": 0 }
            ] }),
        )
        .await
        .assert_error(400, "invalid_argument");
    let fields: Vec<&str> = body["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        fields,
        [
            "currency",
            "items[0].sku",
            "items[0].unit_price_minor",
            "items[0].quantity"
        ]
    );

    let body = gw
        .post(
            "/api/v1/customers",
            &token,
            json!({ "name": "A", "email": "not-an-email", "segment": "", "region": "r" }),
        )
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(body["details"]["fields"][0]["field"], "email");
    assert_eq!(body["details"]["fields"][1]["field"], "segment");

    // Malformed JSON, a wrong shape, a missing content type.
    let reply = gw
        .send(
            axum::http::Request::post("/api/v1/posts")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"message\": "))
                .expect("request"),
        )
        .await;
    reply.assert_error(400, "invalid_argument");
    gw.post("/api/v1/posts", &token, json!({ "message": 5 }))
        .await
        .assert_error(400, "invalid_argument");
    gw.send(
        axum::http::Request::post("/api/v1/posts")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from("{\"message\": \"hi\"}"))
            .expect("request"),
    )
    .await
    .assert_error(415, "invalid_argument");

    // Bad path ids and query strings.
    let body = gw
        .get("/api/v1/posts/not-a-uuid")
        .await
        .assert_error(400, "invalid_argument");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("not-a-uuid")
    );
    gw.get("/api/v1/orders/123/")
        .await
        .assert_error(404, "not_found");
    gw.get("/api/v1/posts?page_size=lots")
        .await
        .assert_error(400, "invalid_argument");
    gw.get("/api/v1/posts?sort=sideways")
        .await
        .assert_error(400, "invalid_argument");
    gw.get("/api/v1/posts?consistent_with=x")
        .await
        .assert_error(400, "invalid_argument");
    gw.get("/api/v1/reports/monthly-sales?from_month=2025-13")
        .await
        .assert_error(400, "invalid_argument");
    gw.get("/api/v1/streams/0190a0b0-0000-7000-8000-000000000001/events?to_version=1&as_of=2025-01-01T00:00:00Z")
        .await
        .assert_error(400, "invalid_argument");
    gw.get("/api/v1/events?aggregate_type=widget")
        .await
        .assert_error(400, "invalid_argument");
    gw.call(
        Method::PATCH,
        "/api/v1/posts/0190a0b0-0000-7000-8000-000000000001",
        Some(&token),
        Some(json!({ "message": "x" })),
        &[("if-match", "*")],
    )
    .await
    .assert_error(400, "invalid_argument");

    // A method the route does not have.
    let reply = gw.call(Method::PUT, "/api/v1/posts", None, None, &[]).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.json()["code"], "invalid_argument");
}

#[tokio::test]
async fn a_service_that_is_down_is_503_with_retry_after_and_no_internals() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let token = gw.token("alice", &[]).await;
    for reply in [
        gw.get("/api/v1/posts").await,
        gw.get("/api/v1/reports/top-customers").await,
        gw.post("/api/v1/posts", &token, json!({ "message": "hi" }))
            .await,
    ] {
        let body = reply.assert_error(503, "unavailable");
        assert!(reply.header("retry-after").is_some(), "{:?}", reply.headers);
        let message = body["message"].as_str().expect("message");
        assert!(!message.contains("127.0.0.1"), "{message}");
        assert!(!message.contains("tcp"), "{message}");
    }
}

#[tokio::test]
async fn fifty_concurrent_likes_without_if_match_all_succeed() {
    // A command without an expected version is re-decided by the server on the fresh state when
    // it loses a race, so none of these is a 409 (issue 10, defect 4).
    let gw = gateway_with_commands().await;
    let alice = gw.token("alice", &[]).await;
    let (id, _) = create_post(&gw, &alice, "popular").await;
    let likes = format!("/api/v1/posts/{id}/likes");
    let mut tokens = Vec::new();
    for i in 0..50 {
        tokens.push(gw.token(&format!("fan-{i}"), &[]).await);
    }
    let replies = futures::future::join_all(
        tokens
            .iter()
            .map(|token| gw.call(Method::POST, &likes, Some(token), None, &[])),
    )
    .await;
    let refused: Vec<String> = replies
        .iter()
        .filter(|r| r.status != StatusCode::OK)
        .map(|r| format!("{} {}", r.status, r.text))
        .collect();
    assert!(
        refused.is_empty(),
        "{} of 50 likes refused, the first: {:?}",
        refused.len(),
        refused.first()
    );
    let history = gw.get(&format!("/api/v1/streams/{id}/events")).await.json();
    assert_eq!(
        history["current_version"], 51,
        "one PostCreated and fifty PostLiked"
    );
}
