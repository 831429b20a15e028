//! The customer's rule beyond the aggregate: an email belongs to one customer at a time.
//!
//! A reservation document per normalized email makes it unique: the new email is reserved before
//! the commit, the old one released after it; a commit that does not land gives its reservation
//! back (unless the customer uses that email after all, committed by a racing command). A
//! reservation whose holder does not use the email (left by a crash between reserving and
//! committing, or by a failed release) is taken over by the next customer who asks for it.
//! Must not depend on other aggregates.

use cqrsplus_domain::customer::{Customer, CustomerCommand, CustomerEvent};
use uuid::Uuid;

use super::AggregateRules;
use crate::{
    error::ServiceError,
    store::{EventStore, StoreError},
};

/// Keeps customer emails unique.
pub(super) struct CustomerRules;

/// The email reserved for a commit, and the one it replaces.
#[derive(Debug, Default)]
pub(super) struct EmailClaim {
    reserved: Option<String>,
    replaced: Option<String>,
}

impl<S: EventStore> AggregateRules<S, Customer> for CustomerRules {
    type Claim = EmailClaim;

    async fn check(&self, _store: &S, _command: &CustomerCommand) -> Result<(), ServiceError> {
        Ok(())
    }

    async fn claim(
        &self,
        store: &S,
        id: Uuid,
        before: &Customer,
        events: &[CustomerEvent],
    ) -> Result<EmailClaim, ServiceError> {
        let old_email = before.email().map(str::to_owned);
        // Every customer event carries the full details, so the last one has the new email.
        let new_email = events.last().map(|e| match e {
            CustomerEvent::CustomerRegistered { email, .. }
            | CustomerEvent::CustomerUpdated { email, .. } => email.clone(),
        });
        match new_email {
            Some(email) if Some(&email) != old_email.as_ref() => {
                reserve_email(store, &email, id).await?;
                Ok(EmailClaim {
                    reserved: Some(email),
                    replaced: old_email,
                })
            }
            _ => Ok(EmailClaim::default()),
        }
    }

    async fn committed(&self, store: &S, id: Uuid, claim: EmailClaim) {
        if let (Some(_), Some(old)) = (&claim.reserved, &claim.replaced)
            && let Err(e) = store.release_email(old, id).await
        {
            // Best effort: a leftover reservation is reclaimed when someone asks for it.
            tracing::warn!(customer = %id, error = %e, "old email not released");
        }
    }

    async fn abandoned(&self, store: &S, id: Uuid, claim: EmailClaim, failure: &StoreError) {
        let Some(email) = claim.reserved else {
            return;
        };
        // An append that got no answer may still land: keep the reservation (a reservation its
        // holder does not use is reclaimed later) and spend no more time on an unreachable store.
        if matches!(failure, StoreError::Unavailable(_)) {
            return;
        }
        // A racing command for the same customer may have committed this email with the same
        // reservation: keep it then. If the outcome cannot be read, keep it too: a reservation
        // its holder does not use is reclaimed later, a released one in use is lost for good.
        let in_use = match store.load::<Customer>(id).await {
            Ok(loaded) => loaded.state.email() == Some(email.as_str()),
            Err(_) => true,
        };
        if !in_use && let Err(e) = store.release_email(&email, id).await {
            tracing::warn!(customer = %id, error = %e, "unused email reservation not released");
        }
    }
}

/// Reserves `email` for `customer`, reclaiming a reservation whose holder does not use the
/// email (anymore).
async fn reserve_email<S: EventStore>(
    store: &S,
    email: &str,
    customer: Uuid,
) -> Result<(), ServiceError> {
    match store.reserve_email(email, customer).await {
        Err(StoreError::EmailTaken { .. }) => {
            let Some(holder) = store.email_holder(email).await? else {
                // Released in between: try once more.
                return Ok(store.reserve_email(email, customer).await?);
            };
            let holder_uses_it = match store.load::<Customer>(holder).await {
                Ok(loaded) => loaded.state.email() == Some(email),
                Err(StoreError::WrongType { .. }) => false,
                Err(e) => return Err(e.into()),
            };
            if !holder_uses_it && store.take_over_email(email, holder, customer).await? {
                return Ok(());
            }
            Err(StoreError::EmailTaken {
                email: email.to_owned(),
            }
            .into())
        }
        other => Ok(other?),
    }
}
