//! A private Kafka-protocol broker for one test, and consumers that read only what a test produced.
//!
//! Tests that stop and restart a broker cannot touch the shared one on 9092: they start their own
//! `nisshi` process on a free port, with durable storage in a fresh Postgres database, so topics
//! and messages survive the restart just as they would on a real cluster. The binary comes from
//! `NISSHI_BIN`, else the place `scripts/infra.sh` builds it.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, StreamConsumer},
};
use tokio::process::{Child, Command};

/// The nisshi binary: `NISSHI_BIN`, else `$CQRSPLUS_CACHE` (or `~/.cache/cqrsplus`)
/// `/nisshi-0.8.1/bin/nisshi`.
pub fn nisshi_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("NISSHI_BIN") {
        return PathBuf::from(bin);
    }
    let cache = std::env::var("CQRSPLUS_CACHE").map_or_else(
        |_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned()))
                .join(".cache/cqrsplus")
        },
        PathBuf::from,
    );
    cache.join("nisshi-0.8.1/bin/nisshi")
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A broker process of this test's own. Dropping it kills the process.
pub struct PrivateBroker {
    port: u16,
    storage_url: String,
    log_path: PathBuf,
    child: Option<Child>,
}

impl PrivateBroker {
    /// Creates an empty Postgres database for the broker's storage, starts the broker on a free
    /// port and waits until it answers a metadata request.
    pub async fn start() -> Self {
        let database = super::postgres::fresh_database().await;
        database.pool.close().await;
        let storage_url = format!("{}?sslmode=disable", database.url);
        let log_path = std::env::temp_dir().join(format!("{}-nisshi.log", database.name));
        let mut broker = Self {
            port: free_port(),
            storage_url,
            log_path,
            child: None,
        };
        broker.resume().await;
        broker
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Client settings pointing at this broker.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.brokers());
        config
    }

    /// Kills the broker (as a crash would) and waits until its port is closed.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill the private broker");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while port_open(self.port).await {
            assert!(
                Instant::now() < deadline,
                "port {} still open after the broker was killed",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the broker again on the same port and storage, and waits until it is ready.
    pub async fn resume(&mut self) {
        assert!(
            self.child.is_none(),
            "the private broker is already running"
        );
        let bin = nisshi_bin();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open the broker log");
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&bin)
            .arg("broker")
            .args(["--storage-engine", &self.storage_url])
            .args(["--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin:?} ({e}); run scripts/infra.sh up or set NISSHI_BIN")
            });
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(30)).await;
    }

    async fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "the private broker exited with {status}:\n{}",
                    self.log_tail()
                );
            }
            if port_open(self.port).await && metadata_answers(&self.brokers()).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the private broker on port {} was not ready within {within:?}:\n{}",
                self.port,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The end of the broker's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

async fn port_open(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

async fn metadata_answers(brokers: &str) -> bool {
    let brokers = brokers.to_owned();
    tokio::task::spawn_blocking(move || {
        let Ok(client) = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create::<BaseConsumer>()
        else {
            return false;
        };
        client.fetch_metadata(None, Duration::from_secs(3)).is_ok()
    })
    .await
    .unwrap_or(false)
}

/// Where a consumer made by [`consumer`] starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Every message the topics hold.
    Beginning,
    /// Only messages produced after this call: shared topics keep what earlier tests produced.
    Now,
}

/// A consumer in a fresh group, assigned every partition of `topics` (which must exist) at the
/// given start. Assigning instead of subscribing skips the group's join delay and rebalances.
pub async fn consumer(brokers: &str, topics: &[&str], start: Start) -> StreamConsumer {
    let brokers = brokers.to_owned();
    let topics: Vec<String> = topics.iter().map(|t| (*t).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", super::unique_name("g"))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("kafka consumer");
        let timeout = Duration::from_secs(10);
        let mut assignment = TopicPartitionList::new();
        for topic in &topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), timeout)
                .unwrap_or_else(|e| panic!("metadata of {topic} from {brokers}: {e}"));
            let partitions = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .map(|t| t.partitions().len())
                .unwrap_or(0);
            assert!(
                partitions > 0,
                "topic {topic} has no partitions on {brokers}"
            );
            for partition in 0..partitions as i32 {
                let offset = match start {
                    Start::Beginning => Offset::Beginning,
                    Start::Now => {
                        let (_, high) = consumer
                            .fetch_watermarks(topic, partition, timeout)
                            .unwrap_or_else(|e| panic!("watermarks of {topic}/{partition}: {e}"));
                        Offset::Offset(high)
                    }
                };
                assignment
                    .add_partition_offset(topic, partition, offset)
                    .expect("add partition");
            }
        }
        consumer.assign(&assignment).expect("assign partitions");
        consumer
    })
    .await
    .expect("consumer setup task")
}
