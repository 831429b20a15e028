//! Building and running command-service: connect the event store and bind the listeners first
//! (so tests can use port 0 and read the ports back), then serve gRPC, run the supervised outbox
//! relay and the metrics endpoint until the shutdown future completes; in-flight calls finish,
//! the relay flushes and releases its lease. Health is SERVING only while the relay runs.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use cqrsplus_proto::command::v1::{
    command_service_server::CommandServiceServer, event_store_server::EventStoreServer,
};
use tokio::{net::TcpListener, sync::watch};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    application::Commands,
    config::Config,
    grpc::CommandGrpc,
    outage::Outage,
    outbox::{Relay, RelayConfig, RelayControl, RelaySupervisor},
    store::{
        MongoEventStore,
        mongo::{self, ConnectionOptions},
    },
};

/// The health service names this binary answers for ("" is the whole server).
const SERVICES: [&str; 3] = [
    "",
    "cqrsplus.command.v1.CommandService",
    "cqrsplus.command.v1.EventStore",
];

/// A command-service with its listeners bound and its stores connected.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    metrics_listener: TcpListener,
    metrics_addr: SocketAddr,
    health: HealthReporter,
    health_service: service_kit::grpc::Health,
    grpc: CommandGrpc<MongoEventStore>,
    relay: Relay,
    supervisor: RelaySupervisor,
}

impl Application {
    /// Connects to the event store (creating its indexes), prepares the relay, binds listeners.
    /// The broker is not needed to start: commands are accepted while it is down, and the
    /// relay publishes the backlog when it returns.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = mongo::connect(
            &config.mongodb_uri,
            &config.mongodb_database,
            ConnectionOptions {
                server_selection_timeout: config.mongodb_server_selection_timeout,
                connect_timeout: config.mongodb_connect_timeout,
            },
        )
        .await
        .with_context(|| format!("connecting to MongoDB at {}", config.mongodb_uri))?;
        let event_store = MongoEventStore::open(&db, config.snapshot_every)
            .await
            .context("preparing the event store collections")?
            .with_operation_timeout(config.mongodb_operation_timeout);
        let instance_id = match config.instance_id.trim() {
            "" => format!("command-service-{}", uuid::Uuid::now_v7()),
            id => id.to_owned(),
        };
        let relay_config = RelayConfig {
            brokers: config.kafka_brokers.clone(),
            topic_partitions: config.kafka_topic_partitions,
            topic_prefix: config.kafka_topic_prefix.clone(),
            batch_size: config.relay_batch_size,
            lease_ttl: config.relay_lease_ttl,
            max_poll_interval: config.relay_max_poll_interval,
            instance_id,
        };
        // One outage state for MongoDB, so the command path and the relay log it once.
        let store_outage = Arc::new(Outage::new("event store"));
        let relay = Relay::new(event_store.clone(), relay_config.clone())
            .context("creating the outbox relay")?
            .with_store_outage(store_outage.clone());
        let supervisor = RelaySupervisor::new(
            event_store.clone(),
            relay_config,
            relay.waker(),
            store_outage.clone(),
            config.relay_restart_backoff,
        );
        let commands = Commands::new(
            event_store.clone(),
            relay.waker(),
            config.aggregate_cache_size,
        )
        .with_outage(store_outage);
        let listener = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC listener on {}", config.grpc_addr))?;
        let metrics_listener = TcpListener::bind(config.metrics_addr)
            .await
            .with_context(|| format!("binding metrics listener on {}", config.metrics_addr))?;
        let (health, health_service) = service_kit::grpc::health().await;
        Ok(Self {
            local_addr: listener.local_addr()?,
            metrics_addr: metrics_listener.local_addr()?,
            listener,
            metrics_listener,
            health,
            health_service,
            grpc: CommandGrpc::new(commands, event_store),
            relay,
            supervisor,
        })
    }

    /// The gRPC address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the Prometheus `/metrics` endpoint.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Whether the outbox relay runs, and a way for tests to kill its task.
    pub fn relay_control(&self) -> RelayControl {
        self.supervisor.control()
    }

    /// Serves until `shutdown` completes, then drains calls and stops the background tasks.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (reflection_v1, reflection_v1alpha) =
            service_kit::grpc::reflection(&[cqrsplus_proto::FILE_DESCRIPTOR_SET])?;
        let background = CancellationToken::new();
        let running = self.supervisor.control().running();
        let relay = tokio::spawn(self.supervisor.run(self.relay, background.clone()));
        let health = tokio::spawn(report_health(self.health, running, background.clone()));
        let metrics = tokio::spawn(service_kit::metrics::serve(
            self.metrics_listener,
            background.clone().cancelled_owned(),
        ));
        tracing::info!(addr = %self.local_addr, metrics = %self.metrics_addr, "command-service listening");
        let served = tonic::transport::Server::builder()
            .add_service(self.health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(CommandServiceServer::new(self.grpc.clone()))
            .add_service(EventStoreServer::new(self.grpc))
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await
            .context("gRPC server failed");
        background.cancel();
        if let Err(e) = relay.await {
            tracing::error!(error = %e, "outbox relay supervisor failed");
        }
        if let Err(e) = health.await {
            tracing::error!(error = %e, "health reporter task failed");
        }
        match metrics.await {
            Ok(Err(e)) => tracing::error!(error = %e, "metrics endpoint failed"),
            Err(e) => tracing::error!(error = %e, "metrics task failed"),
            Ok(Ok(())) => {}
        }
        served?;
        tracing::info!("command-service stopped");
        Ok(())
    }
}

/// Mirrors the relay's state into gRPC health: SERVING while it runs, NOT_SERVING while it is
/// down (a dead relay means commands pile up unpublished: an orchestrator should know).
async fn report_health(
    health: HealthReporter,
    mut relay_running: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    // The relay task starts right away; wait briefly so the first report is not a needless
    // NOT_SERVING.
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        relay_running.wait_for(|running| *running),
    )
    .await;
    loop {
        let status = if *relay_running.borrow_and_update() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for service in SERVICES {
            health.set_service_status(service, status).await;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = relay_running.changed() => if changed.is_err() { return },
        }
    }
}
