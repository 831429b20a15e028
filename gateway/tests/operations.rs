//! The operations surface: the OpenAPI document and docs page, Prometheus metrics, CORS (closed
//! unless configured), and a graceful stop that live-update streams do not hold up.

mod common;

use std::time::Duration;

use axum::http::{Method, Request, StatusCode};
use common::{CLOSED, Gateway, config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn the_openapi_document_describes_every_route_from_the_handlers() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let reply = gw.get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let expected = [
        ("/api/v1/posts", &["get", "post"][..]),
        ("/api/v1/posts/{id}", &["get", "patch", "delete"]),
        ("/api/v1/posts/{id}/likes", &["post", "delete"]),
        ("/api/v1/posts/{id}/comments", &["get", "post"]),
        (
            "/api/v1/posts/{id}/comments/{comment_id}",
            &["patch", "delete"],
        ),
        ("/api/v1/customers", &["get", "post"]),
        ("/api/v1/customers/{id}", &["get", "put"]),
        ("/api/v1/customers/{id}/orders", &["get", "post"]),
        ("/api/v1/orders/{id}", &["get"]),
        ("/api/v1/orders/{id}/ship", &["post"]),
        ("/api/v1/orders/{id}/deliver", &["post"]),
        ("/api/v1/orders/{id}/cancel", &["post"]),
        ("/api/v1/reports/monthly-sales", &["get"]),
        ("/api/v1/reports/top-customers", &["get"]),
        ("/api/v1/reports/repeat-customers", &["get"]),
        ("/api/v1/reports/sales-by-region", &["get"]),
        ("/api/v1/reports/product-performance", &["get"]),
        ("/api/v1/reports/items-by-price-group", &["get"]),
        ("/api/v1/streams/{id}/events", &["get"]),
        ("/api/v1/events", &["get"]),
        ("/api/v1/admin/dead-letters", &["get"]),
        ("/api/v1/admin/dead-letters/replay", &["post"]),
        ("/api/v1/admin/dead-letters/{id}/skip", &["post"]),
        ("/api/v1/admin/rebuilds", &["post"]),
        ("/api/v1/admin/rebuilds/latest", &["get"]),
        ("/api/v1/admin/rebuilds/{id}", &["get"]),
        ("/api/v1/dev/sign-in", &["post"]),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in expected {
        for method in methods {
            let op = &paths
                .get(path)
                .unwrap_or_else(|| panic!("{path} is not documented"))[method];
            assert!(op.is_object(), "{method} {path} is not documented");
            let requirements: Vec<&serde_json::Value> =
                op["security"].as_array().into_iter().flatten().collect();
            let anonymous = requirements.is_empty()
                || requirements
                    .iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()));
            let token_required = !anonymous;
            let mutation = *method != "get";
            let admin = path.starts_with("/api/v1/admin");
            let public = path == "/api/v1/dev/sign-in";
            assert_eq!(
                token_required,
                (mutation || admin) && !public,
                "{method} {path}: security {}",
                op["security"]
            );
            // The error responses follow from what the operation is.
            let responses = op["responses"].as_object().expect("responses");
            let errors: Vec<u16> = responses
                .keys()
                .filter_map(|k| k.parse().ok())
                .filter(|s| *s >= 400)
                .collect();
            for status in &errors {
                assert_eq!(
                    responses[&status.to_string()]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            let has = |status: u16| errors.contains(&status);
            let token_accepted = !requirements.is_empty();
            assert_eq!(
                has(401),
                token_accepted,
                "{method} {path}: 401 iff a token is read"
            );
            assert_eq!(
                has(403),
                admin || (mutation && !public),
                "{method} {path}: 403"
            );
            let command = mutation && !admin && !public;
            assert_eq!(has(409), command, "{method} {path}: 409 for commands");
            assert_eq!(has(422), command, "{method} {path}: 422 for commands");
            let body = op["requestBody"].is_object();
            assert_eq!(
                has(413) && has(415),
                body,
                "{method} {path}: 413/415 with a body"
            );
            assert!(has(500), "{method} {path}: 500");
            assert_eq!(has(503) && has(504), !public, "{method} {path}: 503/504");
            assert!(
                !responses.contains_key("default"),
                "{method} {path}: errors are listed, not lumped"
            );
            if has(503) {
                assert!(
                    responses["503"]["headers"]["Retry-After"].is_object(),
                    "{method} {path}: 503 names Retry-After"
                );
            }
        }
    }
    assert_eq!(
        paths.len(),
        expected.len(),
        "undocumented expectations: {:?}",
        paths.keys()
    );
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for schema in [
        "ErrorBody",
        "CommandReply",
        "Post",
        "Order",
        "Money",
        "Event",
    ] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    // The input rules are stated, with the domain's limits.
    let message = &schemas["CreatePost"]["properties"]["message"];
    assert_eq!(
        message["maxLength"],
        cqrsplus_domain::post::MAX_MESSAGE_CHARS,
        "{message}"
    );
    assert_eq!(message["minLength"], 1, "{message}");
    assert!(message["pattern"].is_string(), "{message}");
    let quantity = &schemas["NewOrderItem"]["properties"]["quantity"];
    assert_eq!(quantity["minimum"], 1, "{quantity}");
    assert_eq!(
        quantity["maximum"],
        cqrsplus_domain::order::MAX_QUANTITY,
        "{quantity}"
    );
    assert_eq!(
        schemas["PlaceOrder"]["properties"]["items"]["maxItems"],
        cqrsplus_domain::order::MAX_ITEMS
    );
    let author = paths["/api/v1/posts"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "author")
        .expect("author filter");
    assert!(author["schema"]["maxLength"].is_number(), "{author}");

    let page = gw.get("/api/v1/docs").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(page.text.contains("/api/v1/openapi.json"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    assert_eq!(gw.get("/healthz").await.status, StatusCode::OK);
    gw.get("/api/v1/posts/not-a-uuid").await;
    let reply = gw.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text;
    assert!(
        text.lines()
            .any(|l| l.starts_with("gateway_http_requests_total")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")),
        "{text}"
    );
    // The template, not the raw id, labels the request.
    assert!(text.contains("route=\"/api/v1/posts/{id}\""), "{text}");
    assert!(!text.contains("not-a-uuid"), "{text}");
}

async fn preflight(gw: &Gateway, origin: &str) -> common::Reply {
    gw.send(
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/posts")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn cors_is_closed_unless_origins_are_configured() {
    let closed = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let reply = preflight(&closed, "http://evil.example").await;
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "{:?}",
        reply.headers
    );

    let open = Gateway::new(&config(
        CLOSED,
        CLOSED,
        &[
            "--cors-allowed-origins",
            "http://localhost:5173,http://ui.example",
        ],
    ));
    let reply = preflight(&open, "http://ui.example").await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://ui.example")
    );
    assert!(
        reply
            .header("access-control-allow-headers")
            .is_some_and(|h| h.contains("authorization")),
        "{:?}",
        reply.headers
    );
    let reply = preflight(&open, "http://evil.example").await;
    assert!(reply.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn an_open_event_stream_does_not_hold_up_a_graceful_stop() {
    let app = gateway::startup::Application::build(config(
        CLOSED,
        CLOSED,
        &["--kafka-brokers", &testkit::kafka::brokers()],
    ))
    .await
    .expect("gateway");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            b"GET /api/v1/events HTTP/1.1\r\nHost: gateway\r\nAccept: text/event-stream\r\n\r\n",
        )
        .await
        .expect("request");
    let mut head = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head))
        .await
        .expect("response in time")
        .expect("read");
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");

    stop.send(()).expect("stop");
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops although a stream was open")
        .expect("join");
    result.expect("clean stop");
}
