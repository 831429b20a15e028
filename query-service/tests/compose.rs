//! docker-compose.yml and .env.example stay true to the settings query-service accepts.

use clap::CommandFactory;

#[test]
fn compose_environment_matches_the_config() {
    let command = query_service::config::Config::command();
    testkit::compose::assert_service_matches("query-service", command.clone());
    // The one-shot migration container runs the same binary.
    testkit::compose::assert_service_matches("migrations", command);
}
