//! query-service binary: `serve` (the default) or `migrate`.

use clap::Parser;
use query_service::{
    config::{Command, Config},
    read_model,
    startup::Application,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::telemetry::init(&config.telemetry)?;
    match config.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(config).await?;
            app.run_until_stopped(service_kit::shutdown::signal()).await
        }
        Command::Migrate => {
            read_model::prepare(&config.database_url).await?;
            tracing::info!("read model is up to date");
            Ok(())
        }
    }
}
