//! MongoDB connection and error classification.
//!
//! Only behaviour that real MongoDB documents is relied on (error code 11000 for a duplicate key,
//! `ping`), so the same code runs against the local wire-compatible server and the official image.
//! Must not know about the event store's documents.

use std::time::Duration;

use mongodb::{
    Client, Database,
    bson::doc,
    error::{ErrorKind, WriteFailure},
    options::ClientOptions,
};

use crate::store::StoreError;

/// MongoDB's code for a unique index violation.
const DUPLICATE_KEY: i32 = 11000;

/// The driver's own waits: how long to look for a usable server, and how long to open a
/// connection. (Whole operations are bounded by the event store's operation timeout.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionOptions {
    pub server_selection_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            server_selection_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Connects and pings, so a wrong URI or a stopped server fails start-up with a clear message
/// instead of the first command. A timeout set in the URI wins over `timeouts`.
pub async fn connect(
    uri: &str,
    database: &str,
    timeouts: ConnectionOptions,
) -> Result<Database, StoreError> {
    let mut options = ClientOptions::parse(uri)
        .await
        .map_err(|e| StoreError::Internal(format!("invalid MongoDB URI: {e}")))?;
    options.app_name = Some("command-service".to_owned());
    options
        .server_selection_timeout
        .get_or_insert(timeouts.server_selection_timeout);
    options
        .connect_timeout
        .get_or_insert(timeouts.connect_timeout);
    let client = Client::with_options(options).map_err(|e| classify(e, "client"))?;
    let db = client.database(database);
    db.run_command(doc! { "ping": 1 })
        .await
        .map_err(|e| classify(e, "ping"))?;
    Ok(db)
}

/// Sorts a driver error into the cases the service handles differently.
pub fn classify(err: mongodb::error::Error, collection: &str) -> StoreError {
    let duplicate = match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|w| w.code == DUPLICATE_KEY)),
        _ => false,
    };
    if duplicate {
        return StoreError::Duplicate {
            collection: collection.to_owned(),
            message: err.to_string(),
        };
    }
    match err.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Internal(err.to_string()),
    }
}
