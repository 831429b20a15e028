//! A fresh Postgres database per test, on the server in `TEST_DATABASE_URL`.

use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

/// The server tests use, without a database name.
pub fn server_url() -> String {
    super::env_or(
        "TEST_DATABASE_URL",
        "postgres://postgres:postgres@127.0.0.1:5432",
    )
}

/// A database created for one test. Test databases are named `t_<uuid>`; `scripts/test.sh` drops
/// the ones earlier runs left behind.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

/// Creates an empty database and connects a pool to it.
pub async fn fresh_database() -> TestDatabase {
    let name = super::unique_name("t");
    let server = server_url();
    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap_or_else(|e| {
            panic!("postgres at {server} is not reachable ({e}); run scripts/infra.sh up")
        });
    // The name is ours (a UUID), not input, so formatting it into the statement is safe.
    sqlx::raw_sql(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let url = format!("{server}/{name}");
    let pool = PgPool::connect(&url)
        .await
        .expect("connect to test database");
    TestDatabase { name, url, pool }
}
