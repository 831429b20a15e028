//! Deciding what a batch of deliveries does to the read model, without touching it.
//!
//! Given the deliveries, the checkpoints of their aggregates and the events held after gaps, the
//! plan says for each delivery whether it is applied, a duplicate, held or parked, and folds the
//! applied ones (in version order per aggregate) into row changes per table. Folding in memory is
//! what lets the writer touch each row once per batch with set-based statements.
//!
//! Pure: no I/O, no sqlx or Kafka types; `write` turns a plan into SQL.

use std::collections::{BTreeMap, HashMap, HashSet, btree_map::Entry};

use cqrsplus_domain::{EventEnvelope, customer::CustomerEvent, order::OrderEvent, post::PostEvent};
use time::OffsetDateTime;
use uuid::Uuid;

/// Where a delivery came from: a Kafka message, or nothing for a rebuild's store read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// One event to project, as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub source: Option<Source>,
    /// The bytes as received; kept for dead letters and held events.
    pub payload: Vec<u8>,
    /// The envelope, or why the payload is not one.
    pub envelope: Result<EventEnvelope, String>,
}

impl Delivery {
    /// A Kafka message: the payload is parsed here, a bad one becomes a parked delivery.
    pub fn from_message(source: Source, payload: Vec<u8>) -> Self {
        let envelope = serde_json::from_slice::<EventEnvelope>(&payload)
            .map_err(|e| format!("not an event envelope: {e}"));
        Self {
            source: Some(source),
            payload,
            envelope,
        }
    }

    /// An event read from the event store (rebuilds). It has no payload: the rare one that is held
    /// or parked is serialized then (see [`Delivery::bytes`]), not every event of a rebuild.
    pub fn from_envelope(envelope: EventEnvelope) -> Self {
        Self {
            source: None,
            payload: Vec::new(),
            envelope: Ok(envelope),
        }
    }
}

impl Delivery {
    /// The bytes to keep when this delivery is held or parked: as received, or the envelope
    /// serialized for an event read from the store.
    pub fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match (&self.envelope, self.payload.is_empty()) {
            (Ok(envelope), true) => serde_json::to_vec(envelope)
                .map(std::borrow::Cow::Owned)
                .unwrap_or_default(),
            _ => std::borrow::Cow::Borrowed(&self.payload),
        }
    }
}

/// What happened to a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Its version was already applied.
    Duplicate,
    /// An earlier version is missing; kept in `held_events` until it arrives.
    Held {
        waiting_for: u64,
    },
    /// Retrying cannot apply it; parked in `dead_letters` with the reason.
    Parked(String),
    /// An admin resolved it as skipped (a rebuild meeting an event skipped in the live read
    /// model): its version counts as done, nothing of it is written.
    Skipped,
}

/// Everything the writer must do for a batch.
#[derive(Debug, Default)]
pub struct Plan {
    /// One per delivery, same order.
    pub outcomes: Vec<Outcome>,
    pub posts: BTreeMap<Uuid, PostChange>,
    pub customers: BTreeMap<Uuid, CustomerChange>,
    pub orders: BTreeMap<Uuid, OrderChange>,
    /// New checkpoint per aggregate (only those that moved), with the aggregate type.
    pub checkpoints: BTreeMap<Uuid, (String, u64)>,
    /// Held events applied by this batch, to delete from `held_events`.
    pub released: Vec<(Uuid, u64)>,
    /// Deliveries to hold (index into the batch, with the aggregate and version).
    pub to_hold: Vec<(usize, Uuid, u64)>,
    /// (aggregate, version, event id) of every event applied or skipped by this batch.
    pub done: Vec<(Uuid, u64, Uuid)>,
}

/// A post's row change: a whole new row, or a patch of an existing one.
#[derive(Debug, Clone, PartialEq)]
pub enum PostChange {
    New(PostRow),
    Existing(PostPatch),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostRow {
    pub author: String,
    pub message: String,
    pub like_count: i64,
    pub comment_count: i64,
    pub created_at: OffsetDateTime,
    pub edited_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub version: u64,
    pub likes: BTreeMap<String, LikeChange>,
    pub comments: BTreeMap<Uuid, CommentChange>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PostPatch {
    pub message: Option<(String, OffsetDateTime)>,
    pub like_delta: i64,
    pub comment_delta: i64,
    pub deleted_at: Option<OffsetDateTime>,
    pub version: u64,
    pub likes: BTreeMap<String, LikeChange>,
    pub comments: BTreeMap<Uuid, CommentChange>,
}

/// The last like operation of a user on a post in the batch (the aggregate allows one like per
/// user, so the last operation decides the row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeChange {
    Liked(OffsetDateTime),
    Unliked,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommentChange {
    New {
        author: String,
        text: String,
        created_at: OffsetDateTime,
        edited_at: Option<OffsetDateTime>,
    },
    Edited {
        text: String,
        edited_at: OffsetDateTime,
    },
    Removed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerDetailsRow {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub segment: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CustomerChange {
    New {
        details: CustomerDetailsRow,
        registered_at: OffsetDateTime,
        updated_at: Option<OffsetDateTime>,
        version: u64,
    },
    Updated {
        details: CustomerDetailsRow,
        updated_at: OffsetDateTime,
        version: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItemRow {
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub quantity: i32,
}

/// Status and dates an order event sets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderProgress {
    pub status: Option<&'static str>,
    pub shipped_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub cancel_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrderChange {
    New {
        customer_id: Uuid,
        currency: String,
        total_minor: i64,
        items: Vec<OrderItemRow>,
        placed_at: OffsetDateTime,
        progress: OrderProgress,
        version: u64,
    },
    Existing {
        progress: OrderProgress,
        version: u64,
    },
}

/// An event decoded for its aggregate type.
enum Typed {
    Post(PostEvent),
    Customer(CustomerEvent),
    Order(OrderEvent),
}

fn decode(envelope: &EventEnvelope) -> Result<Typed, String> {
    let typed = match envelope.aggregate_type.as_str() {
        "post" => envelope.decode::<PostEvent>().map(Typed::Post),
        "customer" => envelope.decode::<CustomerEvent>().map(Typed::Customer),
        "order" => envelope.decode::<OrderEvent>().map(Typed::Order),
        other => return Err(format!("unknown aggregate type {other:?}")),
    };
    typed.map_err(|e| format!("cannot decode {}: {e}", envelope.event_type))
}

/// What one aggregate has in the batch: incoming deliveries and held events, by version.
enum Pending {
    Incoming(usize),
    Held(Box<EventEnvelope>),
}

/// Plans a batch. `checkpoints` holds the current version of every aggregate in the batch that
/// has one; `held` the events held for them, whose payloads decoded when they were held; `skip`
/// the ids of events an admin resolved as skipped (counted as done, never folded).
pub fn plan(
    deliveries: &[Delivery],
    checkpoints: &HashMap<Uuid, u64>,
    held: Vec<EventEnvelope>,
    skip: &HashSet<Uuid>,
) -> Plan {
    let mut plan = Plan {
        outcomes: vec![Outcome::Applied; deliveries.len()],
        ..Plan::default()
    };
    let mut pending: BTreeMap<Uuid, BTreeMap<u64, Pending>> = BTreeMap::new();
    let mut aggregate_types: HashMap<Uuid, String> = HashMap::new();
    for event in held {
        aggregate_types.insert(event.aggregate_id, event.aggregate_type.clone());
        pending
            .entry(event.aggregate_id)
            .or_default()
            .insert(event.version, Pending::Held(Box::new(event)));
    }
    for (index, delivery) in deliveries.iter().enumerate() {
        let envelope = match &delivery.envelope {
            Ok(envelope) => envelope,
            Err(reason) => {
                plan.outcomes[index] = Outcome::Parked(reason.clone());
                continue;
            }
        };
        if envelope.version == 0 {
            plan.outcomes[index] = Outcome::Parked("version 0: versions are 1-based".into());
            continue;
        }
        let known_type = aggregate_types
            .entry(envelope.aggregate_id)
            .or_insert_with(|| envelope.aggregate_type.clone());
        if *known_type != envelope.aggregate_type {
            plan.outcomes[index] = Outcome::Parked(format!(
                "aggregate {} is a {known_type}, not a {}",
                envelope.aggregate_id, envelope.aggregate_type
            ));
            continue;
        }
        let checkpoint = checkpoints
            .get(&envelope.aggregate_id)
            .copied()
            .unwrap_or(0);
        if envelope.version <= checkpoint {
            plan.outcomes[index] = Outcome::Duplicate;
            continue;
        }
        match pending
            .entry(envelope.aggregate_id)
            .or_default()
            .entry(envelope.version)
        {
            // The same version twice in one batch (a republish), or already held: the first wins.
            Entry::Occupied(_) => plan.outcomes[index] = Outcome::Duplicate,
            Entry::Vacant(slot) => {
                slot.insert(Pending::Incoming(index));
            }
        }
    }

    for (aggregate_id, versions) in pending {
        let start = checkpoints.get(&aggregate_id).copied().unwrap_or(0);
        let mut next = start + 1;
        for (version, item) in versions {
            if version < next {
                // A held event whose version was applied meanwhile.
                if let Pending::Held(_) = item {
                    plan.released.push((aggregate_id, version));
                }
                continue;
            }
            if version > next {
                if let Pending::Incoming(index) = item {
                    plan.outcomes[index] = Outcome::Held { waiting_for: next };
                    plan.to_hold.push((index, aggregate_id, version));
                }
                continue;
            }
            let (envelope, index) = match &item {
                Pending::Incoming(index) => match &deliveries[*index].envelope {
                    Ok(envelope) => (envelope, Some(*index)),
                    Err(_) => continue,
                },
                Pending::Held(envelope) => (envelope.as_ref(), None),
            };
            let skipped = skip.contains(&envelope.event_id);
            let folded = if skipped {
                if let Some(index) = index {
                    plan.outcomes[index] = Outcome::Skipped;
                }
                Ok(())
            } else if let Some(path) = nul_in(&envelope.data, "data") {
                // Stored before the input rules refused it; Postgres cannot hold it, so no retry
                // can ever apply it.
                Err(format!(
                    "{path} contains U+0000, which PostgreSQL text cannot store"
                ))
            } else {
                decode(envelope).and_then(|typed| plan.fold(envelope, typed))
            };
            match folded {
                Ok(()) => {
                    next += 1;
                    if index.is_none() {
                        plan.released.push((aggregate_id, version));
                    }
                    plan.done.push((aggregate_id, version, envelope.event_id));
                    plan.checkpoints
                        .insert(aggregate_id, (envelope.aggregate_type.clone(), version));
                }
                // `next` stays: the later versions of this aggregate are held behind the parked
                // one. A held event that no longer decodes stays held; the gap is reported.
                Err(reason) => {
                    if let Some(index) = index {
                        plan.outcomes[index] = Outcome::Parked(reason);
                    }
                }
            }
        }
    }
    plan
}

/// The path of the first string (or object key) in `value` holding U+0000, if any.
fn nul_in(value: &serde_json::Value, path: &str) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item, &format!("{path}[{i}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(path.to_owned())
            } else {
                nul_in(item, &format!("{path}.{key}"))
            }
        }),
        _ => None,
    }
}

impl Plan {
    fn fold(&mut self, envelope: &EventEnvelope, typed: Typed) -> Result<(), String> {
        let at = envelope.occurred_at;
        let version = envelope.version;
        let id = envelope.aggregate_id;
        match typed {
            Typed::Post(event) => fold_post(self.posts.entry(id), event, at, version),
            Typed::Customer(event) => fold_customer(self.customers.entry(id), event, at, version),
            Typed::Order(event) => fold_order(self.orders.entry(id), event, at, version),
        }
    }
}

fn fold_post(
    entry: Entry<'_, Uuid, PostChange>,
    event: PostEvent,
    at: OffsetDateTime,
    version: u64,
) -> Result<(), String> {
    if let PostEvent::PostCreated { author, message } = event {
        return match entry {
            Entry::Vacant(slot) if version == 1 => {
                slot.insert(PostChange::New(PostRow {
                    author,
                    message,
                    like_count: 0,
                    comment_count: 0,
                    created_at: at,
                    edited_at: None,
                    deleted_at: None,
                    version,
                    likes: BTreeMap::new(),
                    comments: BTreeMap::new(),
                }));
                Ok(())
            }
            _ => Err(format!(
                "PostCreated at version {version}: a post is created once, first"
            )),
        };
    }
    if version == 1 {
        return Err("the first event of a post must be PostCreated".into());
    }
    if let PostEvent::CommentEdited { comment_id, .. } = &event {
        let removed = match &entry {
            Entry::Occupied(slot) => match slot.get() {
                PostChange::New(row) => row.comments.get(comment_id),
                PostChange::Existing(patch) => patch.comments.get(comment_id),
            }
            .is_some_and(|c| *c == CommentChange::Removed),
            Entry::Vacant(_) => false,
        };
        if removed {
            return Err(format!("comment {comment_id} edited after its removal"));
        }
    }
    let change = entry.or_insert_with(|| PostChange::Existing(PostPatch::default()));
    let (likes, comments, like_delta, comment_delta) = match change {
        PostChange::New(row) => {
            row.version = version;
            match &event {
                PostEvent::PostEdited { message } => {
                    row.message.clone_from(message);
                    row.edited_at = Some(at);
                }
                PostEvent::PostDeleted => row.deleted_at = Some(at),
                _ => {}
            }
            (
                &mut row.likes,
                &mut row.comments,
                &mut row.like_count,
                &mut row.comment_count,
            )
        }
        PostChange::Existing(patch) => {
            patch.version = version;
            match &event {
                PostEvent::PostEdited { message } => patch.message = Some((message.clone(), at)),
                PostEvent::PostDeleted => patch.deleted_at = Some(at),
                _ => {}
            }
            (
                &mut patch.likes,
                &mut patch.comments,
                &mut patch.like_delta,
                &mut patch.comment_delta,
            )
        }
    };
    match event {
        PostEvent::PostLiked { user } => {
            likes.insert(user, LikeChange::Liked(at));
            *like_delta += 1;
        }
        PostEvent::PostUnliked { user } => {
            likes.insert(user, LikeChange::Unliked);
            *like_delta -= 1;
        }
        PostEvent::CommentAdded {
            comment_id,
            author,
            text,
        } => {
            comments.insert(
                comment_id,
                CommentChange::New {
                    author,
                    text,
                    created_at: at,
                    edited_at: None,
                },
            );
            *comment_delta += 1;
        }
        PostEvent::CommentEdited { comment_id, text } => match comments.get_mut(&comment_id) {
            Some(CommentChange::New {
                text: current,
                edited_at,
                ..
            }) => {
                *current = text;
                *edited_at = Some(at);
            }
            _ => {
                comments.insert(
                    comment_id,
                    CommentChange::Edited {
                        text,
                        edited_at: at,
                    },
                );
            }
        },
        PostEvent::CommentRemoved { comment_id } => {
            // A comment added in this batch never reaches the table.
            if let Some(CommentChange::New { .. }) = comments.get(&comment_id) {
                comments.remove(&comment_id);
            } else {
                comments.insert(comment_id, CommentChange::Removed);
            }
            *comment_delta -= 1;
        }
        PostEvent::PostCreated { .. } | PostEvent::PostEdited { .. } | PostEvent::PostDeleted => {}
    }
    Ok(())
}

fn fold_customer(
    entry: Entry<'_, Uuid, CustomerChange>,
    event: CustomerEvent,
    at: OffsetDateTime,
    version: u64,
) -> Result<(), String> {
    match event {
        CustomerEvent::CustomerRegistered {
            name,
            email,
            phone,
            segment,
            region,
        } => match entry {
            Entry::Vacant(slot) if version == 1 => {
                slot.insert(CustomerChange::New {
                    details: CustomerDetailsRow {
                        name,
                        email,
                        phone,
                        segment,
                        region,
                    },
                    registered_at: at,
                    updated_at: None,
                    version,
                });
                Ok(())
            }
            _ => Err(format!(
                "CustomerRegistered at version {version}: a customer registers once, first"
            )),
        },
        CustomerEvent::CustomerUpdated {
            name,
            email,
            phone,
            segment,
            region,
        } => {
            if version == 1 {
                return Err("the first event of a customer must be CustomerRegistered".into());
            }
            let new_details = CustomerDetailsRow {
                name,
                email,
                phone,
                segment,
                region,
            };
            match entry {
                Entry::Occupied(mut slot) => match slot.get_mut() {
                    CustomerChange::New {
                        details,
                        updated_at,
                        version: v,
                        ..
                    } => {
                        *details = new_details;
                        *updated_at = Some(at);
                        *v = version;
                    }
                    CustomerChange::Updated {
                        details,
                        updated_at,
                        version: v,
                    } => {
                        *details = new_details;
                        *updated_at = at;
                        *v = version;
                    }
                },
                Entry::Vacant(slot) => {
                    slot.insert(CustomerChange::Updated {
                        details: new_details,
                        updated_at: at,
                        version,
                    });
                }
            }
            Ok(())
        }
    }
}

fn fold_order(
    entry: Entry<'_, Uuid, OrderChange>,
    event: OrderEvent,
    at: OffsetDateTime,
    version: u64,
) -> Result<(), String> {
    if let OrderEvent::OrderPlaced {
        customer_id,
        currency,
        items,
        total_minor,
    } = event
    {
        return match entry {
            Entry::Vacant(slot) if version == 1 => {
                within_money_bounds(total_minor, &items)?;
                let items = items
                    .into_iter()
                    .map(|line| {
                        Ok(OrderItemRow {
                            quantity: i32::try_from(line.quantity)
                                .map_err(|_| format!("quantity {} too large", line.quantity))?,
                            sku: line.sku,
                            name: line.name,
                            unit_price_minor: line.unit_price_minor,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                slot.insert(OrderChange::New {
                    customer_id,
                    currency: currency.as_str().to_owned(),
                    total_minor,
                    items,
                    placed_at: at,
                    progress: OrderProgress {
                        status: Some("placed"),
                        ..OrderProgress::default()
                    },
                    version,
                });
                Ok(())
            }
            _ => Err(format!(
                "OrderPlaced at version {version}: an order is placed once, first"
            )),
        };
    }
    if version == 1 {
        return Err("the first event of an order must be OrderPlaced".into());
    }
    let change = entry.or_insert_with(|| OrderChange::Existing {
        progress: OrderProgress::default(),
        version,
    });
    let (progress, v) = match change {
        OrderChange::New {
            progress, version, ..
        }
        | OrderChange::Existing { progress, version } => (progress, version),
    };
    *v = version;
    match event {
        OrderEvent::OrderShipped => {
            progress.status = Some("shipped");
            progress.shipped_at = Some(at);
        }
        OrderEvent::OrderDelivered => {
            progress.status = Some("delivered");
            progress.delivered_at = Some(at);
        }
        OrderEvent::OrderCancelled { reason } => {
            progress.status = Some("cancelled");
            progress.cancelled_at = Some(at);
            progress.cancel_reason = Some(reason);
        }
        OrderEvent::OrderPlaced { .. } => {}
    }
    Ok(())
}

/// An order stored before the money bounds existed may exceed them; it is parked, never summed,
/// so no report can overflow on it (the bounds are the domain's, the same the commands obey).
fn within_money_bounds(
    total_minor: i64,
    items: &[cqrsplus_domain::order::OrderLine],
) -> Result<(), String> {
    use cqrsplus_domain::order::{OrderTotal, Quantity, UnitPrice};
    let breaks = |what: String| format!("OrderPlaced breaks the money bounds: {what}");
    OrderTotal::parse(total_minor).map_err(|e| breaks(e.to_string()))?;
    for (index, line) in items.iter().enumerate() {
        UnitPrice::parse(line.unit_price_minor)
            .and_then(|_| Quantity::parse(i64::from(line.quantity)))
            .map_err(|e| breaks(format!("items[{index}].{e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{nul_in, within_money_bounds};
    use cqrsplus_domain::order::{MAX_ORDER_TOTAL_MINOR, MAX_UNIT_PRICE_MINOR, OrderLine};

    fn line(unit_price_minor: i64, quantity: u32) -> OrderLine {
        OrderLine {
            sku: "gold".into(),
            name: "Gold".into(),
            unit_price_minor,
            quantity,
        }
    }

    #[test]
    fn orders_past_the_money_bounds_are_refused_by_the_fold() {
        assert_eq!(within_money_bounds(500, &[line(250, 2)]), Ok(()));
        assert_eq!(
            within_money_bounds(MAX_ORDER_TOTAL_MINOR, &[line(MAX_UNIT_PRICE_MINOR, 10_000)]),
            Ok(())
        );
        let total = within_money_bounds(i64::MAX - 1, &[line(1, 1)]).unwrap_err();
        assert!(total.contains("total_minor"), "{total}");
        let price = within_money_bounds(10, &[line(1, 1), line(i64::MAX - 1, 1)]).unwrap_err();
        assert!(price.contains("items[1].unit_price_minor"), "{price}");
        let negative = within_money_bounds(0, &[line(-5, 1)]).unwrap_err();
        assert!(negative.contains("items[0].unit_price_minor"), "{negative}");
    }

    #[test]
    fn nul_is_found_at_any_depth() {
        let data = serde_json::json!({"items": [{"sku": "a"}, {"name": "b\u{0}"}]});
        assert_eq!(nul_in(&data, "data").as_deref(), Some("data.items[1].name"));
        assert_eq!(nul_in(&serde_json::json!({"m": "fine\n"}), "data"), None);
    }
}
