//! Input the domain's rules refuse is a 400 naming the field, at the gateway, before any service
//! is called (the services are unreachable here, so a request that got through would be a 503);
//! and field errors a service reports are read from its `google.rpc.BadRequest` details.

mod common;

use axum::http::Method;
use common::{CLOSED, Gateway, config, stub_backend};
use serde_json::{Value, json};

fn fields(body: &Value) -> Vec<&str> {
    body["details"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {body}"))
        .iter()
        .map(|f| f["field"].as_str().expect("field"))
        .collect()
}

#[tokio::test]
async fn nul_in_a_message_or_comment_is_a_400_naming_the_field() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let token = gw.token("alice", &[]).await;
    let post = uuid::Uuid::now_v7();
    let body = gw
        .post(
            "/api/v1/posts",
            &token,
            json!({ "message": "hello\u{0}world" }),
        )
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(fields(&body), ["message"], "{body}");
    for (method, path, payload) in [
        (
            Method::PATCH,
            format!("/api/v1/posts/{post}"),
            json!({ "message": "\u{0}" }),
        ),
        (
            Method::POST,
            format!("/api/v1/posts/{post}/comments"),
            json!({ "text": "a\u{1b}[31mred" }),
        ),
        (
            Method::POST,
            format!("/api/v1/orders/{post}/cancel"),
            json!({ "reason": "x\u{0}" }),
        ),
    ] {
        let body = gw
            .call(method, &path, Some(&token), Some(payload), &[])
            .await
            .assert_error(400, "invalid_argument");
        assert_eq!(fields(&body).len(), 1, "{path}: {body}");
    }
    // Newline and tab are fine in free text: refused only because nothing is reachable.
    gw.post(
        "/api/v1/posts",
        &token,
        json!({ "message": "two\n\tlines" }),
    )
    .await
    .assert_error(503, "unavailable");
}

#[tokio::test]
async fn money_past_the_bounds_is_a_400_naming_the_field() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let token = gw.token("alice", &[]).await;
    let orders = format!("/api/v1/customers/{}/orders", uuid::Uuid::now_v7());
    // A line whose price × quantity overflows 64 bits.
    let body = gw
        .post(
            &orders,
            &token,
            json!({ "currency": "EUR", "items": [
                { "sku": "a", "name": "A", "unit_price_minor": i64::MAX / 2, "quantity": 3 }
            ] }),
        )
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(fields(&body), ["items[0].unit_price_minor"], "{body}");
    // Lines each at the bounds, whose sum passes the order total's.
    let line = json!({
        "sku": "a",
        "name": "A",
        "unit_price_minor": cqrsplus_domain::order::MAX_UNIT_PRICE_MINOR,
        "quantity": cqrsplus_domain::order::MAX_QUANTITY,
    });
    let body = gw
        .post(
            &orders,
            &token,
            json!({ "currency": "EUR", "items": [line, line] }),
        )
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(fields(&body), ["items"], "{body}");
    // A negative or huge quantity is named too, not refused as malformed JSON.
    let body = gw
        .post(
            &orders,
            &token,
            json!({ "currency": "EUR", "items": [
                { "sku": "a", "name": "A", "unit_price_minor": 1, "quantity": -1 },
                { "sku": "b", "name": "B", "unit_price_minor": 1, "quantity": 5_000_000_000_i64 }
            ] }),
        )
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(
        fields(&body),
        ["items[0].quantity", "items[1].quantity"],
        "{body}"
    );
}

#[tokio::test]
async fn nul_in_a_query_filter_is_a_400_naming_the_filter() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    for (path, field) in [
        ("/api/v1/posts?author=al%00ice", "author"),
        ("/api/v1/customers?segment=re%00tail", "segment"),
        ("/api/v1/customers?region=%00", "region"),
        ("/api/v1/reports/top-customers?currency=E%00R", "currency"),
        (
            "/api/v1/reports/monthly-sales?from_month=2025-0%00",
            "from_month",
        ),
    ] {
        let body = gw.get(path).await.assert_error(400, "invalid_argument");
        assert_eq!(fields(&body), [field], "{path}: {body}");
    }
}

#[tokio::test]
async fn the_email_rule_is_the_domain_s() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let token = gw.token("alice", &[]).await;
    // The gateway's own check used to let these through to command-service.
    for email in ["a@b..c", "a b@c.d", "a@.c"] {
        let body = gw
            .post(
                "/api/v1/customers",
                &token,
                json!({ "name": "A", "email": email, "segment": "s", "region": "r" }),
            )
            .await
            .assert_error(400, "invalid_argument");
        assert_eq!(fields(&body), ["email"], "{email}: {body}");
    }
}

#[tokio::test]
async fn field_errors_of_a_service_are_read_from_its_details() {
    use cqrsplus_proto::error_code::{FieldViolation, invalid_fields};
    // Messages that cannot be split into "field: problem": only the details say which field.
    let commands = stub_backend(|| {
        invalid_fields(
            "the command was refused",
            [FieldViolation::new("message", "is not acceptable")],
        )
    })
    .await;
    let queries = stub_backend(|| {
        invalid_fields(
            "the query was refused",
            [FieldViolation::new("period.from_month", "is too early")],
        )
    })
    .await;
    let gw = Gateway::new(&config(&commands, &queries, &[]));
    let token = gw.token("alice", &[]).await;
    let body = gw
        .post("/api/v1/posts", &token, json!({ "message": "hello" }))
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(fields(&body), ["message"], "{body}");
    assert_eq!(body["details"]["fields"][0]["message"], "is not acceptable");
    let body = gw
        .get("/api/v1/reports/monthly-sales")
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(fields(&body), ["from_month"], "{body}");
}
