//! Read-model queries: SQL over the Postgres read model, answered as the query contract's
//! messages. Each module owns the queries of one area; none of them writes (the projector does).
//!
//! Must not depend on Kafka, the projector or tonic services: the gRPC layer (`crate::grpc`) calls
//! these functions and the HTTP-free tests call them too.

pub mod consistency;
pub mod customers;
pub mod paging;
pub mod posts;
pub mod reports;

/// A database time as the protobuf timestamp the contract uses (the project's one conversion).
pub use cqrsplus_proto::convert::timestamp;

/// Parses a request id field, naming the field when it is not a UUID.
pub fn parse_id(
    field: &'static str,
    value: &str,
) -> Result<uuid::Uuid, crate::error::ServiceError> {
    uuid::Uuid::parse_str(value.trim())
        .map_err(|_| crate::error::ServiceError::invalid(field, format!("{value:?} is not a UUID")))
}
