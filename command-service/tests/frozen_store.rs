//! A frozen event store (its server process stopped with SIGSTOP, so connections stay open but
//! nothing answers) is answered UNAVAILABLE within the store's operation timeout, well before a
//! client's own deadline; once the server runs again, commands succeed, and a retry of the
//! timed-out command (same command id) is applied at most once.
//!
//! The outage is logged once when it starts and once when it ends, however many commands fail
//! meanwhile (each failed command is logged once too).
//!
//! The test starts its own nx-27017 process on a free port: the shared server must never be
//! stopped.

mod support;

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use command_service::{config::Config, startup::Application};
use cqrsplus_proto::{
    command::v1::{self as pb, command_service_client::CommandServiceClient},
    error_code,
};
use nix::{sys::signal::Signal, unistd::Pid};
use support::Logs;
use tokio::process::{Child, Command};
use tonic::{Code, Request, transport::Channel};

const OPERATION_TIMEOUT: Duration = Duration::from_secs(2);

/// The nx-27017 executable: `NX_27017_BIN`, else the virtualenv `scripts/infra.sh` installs.
fn nx_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("NX_27017_BIN") {
        return PathBuf::from(bin);
    }
    let cache = std::env::var("CQRSPLUS_CACHE").map_or_else(
        |_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned()))
                .join(".cache/cqrsplus")
        },
        PathBuf::from,
    );
    cache.join("venv-nx-27017-0.8.1/bin/nx-27017")
}

/// A private nx-27017 server, in memory, killed when dropped.
struct PrivateMongo {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl PrivateMongo {
    async fn start() -> Self {
        let dir = TempDir::new();
        let port = testkit::broker::free_port();
        let bin = nx_bin();
        let child = Command::new(&bin)
            .args(["--data-dir", "memory", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .arg("--log-file")
            .arg(dir.0.join("nx.log"))
            .arg("--pid-file")
            .arg(dir.0.join("nx.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin:?} (scripts/infra.sh up installs it): {e}")
            });
        let server = Self {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "nx-27017 did not listen on {port} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("nx-27017 still running");
        nix::sys::signal::kill(Pid::from_raw(pid as i32), signal).expect("signal nx-27017");
    }
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(testkit::unique_name("nx"));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn as_user<T>(actor: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        error_code::ACTOR_METADATA,
        actor.parse().expect("ascii actor"),
    );
    request
}

fn like(post_id: &str, command_id: &str) -> pb::LikePostRequest {
    pb::LikePostRequest {
        post_id: post_id.to_owned(),
        options: Some(pb::CommandOptions {
            command_id: Some(command_id.to_owned()),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn a_frozen_event_store_answers_unavailable_within_its_timeout_and_recovers() {
    let logs = Logs::install();
    let mongo = PrivateMongo::start().await;
    let mut config = Config::ephemeral(
        &mongo.uri(),
        &testkit::unique_name("t"),
        &testkit::kafka::brokers(),
    );
    config.kafka_topic_prefix = testkit::kafka::topic_prefix().to_owned();
    config.mongodb_operation_timeout = OPERATION_TIMEOUT;
    config.mongodb_server_selection_timeout = Duration::from_secs(1);
    config.mongodb_connect_timeout = Duration::from_secs(1);
    let app = Application::build(config).await.expect("build");
    let url = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let mut client = CommandServiceClient::new(
        Channel::from_shared(url)
            .expect("url")
            .connect()
            .await
            .expect("connect"),
    );

    let post_id = client
        .create_post(as_user(
            "alice",
            pb::CreatePostRequest {
                message: "hello".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("create post")
        .into_inner()
        .result
        .expect("result")
        .aggregate_id;

    mongo.signal(Signal::SIGSTOP);
    let command_id = uuid::Uuid::now_v7().to_string();
    let started = Instant::now();
    // The outer bound only keeps a broken build from hanging the test run.
    let frozen = tokio::time::timeout(
        Duration::from_secs(60),
        client.like_post(as_user("bob", like(&post_id, &command_id))),
    )
    .await
    .expect("the call must end on its own");
    let waited = started.elapsed();
    // More commands fail while it stays frozen; the outage was logged once already.
    let mut others = Vec::new();
    for i in 0..4 {
        let mut client = client.clone();
        let request = like(&post_id, &uuid::Uuid::now_v7().to_string());
        others.push(tokio::spawn(async move {
            client
                .like_post(as_user(&format!("other-{i}"), request))
                .await
        }));
    }
    for other in others {
        let status = other.await.expect("join").expect_err("still frozen");
        assert_eq!(status.code(), Code::Unavailable);
    }
    let failed_commands = logs
        .lines()
        .iter()
        .filter(|line| line.contains("command failed: event store unavailable"))
        .count();
    assert_eq!(failed_commands, 5, "each failed command is logged once");
    assert_eq!(
        logs.count("event store unavailable"),
        1,
        "one line for the outage:\n{}",
        logs.lines().join("\n")
    );
    let relay_retries = logs
        .lines()
        .iter()
        // Lines of the relay's own (not the outage's) saying a retry failed.
        .filter(|line| {
            line.contains("command_service::outbox")
                && ["not renewed", "backing off", "not measured"]
                    .iter()
                    .any(|retry| line.contains(retry))
        })
        .count();
    assert_eq!(
        relay_retries,
        0,
        "the relay's retries are not logged one by one:\n{}",
        logs.lines().join("\n")
    );
    mongo.signal(Signal::SIGCONT);

    let status = frozen.expect_err("a frozen store cannot accept a command");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        waited < OPERATION_TIMEOUT + Duration::from_secs(5),
        "answered after {waited:?}, the operation timeout is {OPERATION_TIMEOUT:?}"
    );

    // The server runs again: the client retries the same command id until it is answered. The
    // timed-out append may have landed after all; either way the like is applied once.
    let deadline = Instant::now() + Duration::from_secs(30);
    let retried = loop {
        match client
            .like_post(as_user("bob", like(&post_id, &command_id)))
            .await
        {
            Ok(reply) => break reply.into_inner().result.expect("result"),
            Err(status) if status.code() == Code::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("the retry must succeed once the store is back: {status:?}"),
        }
    };
    assert_eq!(retried.version, 2, "one like, applied once");

    let next = client
        .like_post(as_user(
            "carol",
            like(&post_id, &uuid::Uuid::now_v7().to_string()),
        ))
        .await
        .expect("the next command succeeds")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(next.version, 3);
    assert!(
        logs.count("event store available again") >= 1,
        "the end of the outage is logged:\n{}",
        logs.lines().join("\n")
    );
}
