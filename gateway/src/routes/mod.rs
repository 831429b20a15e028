//! The HTTP routes, one module per area. Handlers translate HTTP to gRPC and back; they hold no
//! business rules.

pub mod health;
