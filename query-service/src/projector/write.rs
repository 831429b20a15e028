//! Writing a [`Plan`] into the read model inside the caller's transaction: one set-based
//! statement per table and kind of change (arrays passed through `unnest`), whatever the batch
//! size, so a backlog costs a few round trips per batch instead of several per event.
//!
//! Must not decide anything: what changes was settled by `plan`. A row the plan expects but the
//! table lacks is reported as [`Invariant`] so the caller can isolate the event at fault.

use sqlx::{PgConnection, postgres::PgQueryResult};
use time::OffsetDateTime;
use uuid::Uuid;

use super::plan::{
    CommentChange, CustomerChange, Delivery, LikeChange, OrderChange, Outcome, Plan, PostChange,
};

/// The read model contradicts the plan (a row to update is missing): not transient.
#[derive(Debug, thiserror::Error)]
#[error("read model invariant: {0}")]
pub struct Invariant(pub String);

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Invariant(#[from] Invariant),
}

/// Text Postgres can store: U+0000 replaced. Only for the bookkeeping columns of held and parked
/// events (types, reasons), which must be writable whatever an event holds; read-model text is
/// never altered (an event with U+0000 in its data is parked by the plan instead).
fn pg_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

fn db_version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn expect_rows(result: PgQueryResult, expected: usize, what: &str) -> Result<(), Invariant> {
    if result.rows_affected() == expected as u64 {
        Ok(())
    } else {
        Err(Invariant(format!(
            "{what}: expected {expected} rows, found {}",
            result.rows_affected()
        )))
    }
}

/// Applies every row change of `plan`, then its checkpoints, holds, releases and dead letters.
pub async fn write(
    conn: &mut PgConnection,
    plan: &Plan,
    deliveries: &[Delivery],
) -> Result<(), WriteError> {
    write_posts(conn, plan).await?;
    write_customers(conn, plan).await?;
    write_orders(conn, plan).await?;
    write_bookkeeping(conn, plan, deliveries).await?;
    Ok(())
}

#[derive(Default)]
struct Likes {
    del_post: Vec<Uuid>,
    del_user: Vec<String>,
    put_post: Vec<Uuid>,
    put_user: Vec<String>,
    put_at: Vec<OffsetDateTime>,
}

#[derive(Default)]
struct Comments {
    del: Vec<Uuid>,
    new_id: Vec<Uuid>,
    new_post: Vec<Uuid>,
    new_author: Vec<String>,
    new_text: Vec<String>,
    new_created: Vec<OffsetDateTime>,
    new_edited: Vec<Option<OffsetDateTime>>,
    edit_id: Vec<Uuid>,
    edit_text: Vec<String>,
    edit_at: Vec<OffsetDateTime>,
}

impl Likes {
    fn add<'a>(
        &mut self,
        post: Uuid,
        changes: impl IntoIterator<Item = (&'a String, &'a LikeChange)>,
    ) {
        for (user, change) in changes {
            match change {
                LikeChange::Liked(at) => {
                    self.put_post.push(post);
                    self.put_user.push(user.clone());
                    self.put_at.push(*at);
                }
                LikeChange::Unliked => {
                    self.del_post.push(post);
                    self.del_user.push(user.clone());
                }
            }
        }
    }
}

impl Comments {
    fn add<'a>(
        &mut self,
        post: Uuid,
        changes: impl IntoIterator<Item = (&'a Uuid, &'a CommentChange)>,
    ) {
        for (id, change) in changes {
            match change {
                CommentChange::New {
                    author,
                    text,
                    created_at,
                    edited_at,
                } => {
                    self.new_id.push(*id);
                    self.new_post.push(post);
                    self.new_author.push(author.clone());
                    self.new_text.push(text.clone());
                    self.new_created.push(*created_at);
                    self.new_edited.push(*edited_at);
                }
                CommentChange::Edited { text, edited_at } => {
                    self.edit_id.push(*id);
                    self.edit_text.push(text.clone());
                    self.edit_at.push(*edited_at);
                }
                CommentChange::Removed => self.del.push(*id),
            }
        }
    }
}

async fn write_posts(conn: &mut PgConnection, plan: &Plan) -> Result<(), WriteError> {
    if plan.posts.is_empty() {
        return Ok(());
    }
    let mut new = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut upd = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut likes = Likes::default();
    let mut comments = Comments::default();
    for (id, change) in &plan.posts {
        match change {
            PostChange::New(row) => {
                new.0.push(*id);
                new.1.push(row.author.clone());
                new.2.push(row.message.clone());
                new.3.push(row.like_count);
                new.4.push(row.comment_count);
                new.5.push(row.created_at);
                new.6.push(row.edited_at);
                new.7.push(row.deleted_at);
                new.8.push(db_version(row.version));
                likes.add(*id, &row.likes);
                comments.add(*id, &row.comments);
            }
            PostChange::Existing(patch) => {
                upd.0.push(*id);
                upd.1.push(patch.message.as_ref().map(|(m, _)| m.clone()));
                upd.2.push(patch.message.as_ref().map(|(_, at)| *at));
                upd.3.push(patch.like_delta);
                upd.4.push(patch.comment_delta);
                upd.5.push(patch.deleted_at);
                upd.6.push(db_version(patch.version));
                likes.add(*id, &patch.likes);
                comments.add(*id, &patch.comments);
            }
        }
    }
    if !new.0.is_empty() {
        sqlx::query(
            "insert into posts (post_id, author, message, like_count, comment_count, created_at,
                                edited_at, deleted_at, version)
             select * from unnest($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::int8[],
                                  $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::int8[])",
        )
        .bind(&new.0)
        .bind(&new.1)
        .bind(&new.2)
        .bind(&new.3)
        .bind(&new.4)
        .bind(&new.5)
        .bind(&new.6)
        .bind(&new.7)
        .bind(&new.8)
        .execute(&mut *conn)
        .await?;
    }
    if !upd.0.is_empty() {
        let result = sqlx::query(
            "update posts p
                set message = coalesce(u.message, p.message),
                    edited_at = coalesce(u.edited_at, p.edited_at),
                    like_count = p.like_count + u.like_delta,
                    comment_count = p.comment_count + u.comment_delta,
                    deleted_at = coalesce(u.deleted_at, p.deleted_at),
                    version = u.version
               from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int8[], $5::int8[],
                           $6::timestamptz[], $7::int8[])
                    as u(post_id, message, edited_at, like_delta, comment_delta, deleted_at, version)
              where p.post_id = u.post_id",
        )
        .bind(&upd.0)
        .bind(&upd.1)
        .bind(&upd.2)
        .bind(&upd.3)
        .bind(&upd.4)
        .bind(&upd.5)
        .bind(&upd.6)
        .execute(&mut *conn)
        .await?;
        expect_rows(result, upd.0.len(), "posts to update")?;
    }
    if !likes.del_post.is_empty() {
        sqlx::query(
            "delete from post_likes l using unnest($1::uuid[], $2::text[]) as u(post_id, user_id)
              where l.post_id = u.post_id and l.user_id = u.user_id",
        )
        .bind(&likes.del_post)
        .bind(&likes.del_user)
        .execute(&mut *conn)
        .await?;
    }
    if !likes.put_post.is_empty() {
        // Upsert: a like, unlike and like again may straddle batches; the last like's time wins
        // either way, as it would in a rebuild.
        sqlx::query(
            "insert into post_likes (post_id, user_id, liked_at)
             select * from unnest($1::uuid[], $2::text[], $3::timestamptz[])
             on conflict (post_id, user_id) do update set liked_at = excluded.liked_at",
        )
        .bind(&likes.put_post)
        .bind(&likes.put_user)
        .bind(&likes.put_at)
        .execute(&mut *conn)
        .await?;
    }
    if !comments.del.is_empty() {
        let result = sqlx::query("delete from comments where comment_id = any($1)")
            .bind(&comments.del)
            .execute(&mut *conn)
            .await?;
        expect_rows(result, comments.del.len(), "comments to remove")?;
    }
    if !comments.new_id.is_empty() {
        sqlx::query(
            "insert into comments (comment_id, post_id, author, text, created_at, edited_at)
             select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[],
                                  $5::timestamptz[], $6::timestamptz[])",
        )
        .bind(&comments.new_id)
        .bind(&comments.new_post)
        .bind(&comments.new_author)
        .bind(&comments.new_text)
        .bind(&comments.new_created)
        .bind(&comments.new_edited)
        .execute(&mut *conn)
        .await?;
    }
    if !comments.edit_id.is_empty() {
        let result = sqlx::query(
            "update comments c set text = u.text, edited_at = u.edited_at
               from unnest($1::uuid[], $2::text[], $3::timestamptz[]) as u(comment_id, text, edited_at)
              where c.comment_id = u.comment_id",
        )
        .bind(&comments.edit_id)
        .bind(&comments.edit_text)
        .bind(&comments.edit_at)
        .execute(&mut *conn)
        .await?;
        expect_rows(result, comments.edit_id.len(), "comments to edit")?;
    }
    Ok(())
}

async fn write_customers(conn: &mut PgConnection, plan: &Plan) -> Result<(), WriteError> {
    if plan.customers.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let mut emails = Vec::new();
    let mut phones = Vec::new();
    let mut segments = Vec::new();
    let mut regions = Vec::new();
    let mut registered = Vec::new();
    let mut updated = Vec::new();
    let mut versions = Vec::new();
    for (id, change) in &plan.customers {
        let (details, registered_at, updated_at, v) = match change {
            CustomerChange::New {
                details,
                registered_at,
                updated_at,
                version,
            } => (details, Some(*registered_at), *updated_at, *version),
            CustomerChange::Updated {
                details,
                updated_at,
                version,
            } => (details, None, Some(*updated_at), *version),
        };
        ids.push(*id);
        names.push(details.name.clone());
        emails.push(details.email.clone());
        phones.push(details.phone.clone());
        segments.push(details.segment.clone());
        regions.push(details.region.clone());
        registered.push(registered_at);
        updated.push(updated_at);
        versions.push(db_version(v));
    }
    // New customers insert; updates must find their row (registered_at null marks them, and the
    // `where` keeps an update from inventing a customer without a registration date).
    let result = sqlx::query(
        "insert into customers as c (customer_id, name, email, phone, segment, region,
                                     registered_at, updated_at, version)
         select u.customer_id, u.name, u.email, u.phone, u.segment, u.region,
                coalesce(u.registered_at, 'epoch'::timestamptz), u.updated_at, u.version
           from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::timestamptz[], $8::timestamptz[], $9::int8[])
                as u(customer_id, name, email, phone, segment, region, registered_at, updated_at,
                     version)
          where u.registered_at is not null
             or exists (select 1 from customers e where e.customer_id = u.customer_id)
         on conflict (customer_id) do update
            set name = excluded.name, email = excluded.email, phone = excluded.phone,
                segment = excluded.segment, region = excluded.region,
                updated_at = excluded.updated_at, version = excluded.version",
    )
    .bind(&ids)
    .bind(&names)
    .bind(&emails)
    .bind(&phones)
    .bind(&segments)
    .bind(&regions)
    .bind(&registered)
    .bind(&updated)
    .bind(&versions)
    .execute(&mut *conn)
    .await?;
    expect_rows(result, ids.len(), "customers to write")?;
    // Orders that arrived before their customer, or carry old details, catch up here.
    sqlx::query(
        "update customer_orders co
            set customer_name = c.name, customer_email = c.email,
                customer_segment = c.segment, customer_region = c.region
           from customers c
          where c.customer_id = co.customer_id and c.customer_id = any($1)",
    )
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn write_orders(conn: &mut PgConnection, plan: &Plan) -> Result<(), WriteError> {
    if plan.orders.is_empty() {
        return Ok(());
    }
    let mut all = Vec::new();
    let mut new = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut progress = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut items = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut existing = 0;
    for (id, change) in &plan.orders {
        all.push(*id);
        let (p, v) = match change {
            OrderChange::New {
                customer_id,
                currency,
                total_minor,
                items: lines,
                placed_at,
                progress,
                version,
            } => {
                let units: i64 = lines.iter().map(|l| i64::from(l.quantity)).sum();
                new.0.push(*id);
                new.1.push(*customer_id);
                new.2.push(currency.clone());
                new.3.push(*total_minor);
                new.4.push(units);
                new.5.push(*placed_at);
                new.6.push(db_version(*version));
                for (n, line) in lines.iter().enumerate() {
                    items.0.push(*id);
                    items.1.push(i32::try_from(n + 1).unwrap_or(i32::MAX));
                    items.2.push(line.sku.clone());
                    items.3.push(line.name.clone());
                    items.4.push(line.unit_price_minor);
                    items.5.push(line.quantity);
                    items.6.push(
                        line.unit_price_minor
                            .saturating_mul(i64::from(line.quantity)),
                    );
                }
                (progress, *version)
            }
            OrderChange::Existing { progress, version } => {
                existing += 1;
                (progress, *version)
            }
        };
        progress.0.push(*id);
        progress.1.push(p.status.map(str::to_owned));
        progress.2.push(p.shipped_at);
        progress.3.push(p.delivered_at);
        progress.4.push(p.cancelled_at);
        progress.5.push(p.cancel_reason.clone());
        progress.6.push(db_version(v));
    }
    if !new.0.is_empty() {
        sqlx::query(
            "insert into orders (order_id, customer_id, status, currency, total_minor, units,
                                 placed_at, version)
             select u.order_id, u.customer_id, 'placed', u.currency, u.total_minor, u.units,
                    u.placed_at, u.version
               from unnest($1::uuid[], $2::uuid[], $3::text[], $4::int8[], $5::int8[],
                           $6::timestamptz[], $7::int8[])
                    as u(order_id, customer_id, currency, total_minor, units, placed_at, version)",
        )
        .bind(&new.0)
        .bind(&new.1)
        .bind(&new.2)
        .bind(&new.3)
        .bind(&new.4)
        .bind(&new.5)
        .bind(&new.6)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into order_items (order_id, line_no, sku, name, unit_price_minor, quantity,
                                      line_total_minor)
             select * from unnest($1::uuid[], $2::int4[], $3::text[], $4::text[], $5::int8[],
                                  $6::int4[], $7::int8[])",
        )
        .bind(&items.0)
        .bind(&items.1)
        .bind(&items.2)
        .bind(&items.3)
        .bind(&items.4)
        .bind(&items.5)
        .bind(&items.6)
        .execute(&mut *conn)
        .await?;
    }
    // Status changes, for new and existing orders alike (a new order may ship in the same batch).
    let result = sqlx::query(
        "update orders o
            set status = coalesce(u.status, o.status),
                shipped_at = coalesce(u.shipped_at, o.shipped_at),
                delivered_at = coalesce(u.delivered_at, o.delivered_at),
                cancelled_at = coalesce(u.cancelled_at, o.cancelled_at),
                cancel_reason = coalesce(u.cancel_reason, o.cancel_reason),
                version = u.version
           from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[],
                       $5::timestamptz[], $6::text[], $7::int8[])
                as u(order_id, status, shipped_at, delivered_at, cancelled_at, cancel_reason,
                     version)
          where o.order_id = u.order_id
            and (u.status is distinct from 'placed' or u.version <> o.version)",
    )
    .bind(&progress.0)
    .bind(&progress.1)
    .bind(&progress.2)
    .bind(&progress.3)
    .bind(&progress.4)
    .bind(&progress.5)
    .bind(&progress.6)
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() < existing {
        return Err(Invariant(format!(
            "orders to update: expected at least {existing} rows, found {}",
            result.rows_affected()
        ))
        .into());
    }
    // The denormalized row, with whatever the read model knows of the customer by now.
    sqlx::query(
        "insert into customer_orders (order_id, customer_id, customer_name, customer_email,
                                      customer_segment, customer_region, status, currency,
                                      total_minor, units, placed_at, order_version)
         select o.order_id, o.customer_id, c.name, c.email, c.segment, c.region, o.status,
                o.currency, o.total_minor, o.units, o.placed_at, o.version
           from orders o left join customers c on c.customer_id = o.customer_id
          where o.order_id = any($1)
         on conflict (order_id) do update
            set customer_name = excluded.customer_name, customer_email = excluded.customer_email,
                customer_segment = excluded.customer_segment,
                customer_region = excluded.customer_region, status = excluded.status,
                order_version = excluded.order_version",
    )
    .bind(&all)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn write_bookkeeping(
    conn: &mut PgConnection,
    plan: &Plan,
    deliveries: &[Delivery],
) -> Result<(), WriteError> {
    if !plan.checkpoints.is_empty() {
        let ids: Vec<Uuid> = plan.checkpoints.keys().copied().collect();
        let types: Vec<String> = plan.checkpoints.values().map(|(t, _)| t.clone()).collect();
        let versions: Vec<i64> = plan
            .checkpoints
            .values()
            .map(|(_, v)| db_version(*v))
            .collect();
        sqlx::query(
            "insert into projection_checkpoints (aggregate_id, aggregate_type, version)
             select * from unnest($1::uuid[], $2::text[], $3::int8[])
             on conflict (aggregate_id) do update
                set version = excluded.version, updated_at = now()",
        )
        .bind(&ids)
        .bind(&types)
        .bind(&versions)
        .execute(&mut *conn)
        .await?;
    }
    if !plan.released.is_empty() {
        let ids: Vec<Uuid> = plan.released.iter().map(|(id, _)| *id).collect();
        let versions: Vec<i64> = plan.released.iter().map(|(_, v)| db_version(*v)).collect();
        sqlx::query(
            "delete from held_events h using unnest($1::uuid[], $2::int8[]) as u(id, version)
              where h.aggregate_id = u.id and h.version = u.version",
        )
        .bind(&ids)
        .bind(&versions)
        .execute(&mut *conn)
        .await?;
    }
    if !plan.done.is_empty() {
        let ids: Vec<Uuid> = plan.done.iter().map(|(id, _, _)| *id).collect();
        let versions: Vec<i64> = plan.done.iter().map(|(_, v, _)| db_version(*v)).collect();
        let events: Vec<Uuid> = plan.done.iter().map(|(_, _, e)| *e).collect();
        sqlx::query(
            "insert into projected_events (aggregate_id, version, event_id)
             select * from unnest($1::uuid[], $2::int8[], $3::uuid[])
             on conflict (aggregate_id, version) do nothing",
        )
        .bind(&ids)
        .bind(&versions)
        .bind(&events)
        .execute(&mut *conn)
        .await?;
    }
    for (index, aggregate_id, v) in &plan.to_hold {
        let delivery = &deliveries[*index];
        let Ok(envelope) = &delivery.envelope else {
            continue;
        };
        let source = delivery.source.as_ref();
        sqlx::query(
            "insert into held_events (aggregate_id, version, aggregate_type, event_type, payload,
                                      topic, partition, \"offset\")
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (aggregate_id, version) do nothing",
        )
        .bind(aggregate_id)
        .bind(db_version(*v))
        .bind(pg_text(&envelope.aggregate_type).as_ref())
        .bind(pg_text(&envelope.event_type).as_ref())
        .bind(delivery.bytes().as_ref())
        .bind(source.map(|s| &s.topic))
        .bind(source.map(|s| s.partition))
        .bind(source.map(|s| s.offset))
        .execute(&mut *conn)
        .await?;
    }
    for (delivery, outcome) in deliveries.iter().zip(&plan.outcomes) {
        if let Outcome::Parked(reason) = outcome {
            park(conn, delivery, reason).await?;
        }
    }
    Ok(())
}

/// Parks one delivery in `dead_letters` (or counts another attempt if it is already there).
///
/// A Kafka delivery is one row per source (topic, partition, offset); an event a rebuild read from
/// the store has no source and is one row per event id. A delivery without either (bytes that
/// are not an envelope, read from nowhere) cannot be stored and is only logged.
pub async fn park(
    conn: &mut PgConnection,
    delivery: &Delivery,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let envelope = delivery.envelope.as_ref().ok();
    let conflict = match (&delivery.source, envelope) {
        (Some(_), _) => "(topic, partition, \"offset\")",
        (None, Some(_)) => "(event_id) where topic is null",
        (None, None) => {
            tracing::warn!(%reason, "an unreadable event without a source cannot be parked");
            return Ok(());
        }
    };
    let source = delivery.source.as_ref();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into dead_letters (event_id, event_type, aggregate_type, aggregate_id, version,
                                   topic, partition, \"offset\", payload, error)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict {conflict} do update
            set error = excluded.error, attempts = dead_letters.attempts + 1,
                last_attempt_at = now(), replayed_at = null"
    )))
    .bind(envelope.map(|e| e.event_id))
    .bind(envelope.map(|e| pg_text(&e.event_type).into_owned()))
    .bind(envelope.map(|e| pg_text(&e.aggregate_type).into_owned()))
    .bind(envelope.map(|e| e.aggregate_id))
    .bind(envelope.map(|e| db_version(e.version)))
    .bind(source.map(|s| &s.topic))
    .bind(source.map(|s| s.partition))
    .bind(source.map(|s| s.offset))
    .bind(delivery.bytes().as_ref())
    .bind(pg_text(reason).as_ref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
