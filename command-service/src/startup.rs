//! Building and running command-service: bind first (so tests can use port 0 and read the port
//! back), then serve until the shutdown future completes, draining in-flight calls.

use std::{future::Future, net::SocketAddr};

use anyhow::Context;
use mongodb::Database;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::server::HealthReporter;

use crate::{config::Config, store};

/// A command-service with its listener bound and its stores connected.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    health: HealthReporter,
    health_service: service_kit::grpc::Health,
    // Kept so the connection pool lives as long as the server; the command handlers use it.
    _event_store: Database,
}

impl Application {
    /// Connects to the event store and binds the gRPC listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let event_store = store::mongo::connect(&config.mongodb_uri, &config.mongodb_database)
            .await
            .with_context(|| format!("connecting to MongoDB at {}", config.mongodb_uri))?;
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
            _event_store: event_store,
        })
    }

    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves gRPC until `shutdown` completes, then lets in-flight calls finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (reflection_v1, reflection_v1alpha) =
            service_kit::grpc::reflection(&[cqrsplus_proto::FILE_DESCRIPTOR_SET])?;
        self.health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        tracing::info!(addr = %self.local_addr, "command-service listening");
        tonic::transport::Server::builder()
            .add_service(self.health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await
            .context("gRPC server failed")?;
        tracing::info!("command-service stopped");
        Ok(())
    }
}
