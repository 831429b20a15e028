//! docker-compose.yml and .env.example stay true to the settings the gateway accepts.

use clap::CommandFactory;

#[test]
fn compose_environment_matches_the_config() {
    testkit::compose::assert_service_matches("gateway", gateway::config::Config::command());
}
