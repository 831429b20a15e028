//! The customer aggregate: who orders, with the contact and grouping details the reports use.
//!
//! Owns customer commands, events, state and their rules, including the email normalization the
//! store uses for its uniqueness reservation. Must not depend on the other aggregates, and cannot
//! itself know whether an email is taken: uniqueness across customers is the store's job.

mod command;
mod event;
mod state;
#[cfg(test)]
mod tests;

pub use command::{
    CustomerCommand, CustomerDetails, CustomerName, CustomerProfile, Email, MAX_EMAIL_CHARS,
    MAX_GROUP_CHARS, MAX_NAME_CHARS, MAX_PHONE_CHARS, MIN_PHONE_CHARS, Phone, ProfileInput, Region,
    Segment,
};
pub use event::CustomerEvent;
pub use state::Customer;
