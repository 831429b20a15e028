-- 0002 the read model: normalized tables per aggregate, the denormalized customer_orders, and
-- the projector's own bookkeeping (stored offsets, held events).
--
-- Every row is derived from events only (times are the events' occurred_at, never now()), so a
-- rebuild from the event store produces exactly the same rows. `version` columns hold the
-- aggregate version the row reflects, which clients compare with their consistency tokens.
-- Names stay unqualified: a rebuild applies these migrations into a fresh schema.

-- posts -------------------------------------------------------------------------------------------

-- one row per post, deleted ones kept (deleted_at set) so history and counts stay explainable;
-- every query filters them out.
create table posts (
    post_id       uuid        primary key,
    author        text        not null,
    message       text        not null,
    -- maintained by the projector from PostLiked/PostUnliked, so lists never count rows
    like_count    bigint      not null default 0 check (like_count >= 0),
    -- comments not removed
    comment_count bigint      not null default 0 check (comment_count >= 0),
    created_at    timestamptz not null,
    edited_at     timestamptz,
    deleted_at    timestamptz,
    version       bigint      not null check (version >= 1)
);

-- ListPosts: one index per sort order, the post id breaking ties for keyset paging.
create index posts_newest on posts (created_at desc, post_id desc) where deleted_at is null;
create index posts_by_author on posts (author, created_at desc, post_id desc)
    where deleted_at is null;
create index posts_most_liked on posts (like_count desc, created_at desc, post_id desc)
    where deleted_at is null;
create index posts_most_commented on posts (comment_count desc, created_at desc, post_id desc)
    where deleted_at is null;

-- who likes what: one row per (post, user), as the aggregate allows one like per user.
create table post_likes (
    post_id  uuid        not null references posts on delete cascade,
    user_id  text        not null,
    liked_at timestamptz not null,
    primary key (post_id, user_id)
);

-- the comments still on a post (CommentRemoved deletes the row).
create table comments (
    comment_id uuid        primary key,
    post_id    uuid        not null references posts on delete cascade,
    author     text        not null,
    text       text        not null,
    created_at timestamptz not null,
    edited_at  timestamptz
);

-- a post's comments, oldest first, keyset paged.
create index comments_by_post on comments (post_id, created_at, comment_id);

-- customers ---------------------------------------------------------------------------------------

create table customers (
    customer_id   uuid        primary key,
    name          text        not null,
    email         text        not null,
    phone         text,
    segment       text        not null,
    region        text        not null,
    registered_at timestamptz not null,
    updated_at    timestamptz,
    version       bigint      not null check (version >= 1)
);

-- ListCustomers by name, optionally within a segment or a region.
create index customers_by_name on customers (name, customer_id);
create index customers_by_segment on customers (segment, name, customer_id);
create index customers_by_region on customers (region, name, customer_id);

-- orders ------------------------------------------------------------------------------------------

-- no foreign key to customers: an order may arrive before its customer (different topics).
create table orders (
    order_id      uuid        primary key,
    customer_id   uuid        not null,
    status        text        not null
                  check (status in ('placed', 'shipped', 'delivered', 'cancelled')),
    currency      char(3)     not null,
    total_minor   bigint      not null check (total_minor >= 0),
    -- sum of the items' quantities, so reports need not join the items for unit counts
    units         bigint      not null check (units >= 0),
    placed_at     timestamptz not null,
    shipped_at    timestamptz,
    delivered_at  timestamptz,
    cancelled_at  timestamptz,
    cancel_reason text,
    version       bigint      not null check (version >= 1)
);

-- a customer's orders, newest first; reports by period.
create index orders_by_customer on orders (customer_id, placed_at desc, order_id desc);
create index orders_placed_at on orders (placed_at) where status <> 'cancelled';

-- the lines of an order, as placed (line_no keeps their order).
create table order_items (
    order_id         uuid    not null references orders on delete cascade,
    line_no          integer not null check (line_no >= 1),
    sku              text    not null,
    name             text    not null,
    unit_price_minor bigint  not null check (unit_price_minor >= 0),
    quantity         integer not null check (quantity > 0),
    line_total_minor bigint  not null check (line_total_minor >= 0),
    primary key (order_id, line_no)
);

-- product performance groups by sku.
create index order_items_by_sku on order_items (sku);

-- denormalized: one row per order with what reports and the customer's order list need about its
-- customer. The customer columns are null until the customer's events arrive, then filled (and
-- kept current on CustomerUpdated) by the projector.
create table customer_orders (
    order_id         uuid        primary key,
    customer_id      uuid        not null,
    customer_name    text,
    customer_email   text,
    customer_segment text,
    customer_region  text,
    status           text        not null
                     check (status in ('placed', 'shipped', 'delivered', 'cancelled')),
    currency         char(3)     not null,
    total_minor      bigint      not null check (total_minor >= 0),
    units            bigint      not null check (units >= 0),
    placed_at        timestamptz not null,
    order_version    bigint      not null check (order_version >= 1)
);

create index customer_orders_by_customer on customer_orders (customer_id, placed_at desc, order_id);
create index customer_orders_placed_at on customer_orders (placed_at) where status <> 'cancelled';

-- projector bookkeeping ---------------------------------------------------------------------------

-- the next Kafka offset to read per (group, topic, partition), written in the same transaction as
-- the events it covers. On assignment the consumer seeks here, so a crash between the Postgres
-- commit and the Kafka offset commit does not even redeliver (the checkpoints would skip it anyway).
create table consumer_offsets (
    consumer_group text        not null,
    topic          text        not null,
    partition      integer     not null check (partition >= 0),
    next_offset    bigint      not null check (next_offset >= 0),
    updated_at     timestamptz not null default now(),
    primary key (consumer_group, topic, partition)
);

-- events that arrived after a gap in their aggregate's versions (the missing one is parked or
-- late). They are held here, never applied out of order, and applied as soon as the checkpoint
-- reaches version - 1 (when the missing event arrives or is replayed).
create table held_events (
    aggregate_id   uuid        not null,
    version        bigint      not null check (version >= 1),
    aggregate_type text        not null,
    event_type     text        not null,
    -- the envelope as received (json)
    payload        bytea       not null,
    topic          text        not null,
    partition      integer     not null,
    "offset"       bigint      not null,
    held_at        timestamptz not null default now(),
    primary key (aggregate_id, version)
);

-- the admin page and replays show when a parked event was last tried.
alter table dead_letters add column last_attempt_at timestamptz not null default now();
