//! The read database in trouble, on the real Postgres: it refuses connections for a while
//! (`ALLOW_CONNECTIONS false` with its backends terminated, SQLSTATE 55000 for every new
//! connection), a connection drops in the middle of a batch, and it refuses new connections while
//! pooled ones still work. Events keep arriving throughout. Nothing may be parked for it (the
//! projector pauses and retries), everything must be applied afterwards, and reads meanwhile
//! answer UNAVAILABLE with a retry hint, never INTERNAL.

mod common {
    pub mod events;
}

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use common::events::{Stream, created, delivered, liked};
use cqrsplus_proto::{
    error_code::RETRY_AFTER_MS_METADATA,
    query::v1::{GetPostRequest, query_service_server::QueryService},
};
use query_service::{
    grpc::QueryApi,
    projector::{Delivery, Outcome, Projector},
    read_model::{self, MIGRATOR},
};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, postgres::PgPoolOptions};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// An admin connection (to the `postgres` database) that can close and open the test database.
struct Admin {
    conn: PgConnection,
    database: String,
}

impl Admin {
    async fn connect(database: &str) -> Self {
        let url = format!("{}/postgres", testkit::postgres::server_url());
        Self {
            conn: PgConnection::connect(&url).await.expect("admin connection"),
            database: database.to_owned(),
        }
    }

    async fn allow_connections(&mut self, allow: bool) {
        // The name is ours (testkit's `t_<uuid>`), not input.
        sqlx::raw_sql(AssertSqlSafe(format!(
            r#"alter database "{}" allow_connections {allow}"#,
            self.database
        )))
        .execute(&mut self.conn)
        .await
        .expect("alter database");
    }

    /// Terminates the backends of the test database, all of them or the one `pid`.
    async fn terminate(&mut self, pid: Option<i32>) -> usize {
        let killed: Vec<bool> = sqlx::query_scalar(
            "select pg_terminate_backend(pid) from pg_stat_activity
              where datname = $1 and pid <> pg_backend_pid() and ($2::int4 is null or pid = $2)",
        )
        .bind(&self.database)
        .bind(pid)
        .fetch_all(&mut self.conn)
        .await
        .expect("terminate backends");
        killed.len()
    }

    /// The backend of the test database waiting for a lock, once there is one.
    async fn backend_waiting_for_a_lock(&mut self) -> i32 {
        for _ in 0..600 {
            let pid: Option<i32> = sqlx::query_scalar(
                "select pid from pg_stat_activity
                  where datname = $1 and wait_event_type = 'Lock' limit 1",
            )
            .bind(&self.database)
            .fetch_optional(&mut self.conn)
            .await
            .expect("pg_stat_activity");
            if let Some(pid) = pid {
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the projector's batch never waited for the lock");
    }
}

/// Counts the warnings and errors query-service logs (its own targets only).
struct CountingSubscriber(Arc<AtomicU64>);

impl tracing::Subscriber for CountingSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let meta = event.metadata();
        if *meta.level() <= tracing::Level::WARN && meta.target().starts_with("query_service") {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Applies each batch patiently, in order, as the consumer loop does, and returns the outcomes.
fn feed(
    projector: Projector,
    batches: Vec<Vec<Delivery>>,
    pause: Duration,
) -> tokio::task::JoinHandle<Vec<Outcome>> {
    tokio::spawn(async move {
        let never = CancellationToken::new();
        let mut outcomes = Vec::new();
        for batch in batches {
            let done = projector
                .apply_until_done(&batch, &never)
                .await
                .expect("not cancelled");
            outcomes.extend(done);
            tokio::time::sleep(pause).await;
        }
        outcomes
    })
}

/// Each post: created and liked once, in one batch.
fn post_batches(count: usize) -> (Vec<Uuid>, Vec<Vec<Delivery>>) {
    (0..count)
        .map(|n| {
            let mut post = Stream::new("post");
            let batch = vec![
                delivered(&post.next(0, created("alice", &format!("post {n}")))),
                delivered(&post.next(1, liked("bob"))),
            ];
            (post.id(), batch)
        })
        .unzip()
}

/// Reads `post_id` through the gRPC handler; counts answers by kind and checks that a failure is
/// UNAVAILABLE with a retry hint.
async fn read(api: &QueryApi, post_id: Uuid, unavailable: &AtomicU64) {
    let request = tonic::Request::new(GetPostRequest {
        post_id: post_id.to_string(),
        ..Default::default()
    });
    match api.get_post(request).await {
        Ok(_) => {}
        Err(status) => {
            assert_eq!(
                status.code(),
                tonic::Code::Unavailable,
                "a read while the database refuses connections: {status:?}"
            );
            assert!(
                status.metadata().get(RETRY_AFTER_MS_METADATA).is_some(),
                "UNAVAILABLE carries {RETRY_AFTER_MS_METADATA}: {status:?}"
            );
            unavailable.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn parked(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from dead_letters")
        .fetch_one(pool)
        .await
        .expect("dead letters")
}

#[tokio::test]
async fn a_read_database_outage_parks_nothing_and_reads_answer_unavailable() {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let mut admin = Admin::connect(&db.name).await;
    // The service's own pool settings; readers and the projector share it, as in the service.
    let pool = read_model::connect(&db.url).await.expect("connect");
    let projector = Projector::new(pool.clone(), Some("test-group".into()));
    let api = QueryApi::new(pool.clone(), Duration::from_millis(100));
    let unavailable = Arc::new(AtomicU64::new(0));

    let (first_ids, first) = post_batches(1);
    let seeded = projector.apply(&first[0]).await.expect("seed");
    assert!(seeded.iter().all(|o| *o == Outcome::Applied));
    let known_post = first_ids[0];

    // 1. The database refuses every connection for a while; events keep arriving. The test's
    // runtime has one thread, so this subscriber sees every task's logs.
    let warnings = Arc::new(AtomicU64::new(0));
    let logging = tracing::subscriber::set_default(CountingSubscriber(warnings.clone()));
    admin.allow_connections(false).await;
    assert!(admin.terminate(None).await > 0, "the pool had connections");
    let (ids_1, batches_1) = post_batches(4);
    let fed_1 = feed(projector.clone(), batches_1, Duration::from_millis(100));
    for _ in 0..5 {
        read(&api, known_post, &unavailable).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        unavailable.load(Ordering::Relaxed),
        5,
        "every read during the outage answers UNAVAILABLE"
    );
    admin.allow_connections(true).await;
    let outcomes_1 = tokio::time::timeout(Duration::from_secs(120), fed_1)
        .await
        .expect("the projector resumes after the outage")
        .expect("feeder");
    assert!(
        outcomes_1.iter().all(|o| *o == Outcome::Applied),
        "{outcomes_1:?}"
    );
    drop(logging);
    assert_eq!(
        warnings.load(Ordering::Relaxed),
        2,
        "the outage is logged when it starts and when it ends, not at every retry or read"
    );
    assert_eq!(parked(&pool).await, 0, "nothing parked for an outage");

    // 2. A connection dropped in the middle of a batch, and refused connections after it. The
    // batch waits on a lock held here, so it is surely in flight when its backend is terminated.
    let mut locker = PgConnection::connect(&db.url).await.expect("locker");
    let mut lock = locker.begin().await.expect("begin");
    sqlx::query("lock table posts in exclusive mode")
        .execute(&mut *lock)
        .await
        .expect("lock posts");
    let (ids_2, batches_2) = post_batches(3);
    let fed_2 = feed(projector.clone(), batches_2, Duration::ZERO);
    let waiting = admin.backend_waiting_for_a_lock().await;
    admin.allow_connections(false).await;
    assert_eq!(admin.terminate(Some(waiting)).await, 1);
    lock.commit().await.expect("release the lock");
    read(&api, known_post, &unavailable).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    admin.allow_connections(true).await;
    let outcomes_2 = tokio::time::timeout(Duration::from_secs(120), fed_2)
        .await
        .expect("the projector resumes after the dropped connection")
        .expect("feeder");
    assert!(
        outcomes_2.iter().all(|o| *o == Outcome::Applied),
        "{outcomes_2:?}"
    );
    assert_eq!(
        parked(&pool).await,
        0,
        "nothing parked for a dropped connection"
    );

    // 3. New connections refused while pooled ones still work, and readers keep the pool busy:
    // a batch may fail on a new connection and the next statement succeed on a pooled one. An
    // event must not be parked for the failure that was the connection's.
    // Two live connections, room for a third that the database will refuse.
    let small = PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&db.url)
        .await
        .expect("small pool");
    let busy: Vec<_> = (0..2).map(|_| small.acquire()).collect();
    drop(futures::future::join_all(busy).await);
    let small_projector = Projector::new(small.clone(), Some("test-group".into()));
    let small_api = QueryApi::new(small.clone(), Duration::from_millis(100));
    admin.allow_connections(false).await;
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (small, api, stop, unavailable) = (
                small.clone(),
                small_api.clone(),
                stop.clone(),
                unavailable.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = sqlx::query("select pg_sleep(0.02)").execute(&small).await;
                    read(&api, known_post, &unavailable).await;
                }
            })
        })
        .collect();
    let (ids_3, batches_3) = post_batches(30);
    let single: Vec<Vec<Delivery>> = batches_3
        .into_iter()
        .flat_map(|b| b.into_iter().map(|d| vec![d]))
        .collect();
    let fed_3 = feed(small_projector, single, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_secs(3)).await;
    admin.allow_connections(true).await;
    let outcomes_3 = tokio::time::timeout(Duration::from_secs(120), fed_3)
        .await
        .expect("the projector keeps going")
        .expect("feeder");
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.expect("reader");
    }
    assert!(
        outcomes_3.iter().all(|o| *o == Outcome::Applied),
        "{outcomes_3:?}"
    );

    // Afterwards: nothing parked or held, every post there with its like.
    assert_eq!(parked(&pool).await, 0, "nothing parked");
    let held: i64 = sqlx::query_scalar("select count(*) from held_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(held, 0, "nothing held");
    let all: Vec<Uuid> = [first_ids, ids_1, ids_2, ids_3].concat();
    let liked_posts: i64 = sqlx::query_scalar(
        "select count(*) from posts where post_id = any($1) and like_count = 1 and version = 2",
    )
    .bind(&all)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(liked_posts as usize, all.len(), "every event applied");
}
