//! A fresh MongoDB database per test, on the server in `TEST_MONGODB_URI`.

use std::time::Duration;

use mongodb::{Client, Database, options::ClientOptions};

/// The server tests use.
pub fn uri() -> String {
    super::env_or("TEST_MONGODB_URI", "mongodb://127.0.0.1:27017")
}

/// A client with short timeouts, so a stopped server fails a test in seconds, not minutes.
pub async fn client() -> Client {
    let uri = uri();
    let mut options = ClientOptions::parse(&uri)
        .await
        .expect("valid TEST_MONGODB_URI");
    options.server_selection_timeout = Some(Duration::from_secs(5));
    Client::with_options(options).expect("mongo client")
}

/// An empty database for one test, named `t_<uuid>`.
pub async fn fresh_database() -> Database {
    client().await.database(&super::unique_name("t"))
}
