//! The order's rule beyond the aggregate: only a registered customer may place an order
//! (`order::ensure_customer_may_order`, on the customer as loaded). Nothing is claimed. Must not
//! change customers.

use cqrsplus_domain::{
    customer::Customer,
    order::{Order, OrderCommand, OrderEvent, ensure_customer_may_order},
};
use uuid::Uuid;

use super::AggregateRules;
use crate::{
    error::ServiceError,
    store::{EventStore, Loaded, StoreError},
};

/// Checks the ordering customer.
pub(super) struct OrderRules;

impl<S: EventStore> AggregateRules<S, Order> for OrderRules {
    type Claim = ();

    async fn check(&self, store: &S, command: &OrderCommand) -> Result<(), ServiceError> {
        let OrderCommand::Place(place) = command else {
            return Ok(());
        };
        // A customer is never removed, so checking once before deciding is enough.
        let customer = match store.load::<Customer>(place.customer_id).await {
            Ok(loaded) => loaded,
            // Another kind of aggregate under that id: no customer there.
            Err(StoreError::WrongType { .. }) => Loaded::empty(),
            Err(e) => return Err(e.into()),
        };
        Ok(ensure_customer_may_order(&customer.state)?)
    }

    async fn claim(
        &self,
        _store: &S,
        _id: Uuid,
        _before: &Order,
        _events: &[OrderEvent],
    ) -> Result<(), ServiceError> {
        Ok(())
    }

    async fn committed(&self, _store: &S, _id: Uuid, _claim: ()) {}

    async fn abandoned(&self, _store: &S, _id: Uuid, _claim: (), _failure: &StoreError) {}
}
