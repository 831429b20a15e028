//! command-service binary: parse config, start logging, serve until SIGTERM.

use clap::Parser;
use command_service::{config::Config, startup::Application};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::telemetry::init(&config.telemetry)?;
    let app = Application::build(config).await?;
    app.run_until_stopped(service_kit::shutdown::signal()).await
}
