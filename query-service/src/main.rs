//! query-service binary: `serve` (the default), `migrate` or `rebuild`.

use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use query_service::{
    config::{Command, Config},
    read_model,
    rebuild::{self, Rebuild},
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
        Command::Rebuild => rebuild_with_progress_bar(config).await,
    }
}

/// Runs a rebuild in this process, drawing its progress until it ends.
async fn rebuild_with_progress_bar(config: Config) -> anyhow::Result<()> {
    read_model::prepare(&config.database_url).await?;
    let (progress, run) = Rebuild::from_config(&config).prepare().await?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} {msg:10} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
        )?
        .progress_chars("=> "),
    );
    let run = tokio::spawn(run);
    while !run.is_finished() {
        let p = progress.lock().unwrap_or_else(|e| e.into_inner()).clone();
        bar.set_length(p.events_total.max(p.events_applied));
        bar.set_position(p.events_applied);
        bar.set_message(match p.state {
            rebuild::State::Running => "replaying",
            rebuild::State::Switching => "switching",
            rebuild::State::Completed => "done",
            rebuild::State::Failed => "failed",
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let result = run.await?;
    let p = progress.lock().unwrap_or_else(|e| e.into_inner()).clone();
    bar.set_position(p.events_applied);
    match &result {
        Ok(()) => bar.finish_with_message("done"),
        Err(_) => bar.abandon_with_message("failed"),
    }
    result
}
