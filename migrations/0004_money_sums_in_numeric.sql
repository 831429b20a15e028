-- 0004 money sums in numeric: the views that add amounts (and units) up keep the exact sum as
-- `numeric` instead of casting it to bigint. 0003 cast `sum(total_minor)` back to bigint, so two
-- orders near the 64-bit maximum made those views, and every report built on them, fail with
-- "bigint out of range" for everybody. A numeric sum cannot overflow, whatever is stored (orders
-- written before the money bounds of the command side included).
--
-- Same names, same columns, same meaning as in 0003; only the type of the summed columns changes
-- (revenue_minor and units_sold become numeric, still whole numbers of minor units / units). A
-- view's column type cannot change in place, so the five views are dropped and created again, in
-- one transaction (sqlx runs each migration in one); nothing depends on them. The building blocks
-- (sales_orders, sales_items, product_names) and the other views stay as they are.
--
-- A re-created view is a new object: the `reporting` role's right to read it is granted again at
-- the end, as 0003 did.

drop view monthly_sales_by_segment;
drop view top_customers;
drop view sales_by_region;
drop view product_performance_monthly;
drop view product_performance;

-- revenue, orders and units per (month, segment, currency); see 0003.
create view monthly_sales_by_segment as
select month,
       customer_segment                 as segment,
       currency,
       sum(total_minor)::numeric        as revenue_minor,
       count(*)                         as order_count,
       sum(units)::numeric              as units_sold
  from sales_orders
 group by month, customer_segment, currency;

-- per (customer, currency); see 0003.
create view top_customers as
select customer_id,
       currency,
       min(customer_name)               as name,
       min(customer_email)              as email,
       min(customer_segment)            as segment,
       min(customer_region)             as region,
       count(*)                         as order_count,
       sum(total_minor)::numeric        as revenue_minor
  from sales_orders
 group by customer_id, currency;

-- per (region, currency) over all time; see 0003.
create view sales_by_region as
select customer_region                  as region,
       currency,
       sum(total_minor)::numeric        as revenue_minor,
       count(*)                         as order_count,
       count(distinct customer_id)      as customer_count
  from sales_orders
 group by customer_region, currency;

-- per (sku, currency, month); see 0003.
create view product_performance_monthly as
select i.sku,
       i.currency,
       i.month,
       n.name,
       count(distinct i.order_id)       as order_count,
       sum(i.quantity)::numeric         as units_sold,
       sum(i.line_total_minor)::numeric as revenue_minor
  from sales_items i
  join product_names n on n.sku = i.sku
 group by i.sku, i.currency, i.month, n.name;

-- per (sku, currency) over all time; see 0003.
create view product_performance as
select i.sku,
       i.currency,
       n.name,
       count(distinct i.order_id)       as order_count,
       sum(i.quantity)::numeric         as units_sold,
       sum(i.line_total_minor)::numeric as revenue_minor
  from sales_items i
  join product_names n on n.sku = i.sku
 group by i.sku, i.currency, n.name;

grant select on
    monthly_sales_by_segment,
    top_customers,
    sales_by_region,
    product_performance_monthly,
    product_performance
to reporting;
