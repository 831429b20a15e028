//! The post's rules beyond the aggregate: none. A post needs nothing from another aggregate, so
//! its commands are decided by `Post::handle` alone. Must not depend on other aggregates.

use cqrsplus_domain::post::{Post, PostCommand, PostEvent};
use uuid::Uuid;

use super::AggregateRules;
use crate::{
    error::ServiceError,
    store::{EventStore, StoreError},
};

/// No cross-aggregate rule.
pub(super) struct PostRules;

impl<S: EventStore> AggregateRules<S, Post> for PostRules {
    type Claim = ();

    async fn check(&self, _store: &S, _command: &PostCommand) -> Result<(), ServiceError> {
        Ok(())
    }

    async fn claim(
        &self,
        _store: &S,
        _id: Uuid,
        _before: &Post,
        _events: &[PostEvent],
    ) -> Result<(), ServiceError> {
        Ok(())
    }

    async fn committed(&self, _store: &S, _id: Uuid, _claim: ()) {}

    async fn abandoned(&self, _store: &S, _id: Uuid, _claim: (), _failure: &StoreError) {}
}
