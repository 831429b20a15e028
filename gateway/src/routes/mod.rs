//! The HTTP routes, one module per area. Handlers translate HTTP to gRPC and back; they hold no
//! business rules. Each handler carries its `#[utoipa::path]`, so registering it with its area's
//! `OpenApiRouter` also documents it.

pub mod admin;
pub mod auth;
pub mod customers;
pub mod events;
pub mod health;
pub mod orders;
pub mod posts;
pub mod reply;
pub mod reports;
pub mod streams;
