//! Building and running query-service: connect and migrate the read database, subscribe the
//! projector, bind the gRPC and metrics listeners (port 0 in tests), then serve until the shutdown
//! future completes. The projector runs under `crate::supervisor`, which restarts it if it ends
//! and keeps health NOT_SERVING while it is down.

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use cqrsplus_proto::query::v1::{
    query_admin_server::QueryAdminServer, query_service_server::QueryServiceServer,
};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic_health::server::HealthReporter;

use crate::{
    admin::AdminApi,
    config::Config,
    grpc::QueryApi,
    projector::{
        Projector,
        consumer::{self, ConsumerConfig},
    },
    read_model,
    rebuild::Rebuild,
    supervisor::{self, ProjectorControl, Supervised},
};

/// A query-service with its listeners bound, its read database ready and its consumer subscribed.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    metrics_listener: TcpListener,
    metrics_addr: SocketAddr,
    health: HealthReporter,
    health_service: service_kit::grpc::Health,
    pool: PgPool,
    consistency_wait: Duration,
    projector: Projector,
    /// None when the projector is off in this instance.
    consumer: Option<consumer::ProjectorConsumer>,
    consumer_config: ConsumerConfig,
    control: ProjectorControl,
    batch_size: usize,
    rebuild: Rebuild,
}

impl Application {
    /// Prepares the read database (when configured to), subscribes the projector (when enabled)
    /// and binds the listeners.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // The recorder must exist before the first metric is touched.
        service_kit::metrics::handle();
        let pool = if config.migrate_on_start {
            read_model::prepare(&config.database_url).await?
        } else {
            read_model::connect(&config.database_url).await?
        };
        let batch_size = config.projector_batch_size as usize;
        let consumer_config = ConsumerConfig {
            brokers: config.kafka_brokers.clone(),
            group: config.consumer_group.clone(),
            topic_prefix: config.kafka_topic_prefix.clone(),
        };
        let consumer = if config.projector_enabled {
            Some(consumer::subscribe(&consumer_config, &pool)?)
        } else {
            None
        };
        let listener = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC listener on {}", config.grpc_addr))?;
        let metrics_listener = TcpListener::bind(config.metrics_addr)
            .await
            .with_context(|| format!("binding metrics listener on {}", config.metrics_addr))?;
        let (health, health_service) = service_kit::grpc::health().await;
        Ok(Self {
            local_addr: listener.local_addr()?,
            listener,
            metrics_addr: metrics_listener.local_addr()?,
            metrics_listener,
            health,
            health_service,
            projector: Projector::new(pool.clone(), Some(config.consumer_group.clone())),
            pool,
            consistency_wait: config.consistency_wait,
            consumer,
            consumer_config,
            control: ProjectorControl::default(),
            batch_size,
            rebuild: Rebuild::from_config(&config),
        })
    }

    /// A handle that can end the projector task as a crash would (tests of the supervision).
    pub fn projector_control(&self) -> ProjectorControl {
        self.control.clone()
    }

    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the Prometheus `/metrics` endpoint.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// The read database pool, for tests that look at what was projected.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves gRPC until `shutdown` completes, then lets in-flight calls finish, stops the
    /// projector (committing its offsets) and closes the pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (reflection_v1, reflection_v1alpha) =
            service_kit::grpc::reflection(&[cqrsplus_proto::FILE_DESCRIPTOR_SET])?;
        let background = CancellationToken::new();
        let projector = self.consumer.map(|first| {
            tokio::spawn(supervisor::supervise(
                Supervised {
                    first,
                    config: self.consumer_config.clone(),
                    pool: self.pool.clone(),
                    projector: self.projector.clone(),
                    batch_size: self.batch_size,
                    health: self.health.clone(),
                    control: self.control.clone(),
                },
                background.clone(),
            ))
        });
        let metrics = tokio::spawn(service_kit::metrics::serve(
            self.metrics_listener,
            background.clone().cancelled_owned(),
        ));
        // The supervisor turns these NOT_SERVING while the projector is down.
        for service in supervisor::SERVICES {
            self.health
                .set_service_status(service, tonic_health::ServingStatus::Serving)
                .await;
        }
        tracing::info!(addr = %self.local_addr, metrics = %self.metrics_addr, "query-service listening");
        let served = tonic::transport::Server::builder()
            .add_service(self.health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(QueryServiceServer::new(QueryApi::new(
                self.pool.clone(),
                self.consistency_wait,
            )))
            .add_service(QueryAdminServer::new(AdminApi::new(
                self.projector.clone(),
                self.rebuild,
            )))
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await
            .context("gRPC server failed");
        background.cancel();
        if let Some(projector) = projector
            && let Err(e) = projector.await
        {
            tracing::error!(error = %e, "projector supervisor failed");
        }
        match metrics.await {
            Ok(Err(e)) => tracing::error!(error = %e, "metrics endpoint failed"),
            Err(e) => tracing::error!(error = %e, "metrics task failed"),
            Ok(Ok(())) => {}
        }
        self.pool.close().await;
        served?;
        tracing::info!("query-service stopped");
        Ok(())
    }
}
