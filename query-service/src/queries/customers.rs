//! Customers and their orders as the query contract shows them: ListCustomers, GetCustomer,
//! ListCustomerOrders and GetOrder over `customers`, `orders`, `order_items` and
//! `customer_orders`.
//!
//! Orders and customers arrive on different topics in any order, so an order may be here before
//! its customer: a customer's order list is then simply empty or nameless, never an error. Each
//! RPC is a query struct: `parse` validates the whole request first, `run` reads. Must not depend
//! on tonic services, Kafka or the projector.

use std::collections::HashMap;

use cqrsplus_domain::customer::{Region, Segment};

use cqrsplus_proto::{
    common::v1::Money,
    query::v1::{self as pb, OrderStatus},
};
use serde::{Deserialize, Serialize};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{paging, parse_id, timestamp};
use crate::error::ServiceError;

/// A page and its `total_size` are read in one snapshot, so they agree.
const SNAPSHOT: &str = "begin transaction isolation level repeatable read, read only";

#[derive(sqlx::FromRow)]
struct CustomerRow {
    customer_id: Uuid,
    name: String,
    email: String,
    phone: Option<String>,
    segment: String,
    region: String,
    registered_at: OffsetDateTime,
    updated_at: Option<OffsetDateTime>,
    version: i64,
}

impl From<CustomerRow> for pb::Customer {
    fn from(row: CustomerRow) -> Self {
        pb::Customer {
            customer_id: row.customer_id.to_string(),
            name: row.name,
            email: row.email,
            phone: row.phone,
            segment: row.segment,
            region: row.region,
            registered_at: Some(timestamp(row.registered_at)),
            updated_at: row.updated_at.map(timestamp),
            version: u64::try_from(row.version).unwrap_or_default(),
        }
    }
}

const CUSTOMER_COLUMNS: &str =
    "customer_id, name, email, phone, segment, region, registered_at, updated_at, version";

/// A filter such as segment or region: absent means any; present, it must pass the domain's rule
/// for that field (`parse`), so a value no customer can have is refused, not searched for.
fn optional_filter<T: Into<String>>(
    field: &'static str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, cqrsplus_domain::FieldError>,
) -> Result<Option<String>, ServiceError> {
    value
        .map(|v| parse(v).map(Into::into))
        .transpose()
        .map_err(|e| ServiceError::refused(field, e))
}

// ListCustomers ------------------------------------------------------------------------------------

/// Where a ListCustomers page continues: the last customer's name and id.
#[derive(Serialize, Deserialize)]
struct CustomerKey {
    name: String,
    id: Uuid,
}

/// A validated ListCustomers request.
pub struct ListCustomers {
    segment: Option<String>,
    region: Option<String>,
    page_size: u32,
    after: Option<CustomerKey>,
    fingerprint: String,
}

impl ListCustomers {
    pub fn parse(req: &pb::ListCustomersRequest) -> Result<Self, ServiceError> {
        let segment = optional_filter("segment", req.segment.as_deref(), Segment::parse)?;
        let region = optional_filter("region", req.region.as_deref(), Region::parse)?;
        let fingerprint = format!("customers|{segment:?}|{region:?}");
        Ok(Self {
            page_size: paging::page_size(req.page_size),
            after: paging::decode("page_token", &fingerprint, &req.page_token)?,
            segment,
            region,
            fingerprint,
        })
    }

    fn push_filters(&self, query: &mut QueryBuilder<Postgres>) {
        query.push(" from customers where true");
        if let Some(segment) = &self.segment {
            query.push(" and segment = ").push_bind(segment.clone());
        }
        if let Some(region) = &self.region {
            query.push(" and region = ").push_bind(region.clone());
        }
    }

    pub async fn run(self, pool: &PgPool) -> Result<pb::ListCustomersResponse, ServiceError> {
        let mut count = QueryBuilder::new("select count(*)");
        self.push_filters(&mut count);

        let mut select = QueryBuilder::new("select ");
        select.push(CUSTOMER_COLUMNS);
        self.push_filters(&mut select);
        if let Some(key) = &self.after {
            select
                .push(" and (name, customer_id) > (")
                .push_bind(key.name.clone())
                .push(", ")
                .push_bind(key.id)
                .push(")");
        }
        select
            .push(" order by name, customer_id limit ")
            .push_bind(i64::from(self.page_size) + 1);

        let mut tx = pool.begin_with(SNAPSHOT).await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let rows: Vec<CustomerRow> = select.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;

        let (rows, next_page_token) =
            paging::split_page(rows, self.page_size, &self.fingerprint, |row| CustomerKey {
                name: row.name.clone(),
                id: row.customer_id,
            });
        Ok(pb::ListCustomersResponse {
            customers: rows.into_iter().map(pb::Customer::from).collect(),
            next_page_token,
            total_size: u64::try_from(total).unwrap_or_default(),
        })
    }
}

// GetCustomer --------------------------------------------------------------------------------------

/// A validated GetCustomer request.
pub struct GetCustomer {
    customer_id: Uuid,
}

impl GetCustomer {
    pub fn parse(req: &pb::GetCustomerRequest) -> Result<Self, ServiceError> {
        Ok(Self {
            customer_id: parse_id("customer_id", &req.customer_id)?,
        })
    }

    pub async fn run(self, pool: &PgPool) -> Result<pb::GetCustomerResponse, ServiceError> {
        let mut select = QueryBuilder::new("select ");
        select
            .push(CUSTOMER_COLUMNS)
            .push(" from customers where customer_id = ")
            .push_bind(self.customer_id);
        let row: Option<CustomerRow> = select.build_query_as().fetch_optional(pool).await?;
        let row = row.ok_or_else(|| {
            ServiceError::NotFound(format!("customer {} not found", self.customer_id))
        })?;
        Ok(pb::GetCustomerResponse {
            customer: Some(row.into()),
        })
    }
}

// Orders -------------------------------------------------------------------------------------------

/// The customer's name comes from the denormalized row when the projector has filled it, else
/// from the customer itself; empty while neither has arrived.
const ORDER_SELECT: &str = "select o.order_id, o.customer_id, \
     coalesce(co.customer_name, c.name, '') as customer_name, o.status, \
     o.currency::text as currency, o.total_minor, o.placed_at, o.shipped_at, o.delivered_at, \
     o.cancelled_at, o.cancel_reason, o.version \
     from orders o \
     left join customer_orders co on co.order_id = o.order_id \
     left join customers c on c.customer_id = o.customer_id";

#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    customer_id: Uuid,
    customer_name: String,
    status: String,
    currency: String,
    total_minor: i64,
    placed_at: OffsetDateTime,
    shipped_at: Option<OffsetDateTime>,
    delivered_at: Option<OffsetDateTime>,
    cancelled_at: Option<OffsetDateTime>,
    cancel_reason: Option<String>,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    order_id: Uuid,
    sku: String,
    name: String,
    unit_price_minor: i64,
    quantity: i32,
    line_total_minor: i64,
}

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: currency.to_owned(),
    })
}

fn order_status(status: &str) -> OrderStatus {
    match status {
        "placed" => OrderStatus::Placed,
        "shipped" => OrderStatus::Shipped,
        "delivered" => OrderStatus::Delivered,
        "cancelled" => OrderStatus::Cancelled,
        // The table's check constraint admits only the four above.
        _ => OrderStatus::Unspecified,
    }
}

/// The `orders.status` text a status filter selects; `None` for "any status".
fn status_filter(status: i32) -> Result<Option<&'static str>, ServiceError> {
    match OrderStatus::try_from(status) {
        Ok(OrderStatus::Unspecified) => Ok(None),
        Ok(OrderStatus::Placed) => Ok(Some("placed")),
        Ok(OrderStatus::Shipped) => Ok(Some("shipped")),
        Ok(OrderStatus::Delivered) => Ok(Some("delivered")),
        Ok(OrderStatus::Cancelled) => Ok(Some("cancelled")),
        Err(_) => Err(ServiceError::invalid(
            "status",
            format!("{status} is not an OrderStatus"),
        )),
    }
}

/// The orders with their items, which are read in one statement for the whole page.
async fn with_items(
    executor: impl PgExecutor<'_>,
    rows: Vec<OrderRow>,
) -> Result<Vec<pb::Order>, ServiceError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.order_id).collect();
    let items: Vec<ItemRow> = sqlx::query_as(
        "select order_id, sku, name, unit_price_minor, quantity, line_total_minor \
         from order_items where order_id = any($1) order by order_id, line_no",
    )
    .bind(&ids)
    .fetch_all(executor)
    .await?;
    let mut by_order: HashMap<Uuid, Vec<ItemRow>> = HashMap::with_capacity(ids.len());
    for item in items {
        by_order.entry(item.order_id).or_default().push(item);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let items = by_order.remove(&row.order_id).unwrap_or_default();
            order(row, items)
        })
        .collect())
}

fn order(row: OrderRow, items: Vec<ItemRow>) -> pb::Order {
    let currency = row.currency.trim();
    pb::Order {
        order_id: row.order_id.to_string(),
        customer_id: row.customer_id.to_string(),
        customer_name: row.customer_name,
        status: order_status(&row.status).into(),
        items: items
            .into_iter()
            .map(|item| pb::OrderItem {
                sku: item.sku,
                name: item.name,
                unit_price: money(item.unit_price_minor, currency),
                quantity: u32::try_from(item.quantity).unwrap_or_default(),
                line_total: money(item.line_total_minor, currency),
            })
            .collect(),
        total: money(row.total_minor, currency),
        currency: currency.to_owned(),
        placed_at: Some(timestamp(row.placed_at)),
        shipped_at: row.shipped_at.map(timestamp),
        delivered_at: row.delivered_at.map(timestamp),
        cancelled_at: row.cancelled_at.map(timestamp),
        cancel_reason: row.cancel_reason,
        version: u64::try_from(row.version).unwrap_or_default(),
    }
}

// ListCustomerOrders -------------------------------------------------------------------------------

/// Where a ListCustomerOrders page continues: the last order's placement time and id.
#[derive(Serialize, Deserialize)]
struct OrderKey {
    #[serde(with = "time::serde::rfc3339")]
    t: OffsetDateTime,
    id: Uuid,
}

/// A validated ListCustomerOrders request.
pub struct ListCustomerOrders {
    customer_id: Uuid,
    status: Option<&'static str>,
    page_size: u32,
    after: Option<OrderKey>,
    fingerprint: String,
}

impl ListCustomerOrders {
    pub fn parse(req: &pb::ListCustomerOrdersRequest) -> Result<Self, ServiceError> {
        let customer_id = parse_id("customer_id", &req.customer_id)?;
        let status = status_filter(req.status)?;
        let fingerprint = format!("customer_orders|{customer_id}|{status:?}");
        Ok(Self {
            customer_id,
            status,
            page_size: paging::page_size(req.page_size),
            after: paging::decode("page_token", &fingerprint, &req.page_token)?,
            fingerprint,
        })
    }

    pub async fn run(self, pool: &PgPool) -> Result<pb::ListCustomerOrdersResponse, ServiceError> {
        let mut count = QueryBuilder::new("select count(*) from orders o where o.customer_id = ");
        count.push_bind(self.customer_id);
        if let Some(status) = self.status {
            count.push(" and o.status = ").push_bind(status);
        }

        let mut select = QueryBuilder::new(ORDER_SELECT);
        select
            .push(" where o.customer_id = ")
            .push_bind(self.customer_id);
        if let Some(status) = self.status {
            select.push(" and o.status = ").push_bind(status);
        }
        if let Some(key) = &self.after {
            select
                .push(" and (o.placed_at, o.order_id) < (")
                .push_bind(key.t)
                .push(", ")
                .push_bind(key.id)
                .push(")");
        }
        select
            .push(" order by o.placed_at desc, o.order_id desc limit ")
            .push_bind(i64::from(self.page_size) + 1);

        let mut tx = pool.begin_with(SNAPSHOT).await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let rows: Vec<OrderRow> = select.build_query_as().fetch_all(&mut *tx).await?;
        let (rows, next_page_token) =
            paging::split_page(rows, self.page_size, &self.fingerprint, |row| OrderKey {
                t: row.placed_at,
                id: row.order_id,
            });
        let orders = with_items(&mut *tx, rows).await?;
        tx.commit().await?;

        Ok(pb::ListCustomerOrdersResponse {
            orders,
            next_page_token,
            total_size: u64::try_from(total).unwrap_or_default(),
        })
    }
}

// GetOrder -----------------------------------------------------------------------------------------

/// A validated GetOrder request.
pub struct GetOrder {
    order_id: Uuid,
}

impl GetOrder {
    pub fn parse(req: &pb::GetOrderRequest) -> Result<Self, ServiceError> {
        Ok(Self {
            order_id: parse_id("order_id", &req.order_id)?,
        })
    }

    pub async fn run(self, pool: &PgPool) -> Result<pb::GetOrderResponse, ServiceError> {
        let mut select = QueryBuilder::new(ORDER_SELECT);
        select.push(" where o.order_id = ").push_bind(self.order_id);
        // Items are written with their order and never change, so no snapshot is needed.
        let row: Option<OrderRow> = select.build_query_as().fetch_optional(pool).await?;
        let row = row
            .ok_or_else(|| ServiceError::NotFound(format!("order {} not found", self.order_id)))?;
        let order = with_items(pool, vec![row]).await?.pop();
        Ok(pb::GetOrderResponse { order })
    }
}
