//! MongoDB connection and error classification.
//!
//! Only behaviour that real MongoDB documents is relied on (error code 11000 for a duplicate key,
//! `ping`), so the same code runs against the local wire-compatible server and the official image.

use std::time::Duration;

use mongodb::{
    Client, Database,
    bson::doc,
    error::{ErrorKind, WriteFailure},
    options::ClientOptions,
};

use super::StoreError;

/// MongoDB's code for a unique index violation.
const DUPLICATE_KEY: i32 = 11000;

/// Connects and pings, so a wrong URI or a stopped server fails start-up with a clear message
/// instead of the first command.
pub async fn connect(uri: &str, database: &str) -> Result<Database, StoreError> {
    let mut options = ClientOptions::parse(uri)
        .await
        .map_err(|e| StoreError::Internal(format!("invalid MongoDB URI: {e}")))?;
    options.app_name = Some("command-service".to_owned());
    // Short defaults so a stopped server fails fast; a timeout set in the URI wins.
    options
        .server_selection_timeout
        .get_or_insert(Duration::from_secs(5));
    options
        .connect_timeout
        .get_or_insert(Duration::from_secs(5));
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
