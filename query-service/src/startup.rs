//! Building and running query-service: connect and migrate the read database, bind (port 0 in
//! tests), then serve until the shutdown future completes.

use std::{future::Future, net::SocketAddr};

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::server::HealthReporter;

use crate::{config::Config, read_model};

/// A query-service with its listener bound and its read database ready.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    health: HealthReporter,
    health_service: service_kit::grpc::Health,
    pool: PgPool,
}

impl Application {
    /// Prepares the read database (when configured to) and binds the gRPC listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = if config.migrate_on_start {
            read_model::prepare(&config.database_url).await?
        } else {
            read_model::connect(&config.database_url).await?
        };
        let listener = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC listener on {}", config.grpc_addr))?;
        let local_addr = listener.local_addr()?;
        let (health, health_service) = service_kit::grpc::health().await;
        Ok(Self {
            listener,
            local_addr,
            health,
            health_service,
            pool,
        })
    }

    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The read database pool, for tests that look at what was projected.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves gRPC until `shutdown` completes, then lets in-flight calls finish and closes the pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (reflection_v1, reflection_v1alpha) =
            service_kit::grpc::reflection(&[cqrsplus_proto::FILE_DESCRIPTOR_SET])?;
        self.health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        tracing::info!(addr = %self.local_addr, "query-service listening");
        tonic::transport::Server::builder()
            .add_service(self.health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await
            .context("gRPC server failed")?;
        self.pool.close().await;
        tracing::info!("query-service stopped");
        Ok(())
    }
}
