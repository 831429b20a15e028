//! The relay lease: one document in `relay_leases` that names the single relay allowed to publish.
//!
//! Owns the lease document and its three operations (acquire-or-renew, release, read). Times are
//! i64 epoch milliseconds computed by the relay, never server-side dates, so the comparison means
//! the same on every MongoDB-compatible server. Must not depend on Kafka.
//!
//! Safety rests on the instances' clocks agreeing to well within the ttl. If they do not, two
//! relays may publish for a while: consumers then see duplicates, which at-least-once delivery
//! allows, and never a lost or reordered first delivery, since each relay publishes in store order.

use mongodb::{
    Collection,
    bson::{Document, doc},
    options::ReturnDocument,
};

use crate::store::{StoreError, commit::lenient_i64, mongo::classify};

/// Collection of relay leases.
pub const RELAY_LEASES: &str = "relay_leases";
/// The `_id` of the outbox relay's lease (one relay for the whole event store).
pub const OUTBOX_LEASE_ID: &str = "outbox";

/// The lease as one relay instance sees it.
#[derive(Clone)]
pub(crate) struct Lease {
    collection: Collection<Document>,
    holder: String,
    ttl_millis: i64,
}

impl Lease {
    pub(crate) fn new(collection: Collection<Document>, holder: String, ttl_millis: i64) -> Self {
        Self {
            collection,
            holder,
            ttl_millis,
        }
    }

    /// Takes the lease when it is free or expired, or extends it when this instance holds it.
    /// `Ok(false)` means another instance holds an unexpired lease.
    pub(crate) async fn acquire_or_renew(&self, now_millis: i64) -> Result<bool, StoreError> {
        // One atomic document operation decides: if two instances race for an expired lease,
        // the filter matches for only one of them, and an upsert racing an existing document
        // fails on the `_id` unique index instead of creating a second lease.
        let taken = self
            .collection
            .find_one_and_update(
                doc! {
                    "_id": OUTBOX_LEASE_ID,
                    "$or": [
                        { "holder": &self.holder },
                        { "expires_at": { "$lt": now_millis } },
                    ],
                },
                doc! { "$set": {
                    "holder": &self.holder,
                    "expires_at": now_millis + self.ttl_millis,
                    "renewed_at": now_millis,
                } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await;
        match taken {
            Ok(Some(lease)) => Ok(lease.get_str("holder") == Ok(self.holder.as_str())),
            // Real MongoDB reports the lost upsert race as a duplicate key; some compatible
            // servers just return no document. Both mean someone else holds the lease.
            Ok(None) => Ok(false),
            Err(e) => match classify(e, RELAY_LEASES) {
                StoreError::Duplicate { .. } => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Gives the lease up at once (if still held), so a successor need not wait for the ttl.
    pub(crate) async fn release(&self) -> Result<(), StoreError> {
        self.collection
            .update_one(
                doc! { "_id": OUTBOX_LEASE_ID, "holder": &self.holder },
                doc! { "$set": { "expires_at": 0_i64 } },
            )
            .await
            .map_err(|e| classify(e, RELAY_LEASES))?;
        Ok(())
    }

    /// The instance named in an unexpired lease, if any.
    pub(crate) async fn holder(&self, now_millis: i64) -> Result<Option<String>, StoreError> {
        let lease = self
            .collection
            .find_one(doc! { "_id": OUTBOX_LEASE_ID })
            .await
            .map_err(|e| classify(e, RELAY_LEASES))?;
        Ok(lease.and_then(|lease| {
            let expires_at = lenient_i64(lease.get("expires_at"))?;
            let holder = lease.get_str("holder").ok()?;
            (expires_at >= now_millis).then(|| holder.to_owned())
        }))
    }
}
