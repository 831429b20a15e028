//! A bounded, per-instance cache of loaded aggregates, so a command on a hot aggregate skips the
//! reads of `load`.
//!
//! It may be stale (another instance appended): that is safe because the store refuses an append
//! decided on an old version, and the caller re-decides on a fresh load when a cached state led
//! to a conflict or a refusal. Must not depend on the store or gRPC.

use std::{
    any::Any,
    collections::{HashMap, VecDeque},
    sync::{Mutex, PoisonError},
};

use cqrsplus_domain::Aggregate;
use uuid::Uuid;

use crate::store::Loaded;

/// Aggregates by id, of any type, evicted oldest-inserted first.
pub struct AggregateCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Uuid, Box<dyn Any + Send>>,
    order: VecDeque<Uuid>,
}

impl AggregateCache {
    /// A cache of at most `capacity` aggregates; 0 disables it.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// A copy of the cached aggregate, if it is there and of type `A`.
    pub fn get<A: Aggregate>(&self, id: Uuid) -> Option<Loaded<A>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .entries
            .get(&id)
            .and_then(|entry| entry.downcast_ref::<Loaded<A>>())
            .cloned()
    }

    pub fn put<A: Aggregate>(&self, id: Uuid, loaded: Loaded<A>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.entries.insert(id, Box::new(loaded)).is_none() {
            inner.order.push_back(id);
        }
        while inner.entries.len() > self.capacity {
            match inner.order.pop_front() {
                Some(oldest) => {
                    inner.entries.remove(&oldest);
                }
                None => break,
            }
        }
    }

    pub fn remove(&self, id: Uuid) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.entries.remove(&id).is_some() {
            inner.order.retain(|cached| *cached != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrsplus_domain::{customer::Customer, post::Post};

    use super::*;

    fn loaded<A: Aggregate>(version: u64) -> Loaded<A> {
        Loaded {
            state: A::default(),
            version,
            position: 0,
        }
    }

    #[test]
    fn returns_what_was_put_and_only_as_its_type() {
        let cache = AggregateCache::new(10);
        let id = Uuid::now_v7();
        cache.put::<Post>(id, loaded(3));
        assert_eq!(cache.get::<Post>(id).map(|l| l.version), Some(3));
        assert!(
            cache.get::<Customer>(id).is_none(),
            "another type must miss"
        );
        cache.remove(id);
        assert!(cache.get::<Post>(id).is_none());
    }

    #[test]
    fn evicts_the_oldest_beyond_capacity() {
        let cache = AggregateCache::new(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        for (version, id) in ids.iter().enumerate() {
            cache.put::<Post>(*id, loaded(version as u64));
        }
        assert!(cache.get::<Post>(ids[0]).is_none());
        assert!(cache.get::<Post>(ids[1]).is_some());
        assert!(cache.get::<Post>(ids[2]).is_some());
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = AggregateCache::new(0);
        let id = Uuid::now_v7();
        cache.put::<Post>(id, loaded(1));
        assert!(cache.get::<Post>(id).is_none());
    }
}
