//! What the gateway's integration tests share: the real services started in-process on port 0,
//! a gateway router over them, and a small JSON client that calls the router without a socket.

#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use clap::Parser;
use gateway::{
    config::Config,
    startup::{AppState, router},
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A port nothing listens on, for "service down" cases.
pub const CLOSED: &str = "http://127.0.0.1:1";

/// The secret tests sign tokens with.
pub const SECRET: &str = "test-secret-test-secret-test-secret!";

pub fn web_dir() -> PathBuf {
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

/// A gateway config against the given services, with auth (secret and dev sign-in) on unless
/// `extra` says otherwise.
pub fn config(command_url: &str, query_url: &str, extra: &[&str]) -> Config {
    let web = web_dir();
    let mut args = vec![
        "gateway",
        "--http-addr",
        "127.0.0.1:0",
        "--command-service-url",
        command_url,
        "--query-service-url",
        query_url,
        "--web-dir",
        web.to_str().expect("utf8 path"),
    ];
    // Defaults for the flags `extra` does not set (clap refuses a flag given twice).
    for (flag, value) in [("--jwt-secret", SECRET), ("--dev-mode", "true")] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    Config::parse_from(args)
}

/// An in-process command-service on its own MongoDB database; returns its URL.
pub async fn command_service() -> String {
    let mut config = command_service::config::Config::ephemeral(
        &testkit::mongo::uri(),
        &testkit::unique_name("t"),
        &testkit::kafka::brokers(),
    );
    config.kafka_topic_prefix = testkit::kafka::topic_prefix().to_owned();
    let app = command_service::startup::Application::build(config)
        .await
        .expect("command-service");
    let url = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    url
}

/// An in-process query-service (projector on) on a fresh Postgres database; returns its URL.
pub async fn query_service(command_url: &str) -> String {
    let db = testkit::postgres::fresh_database().await;
    let mut config =
        query_service::config::Config::ephemeral(&db.url, &testkit::kafka::brokers(), command_url);
    config.kafka_topic_prefix = testkit::kafka::topic_prefix().to_owned();
    let app = query_service::startup::Application::build(config)
        .await
        .expect("query-service");
    let url = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    url
}

/// A gateway router and the state behind it.
#[derive(Clone)]
pub struct Gateway {
    pub router: Router,
    pub state: AppState,
}

/// The answer to one call.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not json ({e}): {} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and the error code of the JSON error shape.
    pub fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(body.get("details").is_some(), "{body}");
        body
    }
}

impl Gateway {
    pub fn new(config: &Config) -> Self {
        let state = AppState::from_config(config).expect("state");
        Self {
            router: router(state.clone(), config),
            state,
        }
    }

    /// Signs in through the dev route.
    pub async fn token(&self, subject: &str, roles: &[&str]) -> String {
        let reply = self
            .call(
                Method::POST,
                "/api/v1/dev/sign-in",
                None,
                Some(serde_json::json!({ "subject": subject, "roles": roles })),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["token"].as_str().expect("token").to_owned()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body), &[])
            .await
    }
}

/// A gRPC server that answers every call, whatever the service and method, with the status
/// `answer` makes: the failures real services do not produce on demand. Serves on `listener`
/// until the test ends.
pub fn serve_stub(listener: tokio::net::TcpListener, answer: fn() -> tonic::Status) {
    let answer = move || async move { answer().into_http::<axum::body::Body>() };
    let routes = tonic::service::Routes::from(Router::new().fallback(answer));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
}

/// [`serve_stub`] on a port of its own; returns its URL.
pub async fn stub_backend(answer: fn() -> tonic::Status) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    serve_stub(listener, answer);
    url
}

/// A server that accepts connections and never answers anything on them (a frozen process);
/// returns its URL.
pub async fn silent_backend() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        // Held, not dropped: a closed connection would be an answer.
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}
