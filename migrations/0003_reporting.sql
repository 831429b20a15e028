-- 0003 reporting: views answering the analysts' questions, and the read-only `reporting` role
-- that may read them and nothing else.
--
-- Rules every view follows, so that the SQL analysts write and the report RPCs (which read these
-- same views) always agree:
--   * only orders that are not cancelled count, and `sales_orders` / `sales_items` are the one
--     place that says so; every other view is built on them;
--   * orders are dated by placed_at in UTC (`month` is the first day of the UTC calendar month),
--     whatever the session's TimeZone;
--   * money is bigint minor units and never summed across currencies: every amount has its
--     `currency` next to it;
--   * customer columns are null while the customer's events have not reached the read model
--     (an order may arrive before its customer); the RPCs show them as empty strings.
--
-- The views run with their owner's rights on the tables (not security_invoker), which is what lets
-- `reporting` read them without any right on the tables themselves.
--
-- Names stay unqualified: a rebuild applies these migrations into a fresh schema (through
-- search_path), so the schema is only ever named as current_schema().

-- building blocks ---------------------------------------------------------------------------------

-- one row per order that counts as a sale. The predicate is written exactly as in the partial
-- index customer_orders_placed_at, so a period filter on placed_at can use that index.
create view sales_orders as
select order_id,
       customer_id,
       customer_name,
       customer_email,
       customer_segment,
       customer_region,
       currency,
       total_minor,
       units,
       placed_at,
       date_trunc('month', placed_at at time zone 'UTC')::date as month
  from customer_orders
 where status <> 'cancelled';

-- one row per line of an order that counts as a sale, with its price group: by unit price,
-- cheap below 500 minor units, affordable from 500 to 5000 inclusive, expensive above 5000
-- (5.00 and 50.00 for two-decimal currencies).
create view sales_items as
select i.order_id,
       i.line_no,
       o.customer_id,
       o.customer_name,
       i.sku,
       i.name,
       i.unit_price_minor,
       i.quantity,
       i.line_total_minor,
       o.currency,
       o.placed_at,
       o.month,
       case
           when i.unit_price_minor < 500 then 'cheap'
           when i.unit_price_minor <= 5000 then 'affordable'
           else 'expensive'
       end as price_group
  from order_items i
  join sales_orders o on o.order_id = i.order_id;

-- monthly sales by customer segment -----------------------------------------------------------------

-- revenue, orders and units per (month, segment, currency). segment is null for orders whose
-- customer has not arrived yet, so their sales are shown rather than silently dropped.
create view monthly_sales_by_segment as
select month,
       customer_segment                 as segment,
       currency,
       sum(total_minor)::bigint         as revenue_minor,
       count(*)                         as order_count,
       sum(units)::bigint               as units_sold
  from sales_orders
 group by month, customer_segment, currency;

-- top customers -------------------------------------------------------------------------------------

-- per (customer, currency): rank by revenue_minor or order_count. The customer columns are equal
-- on all of a customer's rows (the projector rewrites them together), so min() only picks that
-- value without making the customer's details part of the group key.
create view top_customers as
select customer_id,
       currency,
       min(customer_name)               as name,
       min(customer_email)              as email,
       min(customer_segment)            as segment,
       min(customer_region)             as region,
       count(*)                         as order_count,
       sum(total_minor)::bigint         as revenue_minor
  from sales_orders
 group by customer_id, currency;

-- repeat purchases in the last six months -----------------------------------------------------------

-- the window: from six calendar months before now (month arithmetic done in UTC, so it does not
-- move with the session's TimeZone) up to now. now() is the transaction's start, so every view
-- read in one transaction sees the same window.
create view last_six_months as
select ((now() at time zone 'UTC') - interval '6 months') at time zone 'UTC' as window_start,
       now()                                                                as window_end;

-- the customers with at least one order in the window; repeat customers are those with
-- order_count >= 2. Orders are counted whatever their currency.
create view active_customers_last_six_months as
select s.customer_id,
       min(s.customer_name)             as name,
       count(*)                         as order_count,
       max(s.placed_at)                 as last_order_at
  from sales_orders s
  join last_six_months w on s.placed_at >= w.window_start and s.placed_at <= w.window_end
 group by s.customer_id;

-- one row: how many customers ordered in the window, how many of them more than once, and the
-- share (0 when nobody ordered).
create view repeat_purchase_share as
select w.window_start,
       w.window_end,
       count(a.customer_id)                                     as active_customers,
       count(a.customer_id) filter (where a.order_count >= 2)   as repeat_customers,
       coalesce((count(a.customer_id) filter (where a.order_count >= 2))::double precision
                / nullif(count(a.customer_id), 0), 0)           as repeat_share
  from last_six_months w
  left join active_customers_last_six_months a on true
 group by w.window_start, w.window_end;

-- revenue by region ---------------------------------------------------------------------------------

-- per (region, currency) over all time. customer_count counts distinct customers, so it cannot be
-- added up over periods: a period's figure is computed from sales_orders (as the RPC does).
create view sales_by_region as
select customer_region                  as region,
       currency,
       sum(total_minor)::bigint         as revenue_minor,
       count(*)                         as order_count,
       count(distinct customer_id)      as customer_count
  from sales_orders
 group by customer_region, currency;

-- product performance -------------------------------------------------------------------------------

-- a product's name as in its most recent (counted) order: names change over time, and reports
-- show one name per sku, the same for every currency and month.
create view product_names as
select distinct on (sku) sku, name
  from sales_items
 order by sku, placed_at desc, order_id desc, line_no desc;

-- per (sku, currency, month). An order falls in exactly one month, so order_count (orders
-- containing the sku) adds up correctly over any run of months: choose a period by summing.
create view product_performance_monthly as
select i.sku,
       i.currency,
       i.month,
       n.name,
       count(distinct i.order_id)       as order_count,
       sum(i.quantity)                  as units_sold,
       sum(i.line_total_minor)::bigint  as revenue_minor
  from sales_items i
  join product_names n on n.sku = i.sku
 group by i.sku, i.currency, i.month, n.name;

-- per (sku, currency) over all time.
create view product_performance as
select i.sku,
       i.currency,
       n.name,
       count(distinct i.order_id)       as order_count,
       sum(i.quantity)                  as units_sold,
       sum(i.line_total_minor)::bigint  as revenue_minor
  from sales_items i
  join product_names n on n.sku = i.sku
 group by i.sku, i.currency, n.name;

-- items by price group ------------------------------------------------------------------------------

-- units each customer bought per price group (see sales_items), whatever the currency. Only
-- customers with counted orders appear.
create view customer_items_by_price_group as
select customer_id,
       min(customer_name)                                               as name,
       coalesce(sum(quantity) filter (where price_group = 'cheap'), 0)      as cheap_units,
       coalesce(sum(quantity) filter (where price_group = 'affordable'), 0) as affordable_units,
       coalesce(sum(quantity) filter (where price_group = 'expensive'), 0)  as expensive_units
  from sales_items
 group by customer_id;

-- the reporting role --------------------------------------------------------------------------------

-- Roles belong to the whole cluster, not to this database, and several databases (tests, a
-- rebuild) may run this migration at the same moment: the check skips the usual case, and the
-- handler covers the race, where the loser's CREATE ROLE fails with duplicate_object or, when
-- both insert at once, unique_violation on pg_authid. Checking first also lets a migration user
-- without CREATEROLE run this when an administrator has created the role beforehand.
--
-- NOLOGIN: nobody connects as `reporting`. Each analyst gets a LOGIN role that is a member of it
-- (`create role alice login password '...' in role reporting`), so access is granted and revoked
-- per person and every session is attributable.
do $$
begin
    if not exists (select from pg_roles where rolname = 'reporting') then
        create role reporting nologin;
    end if;
exception
    when duplicate_object or unique_violation then
        null;
end
$$;

-- Nothing on the tables: revoke whatever PUBLIC or an earlier grant may have given (by default
-- nothing, so this is a guarantee rather than a change), including the sequences behind identity
-- columns and the right to create objects in the schema. ALTER DEFAULT PRIVILEGES is not needed:
-- tables created later give PUBLIC nothing by default, so `reporting` sees only what a migration
-- grants it explicitly, as below. A later view for analysts must add its own GRANT.
do $$
begin
    execute format('revoke all on all tables in schema %I from public, reporting',
                   current_schema());
    execute format('revoke all on all sequences in schema %I from public, reporting',
                   current_schema());
    execute format('revoke create on schema %I from public, reporting', current_schema());
    execute format('grant usage on schema %I to reporting', current_schema());
end
$$;

grant select on
    sales_orders,
    sales_items,
    monthly_sales_by_segment,
    top_customers,
    last_six_months,
    active_customers_last_six_months,
    repeat_purchase_share,
    sales_by_region,
    product_names,
    product_performance_monthly,
    product_performance,
    customer_items_by_price_group
to reporting;
