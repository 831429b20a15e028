//! docker-compose.yml and .env.example stay true to the settings command-service accepts.

use clap::CommandFactory;

#[test]
fn compose_environment_matches_the_config() {
    testkit::compose::assert_service_matches(
        "command-service",
        command_service::config::Config::command(),
    );
}
