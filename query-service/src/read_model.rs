//! The Postgres read database: connecting, creating it when missing, and applying the
//! workspace's `migrations/` (the only way its schema changes).

use std::time::Duration;

use anyhow::Context;
use sqlx::{
    PgPool,
    migrate::{MigrateDatabase, Migrator},
    postgres::{PgPoolOptions, Postgres},
};

/// The read schema, embedded at compile time so a deployed binary cannot run against the wrong
/// migration files.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Connects a pool with short acquire timeouts, so a stopped database shows as UNAVAILABLE
/// instead of hanging calls.
pub async fn connect(database_url: &str) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(5))
        .connect(database_url)
        .await
        .with_context(|| format!("connecting to Postgres at {}", redact(database_url)))
}

/// Creates the database if it does not exist, then applies pending migrations.
pub async fn prepare(database_url: &str) -> anyhow::Result<PgPool> {
    let exists = Postgres::database_exists(database_url)
        .await
        .with_context(|| format!("reaching Postgres at {}", redact(database_url)))?;
    if !exists {
        // Two instances may race here; losing the race to create is fine.
        if let Err(e) = Postgres::create_database(database_url).await
            && !Postgres::database_exists(database_url)
                .await
                .unwrap_or(false)
        {
            return Err(e).context("creating the read database");
        }
        tracing::info!(database = %redact(database_url), "created the read database");
    }
    let pool = connect(database_url).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("applying migrations to the read database")?;
    Ok(pool)
}

/// The URL without its password, for logs and error messages.
pub fn redact(database_url: &str) -> String {
    match url_password_span(database_url) {
        Some((start, end)) => format!("{}***{}", &database_url[..start], &database_url[end..]),
        None => database_url.to_owned(),
    }
}

fn url_password_span(url: &str) -> Option<(usize, usize)> {
    let scheme_end = url.find("://")? + 3;
    let at = scheme_end + url[scheme_end..].find('@')?;
    let colon = scheme_end + url[scheme_end..at].find(':')?;
    Some((colon + 1, at))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/cqrsplus"),
            "postgres://app:***@db:5432/cqrsplus"
        );
    }

    #[test]
    fn urls_without_password_are_unchanged() {
        assert_eq!(
            redact("postgres://app@db:5432/cqrsplus"),
            "postgres://app@db:5432/cqrsplus"
        );
    }
}
