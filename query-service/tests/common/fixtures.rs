//! Read-model rows written with plain SQL, as the projector would leave them, so query tests need
//! neither Kafka nor command-service. Each helper writes exactly one aggregate's rows (plus its
//! checkpoint where the wait for consistency tokens reads it).

#![allow(dead_code)]

use sqlx::PgPool;
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

/// A fixed origin, so orders are predictable; fixtures place rows at offsets from it.
pub const T0: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);

pub fn at_minutes(minutes: i64) -> OffsetDateTime {
    T0 + Duration::minutes(minutes)
}

/// A post row as the projector keeps it.
pub struct PostRow {
    pub post_id: Uuid,
    pub author: String,
    pub message: String,
    pub created_at: OffsetDateTime,
    pub edited_at: Option<OffsetDateTime>,
    pub deleted: bool,
    pub version: i64,
}

impl PostRow {
    pub fn new(author: &str, created_minute: i64) -> Self {
        Self {
            post_id: Uuid::now_v7(),
            author: author.to_owned(),
            message: format!("post by {author} at minute {created_minute}"),
            created_at: at_minutes(created_minute),
            edited_at: None,
            deleted: false,
            version: 1,
        }
    }
}

/// Inserts a post with `likers` liking it and `comments` comments (one a minute after it), with
/// counts and version consistent with those, and returns its id.
pub async fn insert_post(pool: &PgPool, post: PostRow, likers: &[&str], comments: usize) -> Uuid {
    let likes = likers.len() as i64;
    let version = post.version + likes + comments as i64;
    sqlx::query(
        "insert into posts (post_id, author, message, like_count, comment_count, created_at, \
         edited_at, deleted_at, version) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(post.post_id)
    .bind(&post.author)
    .bind(&post.message)
    .bind(likes)
    .bind(comments as i64)
    .bind(post.created_at)
    .bind(post.edited_at)
    .bind(post.deleted.then_some(post.created_at + Duration::hours(1)))
    .bind(version)
    .execute(pool)
    .await
    .expect("insert post");
    for liker in likers {
        sqlx::query("insert into post_likes (post_id, user_id, liked_at) values ($1, $2, $3)")
            .bind(post.post_id)
            .bind(liker)
            .bind(post.created_at + Duration::seconds(30))
            .execute(pool)
            .await
            .expect("insert like");
    }
    for n in 0..comments {
        insert_comment(
            pool,
            post.post_id,
            "commenter",
            &format!("comment {n}"),
            post.created_at + Duration::minutes(1 + n as i64),
        )
        .await;
    }
    checkpoint(pool, post.post_id, "post", version).await;
    post.post_id
}

/// Inserts one comment row (counts and version of the post are the caller's business).
pub async fn insert_comment(
    pool: &PgPool,
    post_id: Uuid,
    author: &str,
    text: &str,
    created_at: OffsetDateTime,
) -> Uuid {
    let comment_id = Uuid::now_v7();
    sqlx::query(
        "insert into comments (comment_id, post_id, author, text, created_at) \
         values ($1, $2, $3, $4, $5)",
    )
    .bind(comment_id)
    .bind(post_id)
    .bind(author)
    .bind(text)
    .bind(created_at)
    .execute(pool)
    .await
    .expect("insert comment");
    comment_id
}

/// Sets an aggregate's projection checkpoint.
pub async fn checkpoint(pool: &PgPool, aggregate_id: Uuid, aggregate_type: &str, version: i64) {
    sqlx::query(
        "insert into projection_checkpoints (aggregate_id, aggregate_type, version) \
         values ($1, $2, $3) \
         on conflict (aggregate_id) do update set version = excluded.version, updated_at = now()",
    )
    .bind(aggregate_id)
    .bind(aggregate_type)
    .bind(version)
    .execute(pool)
    .await
    .expect("write checkpoint");
}

/// Inserts a customer (version 1, registered at `T0`) and returns its id.
pub async fn insert_customer(pool: &PgPool, name: &str, segment: &str, region: &str) -> Uuid {
    let customer_id = Uuid::now_v7();
    sqlx::query(
        "insert into customers (customer_id, name, email, phone, segment, region, registered_at, \
         version) values ($1, $2, $3, $4, $5, $6, $7, 1)",
    )
    .bind(customer_id)
    .bind(name)
    .bind(format!(
        "{}@example.com",
        name.to_lowercase().replace(' ', ".")
    ))
    .bind(None::<String>)
    .bind(segment)
    .bind(region)
    .bind(T0)
    .execute(pool)
    .await
    .expect("insert customer");
    checkpoint(pool, customer_id, "customer", 1).await;
    customer_id
}

/// One order line: sku, name, unit price in minor units, quantity.
pub type Line<'a> = (&'a str, &'a str, i64, i32);

/// An order as the projector keeps it.
pub struct OrderRow<'a> {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    /// The name the denormalized `customer_orders` row carries; `None` while the customer's
    /// events have not arrived.
    pub customer_name: Option<&'a str>,
    pub status: &'a str,
    pub currency: &'a str,
    pub lines: Vec<Line<'a>>,
    pub placed_at: OffsetDateTime,
    pub cancel_reason: Option<&'a str>,
}

impl<'a> OrderRow<'a> {
    pub fn new(customer_id: Uuid, placed_minute: i64, lines: Vec<Line<'a>>) -> Self {
        Self {
            order_id: Uuid::now_v7(),
            customer_id,
            customer_name: None,
            status: "placed",
            currency: "EUR",
            lines,
            placed_at: at_minutes(placed_minute),
            cancel_reason: None,
        }
    }
}

/// Inserts an order with its items and its `customer_orders` row; the times and version follow
/// from its status. Returns its id.
pub async fn insert_order(pool: &PgPool, order: OrderRow<'_>) -> Uuid {
    let total: i64 = order.lines.iter().map(|l| l.2 * i64::from(l.3)).sum();
    let units: i64 = order.lines.iter().map(|l| i64::from(l.3)).sum();
    let step = |hours| Some(order.placed_at + Duration::hours(hours));
    let (shipped_at, delivered_at, cancelled_at, version) = match order.status {
        "placed" => (None, None, None, 1_i64),
        "shipped" => (step(1), None, None, 2),
        "delivered" => (step(1), step(2), None, 3),
        "cancelled" => (None, None, step(1), 2),
        other => panic!("not a status: {other}"),
    };
    sqlx::query(
        "insert into orders (order_id, customer_id, status, currency, total_minor, units, \
         placed_at, shipped_at, delivered_at, cancelled_at, cancel_reason, version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(order.order_id)
    .bind(order.customer_id)
    .bind(order.status)
    .bind(order.currency)
    .bind(total)
    .bind(units)
    .bind(order.placed_at)
    .bind(shipped_at)
    .bind(delivered_at)
    .bind(cancelled_at)
    .bind(order.cancel_reason)
    .bind(version)
    .execute(pool)
    .await
    .expect("insert order");
    for (n, (sku, name, unit_price, quantity)) in order.lines.iter().enumerate() {
        sqlx::query(
            "insert into order_items (order_id, line_no, sku, name, unit_price_minor, quantity, \
             line_total_minor) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(order.order_id)
        .bind(n as i32 + 1)
        .bind(sku)
        .bind(name)
        .bind(unit_price)
        .bind(quantity)
        .bind(unit_price * i64::from(*quantity))
        .execute(pool)
        .await
        .expect("insert order item");
    }
    sqlx::query(
        "insert into customer_orders (order_id, customer_id, customer_name, status, currency, \
         total_minor, units, placed_at, order_version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(order.order_id)
    .bind(order.customer_id)
    .bind(order.customer_name)
    .bind(order.status)
    .bind(order.currency)
    .bind(total)
    .bind(units)
    .bind(order.placed_at)
    .bind(version)
    .execute(pool)
    .await
    .expect("insert customer order");
    checkpoint(pool, order.order_id, "order", version).await;
    order.order_id
}
