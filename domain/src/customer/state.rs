//! The customer's state and its decisions: `handle` applies the rules, `apply` folds events.
//!
//! Must not depend on the other aggregates; orders check customers through
//! `order::ensure_customer_may_order`, not the other way round.

use serde::{Deserialize, Serialize};

use super::command::{CustomerCommand, CustomerDetails, CustomerProfile};
use super::event::CustomerEvent;
use crate::{Aggregate, CommandContext, DomainError};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Normalized details; `None` until registered.
    details: Option<CustomerDetails>,
}

impl Customer {
    pub fn details(&self) -> Option<&CustomerDetails> {
        self.details.as_ref()
    }

    /// The current normalized email, which the store holds reserved for this customer.
    pub fn email(&self) -> Option<&str> {
        self.details.as_ref().map(|details| details.email.as_str())
    }

    fn register(&self, profile: CustomerProfile) -> Result<Vec<CustomerEvent>, DomainError> {
        if self.details.is_some() {
            return Err(DomainError::AlreadyExists("customer".to_owned()));
        }
        let CustomerDetails {
            name,
            email,
            phone,
            segment,
            region,
        } = profile.into_details();
        Ok(vec![CustomerEvent::CustomerRegistered {
            name,
            email,
            phone,
            segment,
            region,
        }])
    }

    fn update(&self, profile: CustomerProfile) -> Result<Vec<CustomerEvent>, DomainError> {
        let Some(current) = &self.details else {
            return Err(DomainError::NotFound("customer".to_owned()));
        };
        let details = profile.into_details();
        // Nothing changed, so nothing happened: no event, and no needless projection work.
        if &details == current {
            return Ok(Vec::new());
        }
        let CustomerDetails {
            name,
            email,
            phone,
            segment,
            region,
        } = details;
        Ok(vec![CustomerEvent::CustomerUpdated {
            name,
            email,
            phone,
            segment,
            region,
        }])
    }
}

impl Aggregate for Customer {
    const TYPE: &'static str = "customer";

    type Command = CustomerCommand;
    type Event = CustomerEvent;

    fn handle(
        &self,
        command: CustomerCommand,
        _ctx: &CommandContext,
    ) -> Result<Vec<CustomerEvent>, DomainError> {
        match command {
            CustomerCommand::Register(profile) => self.register(profile),
            CustomerCommand::Update(profile) => self.update(profile),
        }
    }

    fn apply(&mut self, event: &CustomerEvent) {
        match event {
            CustomerEvent::CustomerRegistered {
                name,
                email,
                phone,
                segment,
                region,
            }
            | CustomerEvent::CustomerUpdated {
                name,
                email,
                phone,
                segment,
                region,
            } => {
                self.details = Some(CustomerDetails {
                    name: name.clone(),
                    email: email.clone(),
                    phone: phone.clone(),
                    segment: segment.clone(),
                    region: region.clone(),
                });
            }
        }
    }

    fn exists(&self) -> bool {
        self.details.is_some()
    }
}
