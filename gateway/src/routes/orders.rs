//! `/api/v1/orders/{id}` and its life-cycle actions (ship, deliver, cancel). Placing an order is
//! under its customer (`/customers/{id}/orders`).

use axum::{Json, extract::State, response::IntoResponse};
use cqrsplus_domain::order::CancelReason;
use cqrsplus_proto::{command::v1 as cmd, query::v1 as q};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::{Caller, MaybeCaller},
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery, CommandHeaders},
    grpc::{self, Money, money, optional_timestamp},
    routes::{
        customers::MinVersion,
        reply::{self, Accepted, CommandHeaderDocs, CommandReply, with_etag},
    },
    startup::AppState,
    validate::Violations,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_order))
        .routes(routes!(ship_order))
        .routes(routes!(deliver_order))
        .routes(routes!(cancel_order))
}

/// Where an order is: placed → shipped → delivered, or placed → cancelled.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Shipped,
    Delivered,
    Cancelled,
    /// Not known to this gateway (a newer query-service).
    Unknown,
}

/// The statuses a list of orders can be narrowed to: the real ones, without `unknown`, which
/// only describes an answer (as a filter it would silently mean "any status").
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatusFilter {
    Placed,
    Shipped,
    Delivered,
    Cancelled,
}

impl From<OrderStatusFilter> for q::OrderStatus {
    fn from(s: OrderStatusFilter) -> Self {
        match s {
            OrderStatusFilter::Placed => q::OrderStatus::Placed,
            OrderStatusFilter::Shipped => q::OrderStatus::Shipped,
            OrderStatusFilter::Delivered => q::OrderStatus::Delivered,
            OrderStatusFilter::Cancelled => q::OrderStatus::Cancelled,
        }
    }
}

impl From<q::OrderStatus> for OrderStatus {
    fn from(s: q::OrderStatus) -> Self {
        match s {
            q::OrderStatus::Placed => OrderStatus::Placed,
            q::OrderStatus::Shipped => OrderStatus::Shipped,
            q::OrderStatus::Delivered => OrderStatus::Delivered,
            q::OrderStatus::Cancelled => OrderStatus::Cancelled,
            q::OrderStatus::Unspecified => OrderStatus::Unknown,
        }
    }
}

/// One line of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: u32,
    /// unit_price × quantity.
    pub line_total: Money,
}

/// An order as the read model has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub order_id: String,
    pub customer_id: String,
    /// Empty while the customer has not reached the read model yet.
    pub customer_name: String,
    pub status: OrderStatus,
    pub currency: String,
    pub items: Vec<OrderLine>,
    pub total: Money,
    pub placed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The order's version this reflects.
    pub version: u64,
}

impl From<q::Order> for Order {
    fn from(o: q::Order) -> Self {
        Self {
            status: o.status().into(),
            placed_at: optional_timestamp(o.placed_at.as_ref()).unwrap_or_default(),
            shipped_at: optional_timestamp(o.shipped_at.as_ref()),
            delivered_at: optional_timestamp(o.delivered_at.as_ref()),
            cancelled_at: optional_timestamp(o.cancelled_at.as_ref()),
            items: o
                .items
                .into_iter()
                .map(|i| OrderLine {
                    sku: i.sku,
                    name: i.name,
                    unit_price: money(i.unit_price),
                    quantity: i.quantity,
                    line_total: money(i.line_total),
                })
                .collect(),
            total: money(o.total),
            order_id: o.order_id,
            customer_id: o.customer_id,
            customer_name: o.customer_name,
            currency: o.currency,
            cancel_reason: o.cancel_reason,
            version: o.version,
        }
    }
}

/// A page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub next_page_token: String,
    pub total_size: u64,
}

/// Reads one order with its items.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", security((), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "order id"), MinVersion),
    responses((status = OK, body = Order)))]
#[tracing::instrument(skip_all, fields(order_id = %id))]
async fn get_order(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<MinVersion>,
) -> Result<impl IntoResponse, ApiError> {
    let id = id.to_string();
    let message = q::GetOrderRequest {
        consistency: grpc::token(&id, params.min_version),
        order_id: id,
    };
    let order = state
        .queries
        .clone()
        .get_order(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner()
        .order
        .ok_or_else(|| ApiError::internal("GetOrder reply without an order"))?;
    let order = Order::from(order);
    Ok(with_etag(order.version, Json(order)))
}

/// Ships a placed order (422 in any other status).
#[utoipa::path(post, path = "/orders/{id}/ship", tag = "orders",
    params(("id" = Uuid, Path, description = "order id"), CommandHeaderDocs),
    security(("bearer" = [])), responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(order_id = %id, actor = %caller.subject))]
async fn ship_order(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Accepted, ApiError> {
    let request = cmd::ShipOrderRequest {
        options: reply::options(&headers),
        order_id: id.to_string(),
    };
    let result = state
        .commands
        .clone()
        .ship_order(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}

/// Marks a shipped order delivered (422 in any other status).
#[utoipa::path(post, path = "/orders/{id}/deliver", tag = "orders",
    params(("id" = Uuid, Path, description = "order id"), CommandHeaderDocs),
    security(("bearer" = [])), responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(order_id = %id, actor = %caller.subject))]
async fn deliver_order(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Accepted, ApiError> {
    let request = cmd::DeliverOrderRequest {
        options: reply::options(&headers),
        order_id: id.to_string(),
    };
    let result = state
        .commands
        .clone()
        .deliver_order(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}

/// Why an order is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelOrder {
    /// Not blank, at most 500 characters, no control characters but newline and tab.
    pub reason: String,
}

/// Cancels a placed order (422 once shipped).
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders", request_body = CancelOrder,
    params(("id" = Uuid, Path, description = "order id"), CommandHeaderDocs),
    security(("bearer" = [])), responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(order_id = %id, actor = %caller.subject))]
async fn cancel_order(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CancelOrder>,
) -> Result<Accepted, ApiError> {
    let mut v = Violations::new();
    let reason = v.take(CancelReason::parse(&body.reason));
    v.finish()?;
    let request = cmd::CancelOrderRequest {
        options: reply::options(&headers),
        order_id: id.to_string(),
        reason: reason.map(CancelReason::into_string).unwrap_or_default(),
    };
    let result = state
        .commands
        .clone()
        .cancel_order(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}
